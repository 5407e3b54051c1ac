// One lab host: its directories and keys, its mount namespace, its sshd, its
// app. Everything here is per host so `up` can run hosts in parallel.
import * as fs from "fs";
import * as net from "net";
import * as http from "http";
import * as path from "path";
import { hostPaths, labPaths, HostPaths } from "./paths";
import { generateHostKey, publicKeyLine } from "./keys";
import { sshdConfig } from "./sshdConfig";
import { runAsync, spawnDetached, sleep } from "./shell";
import { isAlive, liveProcessName } from "./procfs";

const HOLDER_SCRIPT = path.join(__dirname, "host", "namespace-holder.sh");
/** The environment a login as rachel has on Debian (sshd's default user PATH). */
const RACHEL_ENV = ["env", "-i", "HOME=/home/rachel", "USER=rachel", "LOGNAME=rachel", "SHELL=/bin/bash", "LANG=C.UTF-8", "PATH=/usr/local/bin:/usr/bin:/bin"];
const AS_RACHEL = ["setpriv", "--reuid=rachel", "--regid=rachel", "--init-groups", ...RACHEL_ENV];

export interface HostSpec {
  labDir: string;
  name: string;
  address: string;
  rachelUid: number;
  rachelGid: number;
}

/** Lays out the host's directories and keys; returns its pinned public key. */
export async function prepareHostFiles(spec: HostSpec, fleetPublicKey: string): Promise<string> {
  const hp = hostPaths(spec.labDir, spec.name);
  for (const dir of [hp.dir, hp.sshDir, hp.run, path.join(hp.run, "sshd"), path.join(hp.run, "rachel8"), path.join(hp.run, "lab"), hp.varLog]) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  }
  fs.mkdirSync(hp.tmp, { recursive: true });
  fs.chmodSync(hp.tmp, 0o1777);
  // A fresh Debian account's home: /etc/skel, owned by the user, 0700 as adduser makes it.
  fs.cpSync("/etc/skel", hp.home, { recursive: true });
  // The lab's origin is a local path owned by root; a real VPS pulls over the
  // network instead, where git's ownership check does not apply.
  fs.writeFileSync(path.join(hp.home, ".gitconfig"), `[safe]\n\tdirectory = ${labPaths(spec.labDir).originRepo}\n`);
  fs.chmodSync(hp.home, 0o700);
  chownTree(hp.home, spec.rachelUid, spec.rachelGid);
  // rachel must be able to claim (delete) the one-shot drop marker.
  const faultDir = path.join(hp.run, "lab", "faults");
  fs.mkdirSync(faultDir, { recursive: true, mode: 0o755 });
  fs.chownSync(faultDir, spec.rachelUid, spec.rachelGid);
  fs.writeFileSync(path.join(hp.run, "lab", "host.env"), `HOST=${spec.address}\nNAME=${spec.name}\n`);

  await generateHostKey(hp.hostKey);
  fs.writeFileSync(hp.authorizedKeys, fleetPublicKey.trim() + "\n", { mode: 0o644 });
  writeSshdConfig(hp, spec.address, hp.sshdConfig, hp.hostKey);
  return publicKeyLine(hp.hostKey + ".pub");
}

export function writeSshdConfig(hp: HostPaths, address: string, file: string, hostKey: string): void {
  const text = sshdConfig({ listenAddress: address, hostKey, pidFile: "/run/sshd.pid", authorizedKeysFile: hp.authorizedKeys });
  fs.writeFileSync(file, text);
}

function chownTree(dir: string, uid: number, gid: number): void {
  fs.chownSync(dir, uid, gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(p, uid, gid);
    else fs.lchownSync(p, uid, gid);
  }
}

export function holderPid(labDir: string, name: string): number {
  const pid = Number(fs.readFileSync(hostPaths(labDir, name).holderPid, "utf8").trim());
  if (!isAlive(pid)) throw new Error(`${name}: its namespace holder (pid ${pid}) is gone; run: npm run lab -- up`);
  return pid;
}

/** Starts the host's private mount namespace and waits until its mounts are in place. */
export async function startNamespace(spec: HostSpec): Promise<void> {
  const hp = hostPaths(spec.labDir, spec.name);
  fs.rmSync(hp.holderPid, { force: true });
  const pid = spawnDetached(
    "unshare",
    ["--mount", "--propagation", "private", "--", "/bin/bash", HOLDER_SCRIPT, hp.dir, labPaths(spec.labDir).usrLocal, labPaths(spec.labDir).mountLabel],
    hp.holderLog,
  );
  for (let i = 0; i < 100; i++) {
    if (fs.existsSync(hp.holderPid)) return;
    if (!isAlive(pid)) break;
    await sleep(50);
  }
  throw new Error(`${spec.name}: mount namespace did not come up: ${readTail(hp.holderLog)}`);
}

/** Runs a command inside the host (its mount namespace), as root. */
export function inHost(labDir: string, name: string, args: string[]): Promise<string> {
  return runAsync("nsenter", ["-t", String(holderPid(labDir, name)), "-m", "--", ...args]);
}

/** Runs a command inside the host as rachel, with a login's environment. */
export function inHostAsRachel(labDir: string, name: string, script: string): Promise<string> {
  return inHost(labDir, name, [...AS_RACHEL, "/bin/bash", "-c", script]);
}

/** The initial deploy a fresh VPS would have had: clone, check out v1, install. */
export async function provisionApp(spec: HostSpec, originRepo: string, tag: string): Promise<void> {
  await inHostAsRachel(
    spec.labDir,
    spec.name,
    `set -e; git clone -q '${originRepo}' /home/rachel/rachel; cd /home/rachel/rachel; ` +
      `git -c advice.detachedHead=false checkout -q '${tag}'; bun install --silent`,
  );
}

export async function startSshd(labDir: string, name: string, address: string, config: string): Promise<void> {
  const hp = hostPaths(labDir, name);
  // nsenter execs sshd in place, so the spawned pid is sshd's own.
  const pid = spawnDetached("nsenter", ["-t", String(holderPid(labDir, name)), "-m", "--", "/usr/sbin/sshd", "-D", "-f", config, "-E", hp.sshdLog]);
  fs.writeFileSync(hp.sshdPid, `${pid}\n`);
  for (let i = 0; i < 200; i++) {
    if (await canConnect(address, 22)) return;
    if (!isAlive(pid)) break;
    await sleep(25);
  }
  throw new Error(`${name}: sshd did not start listening on ${address}:22: ${readTail(hp.sshdLog)}`);
}

export async function stopSshd(labDir: string, name: string): Promise<void> {
  const hp = hostPaths(labDir, name);
  let pid = 0;
  try {
    pid = Number(fs.readFileSync(hp.sshdPid, "utf8").trim());
  } catch {
    return;
  }
  const isSshd = () => liveProcessName(pid) === "sshd";
  if (pid && isSshd()) {
    // Only the listener: like `systemctl stop ssh`, open sessions live on.
    process.kill(pid, "SIGTERM");
    for (let i = 0; i < 100 && isSshd(); i++) await sleep(20);
    if (isSshd()) process.kill(pid, "SIGKILL");
  }
  fs.rmSync(hp.sshdPid, { force: true });
}

export function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(500);
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
    socket.once("error", () => resolve(false));
  });
}

export function getHealth(address: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: address, port: 8080, path: "/health", timeout: 2000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

export async function waitHealthy(name: string, address: string, commit: string, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    try {
      const r = await getHealth(address);
      if (r.status === 200 && JSON.parse(r.body).commit === commit) return;
      last = `${r.status} ${r.body}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${name}: app never became healthy at http://${address}:8080/health (last: ${last})`);
}

function readTail(file: string): string {
  try {
    return fs.readFileSync(file, "utf8").trim().split("\n").slice(-5).join(" | ");
  } catch {
    return "(no log)";
  }
}
