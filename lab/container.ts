// One lab host as a booted container: its overlay root, its own cgroup, systemd as
// PID 1 under systemd-nspawn, and the commands the lab runs inside it. The machine
// needs no systemd of its own: nspawn runs with --register=no --keep-unit, and the
// supervisor script (host/container-supervise.sh) plays systemd-nspawn@.service.
import * as fs from "fs";
import * as path from "path";
import { hostPaths, labPaths } from "./paths";
import { runAsync, spawnDetached, sleep, tryRun } from "./shell";
import { isAlive } from "./procfs";
import { NSPAWN } from "./packages";

const SUPERVISOR = path.join(__dirname, "host", "container-supervise.sh");
/** A root login's environment inside a host; nsenter would pass the lab CLI's own. */
const ROOT_ENV = ["env", "-i", "HOME=/root", "LANG=C.UTF-8", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];
const BOOT_TIMEOUT_S = 120;

export interface ContainerSpec {
  labDir: string;
  name: string;
  baseRoot: string;
  /** Host paths bind-mounted read-only at a path inside: [source, target]. */
  readOnlyBinds: Array<[string, string]>;
}

/**
 * The mounted cgroup hierarchies a container must be placed in: cgroup2 alone on a
 * unified machine; on a hybrid one (v1 controllers, cgroup2 at unified/) both the
 * cgroup2 tree and v1's name=systemd tree, which nspawn reads its own cgroup from.
 */
export function cgroupRoots(): string[] {
  if (fs.existsSync("/sys/fs/cgroup/cgroup.controllers")) return ["/sys/fs/cgroup"];
  const roots = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"].filter((d) => fs.existsSync(path.join(d, "cgroup.procs")));
  if (roots.length === 0) throw new Error("cannot boot lab hosts: no cgroup2 or name=systemd hierarchy is mounted under /sys/fs/cgroup");
  return roots;
}

export function hostCgroups(labDir: string, name: string): string[] {
  return cgroupRoots().map((r) => path.join(r, labPaths(labDir).cgroupName, name));
}

/** Lays the host's writable layer over the shared base; its disk survives reboots. */
export function mountRoot(spec: ContainerSpec): void {
  const hp = hostPaths(spec.labDir, spec.name);
  for (const d of [hp.upper, hp.work, hp.root]) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
  if (tryRun("mountpoint", ["-q", hp.root]).code === 0) return;
  const r = tryRun("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${spec.baseRoot},upperdir=${hp.upper},workdir=${hp.work}`, hp.root]);
  if (r.code !== 0) throw new Error(`${spec.name}: cannot mount its overlay root (needs the overlay file system): ${r.stderr.trim()}`);
}

/** Boots the host (returns once systemd inside reports the boot finished). */
export async function boot(spec: ContainerSpec): Promise<void> {
  startContainer(spec);
  await waitBooted(spec.labDir, spec.name);
}

/** Starts the host's container under its supervisor, without waiting for the boot. */
export function startContainer(spec: ContainerSpec): void {
  const hp = hostPaths(spec.labDir, spec.name);
  const cgroups = hostCgroups(spec.labDir, spec.name);
  for (const cg of cgroups) fs.mkdirSync(cg, { recursive: true });
  const nspawnArgs = [
    NSPAWN, "--boot", "--register=no", "--keep-unit", "-D", hp.root, `--machine=${spec.name}`,
    "--link-journal=no", "--console=read-only", "--resolv-conf=copy-host", "--timezone=off", "--suppress-sync=yes",
    ...spec.readOnlyBinds.map(([from, to]) => `--bind-ro=${from}:${to}`),
  ];
  fs.rmSync(hp.nspawnPid, { force: true });
  // A container of its own cgroup2 tree: the same layout on hybrid and unified machines.
  const pid = spawnDetached("env", ["SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1", "/bin/bash", SUPERVISOR, hp.dir, ...cgroups, "--", ...nspawnArgs], hp.consoleLog);
  fs.writeFileSync(hp.supervisorPid, `${pid}\n`);
  // The supervisor joins the lab's cgroup too, so `down` finds it whatever became of its pid file.
  for (const root of cgroupRoots()) {
    const dir = path.join(root, labPaths(spec.labDir).cgroupName, "supervisors");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "cgroup.procs"), `${pid}\n`);
  }
}

/** The container's PID 1 (systemd), as this machine numbers it, or 0 while there is none. */
export function leaderPid(labDir: string, name: string): number {
  let nspawn = 0;
  try {
    nspawn = Number(fs.readFileSync(hostPaths(labDir, name).nspawnPid, "utf8").trim());
  } catch {
    return 0;
  }
  if (!isAlive(nspawn)) return 0;
  // nspawn is a subreaper whose one child is the container's init.
  for (const task of safeList(`/proc/${nspawn}/task`)) {
    const children = readOr(`/proc/${nspawn}/task/${task}/children`, "").trim().split(/\s+/).filter(Boolean).map(Number);
    for (const child of children) if (readOr(`/proc/${child}/status`, "").match(/^NSpid:\s+\d+\s+1$/m)) return child;
  }
  return 0;
}

/** Waits for systemd in the host to finish booting; a failed boot names what failed. */
export async function waitBooted(labDir: string, name: string, timeoutS = BOOT_TIMEOUT_S): Promise<void> {
  const hp = hostPaths(labDir, name);
  const deadline = Date.now() + timeoutS * 1000;
  let leader = 0;
  while (!(leader = leaderPid(labDir, name))) {
    const supervisor = Number(readOr(hp.supervisorPid, "0"));
    if (!isAlive(supervisor) || Date.now() > deadline) throw new Error(`${name}: the container did not start (${NSPAWN}): ${consoleTail(labDir, name)}`);
    await sleep(50);
  }
  let state = "";
  // Until systemd listens on its private socket, systemctl cannot ask it (and prints nothing).
  while (!state || state === "offline") {
    if (Date.now() > deadline) break;
    const left = Math.max(1, Math.round((deadline - Date.now()) / 1000));
    state = (await runAsyncResult("nsenter", ["-t", String(leader), "-a", "--", ...ROOT_ENV, "timeout", String(left), "systemctl", "is-system-running", "--wait"])).trim();
    if (!state) await sleep(100);
  }
  if (state === "running") return;
  const failed = tryRun("nsenter", ["-t", String(leader), "-a", "--", ...ROOT_ENV, "systemctl", "--failed", "--no-legend", "--plain"]).stdout.trim();
  throw new Error(`${name}: booted to '${state || "no answer"}' instead of 'running'` + (failed ? `; failed units: ${failed.replace(/\n/g, "; ")}` : `: ${consoleTail(labDir, name)}`));
}

/** Runs a command inside the host as root (all its namespaces). */
export function inHost(labDir: string, name: string, args: string[], input?: string): Promise<string> {
  const leader = leaderPid(labDir, name);
  if (!leader) return Promise.reject(new Error(`${name}: the host is not running (see ${hostPaths(labDir, name).consoleLog})`));
  return runAsync("nsenter", ["-t", String(leader), "-a", "--", ...ROOT_ENV, ...args], { input });
}

/** Powers the host off (as `systemctl poweroff` would) and waits until its container is gone. */
export async function powerOff(labDir: string, name: string): Promise<void> {
  const hp = hostPaths(labDir, name);
  const supervisor = Number(readOr(hp.supervisorPid, "0"));
  if (isAlive(supervisor)) process.kill(supervisor, "SIGTERM");
  for (let i = 0; i < 300 && isAlive(supervisor); i++) await sleep(50);
  // A container that does not halt in 15 s is pulled: its cgroup is emptied.
  if (isAlive(supervisor)) await killCgroupTree(path.join(cgroupRoots()[0], labPaths(labDir).cgroupName, name));
  fs.rmSync(hp.supervisorPid, { force: true });
}

/** Every process in a cgroup and below it. */
export function cgroupPids(dir: string): number[] {
  const pids = readOr(path.join(dir, "cgroup.procs"), "").split("\n").filter(Boolean).map(Number);
  for (const entry of safeList(dir, true)) pids.push(...cgroupPids(path.join(dir, entry)));
  return pids;
}

/** SIGKILLs everything in a cgroup tree until it is empty, then removes the tree. */
export async function killCgroupTree(dir: string): Promise<number> {
  let killed = 0;
  for (let round = 0; round < 100; round++) {
    const pids = cgroupPids(dir).filter((p) => p !== process.pid);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
        if (round === 0) killed++;
      } catch {
        // gone already
      }
    }
    await sleep(50);
  }
  const left = cgroupPids(dir);
  if (left.length) throw new Error(`could not stop lab processes ${left.join(", ")} in ${dir}`);
  removeCgroupDirs(dir);
  return killed;
}

function removeCgroupDirs(dir: string): void {
  for (const entry of safeList(dir, true)) removeCgroupDirs(path.join(dir, entry));
  try {
    fs.rmdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
}

/** Memory the host uses now: the proportional set size of every process in its cgroup. */
export function hostMemoryKb(labDir: string, name: string): number {
  let kb = 0;
  for (const pid of cgroupPids(path.join(cgroupRoots()[0], labPaths(labDir).cgroupName, name))) {
    const m = readOr(`/proc/${pid}/smaps_rollup`, "").match(/^Pss:\s+(\d+) kB/m);
    if (m) kb += Number(m[1]);
  }
  return kb;
}

export function consoleTail(labDir: string, name: string, lines = 6): string {
  const text = readOr(hostPaths(labDir, name).consoleLog, "(no console output)");
  // Colour codes from systemd's status lines make a log unreadable in an error.
  return text.replace(/\x1b\[[0-9;]*m/g, "").trim().split("\n").slice(-lines).join(" | ");
}

/** stdout of a command whatever its exit status (is-system-running exits 1 unless running). */
function runAsyncResult(cmd: string, args: string[]): Promise<string> {
  return runAsync(cmd, args).catch((e: Error & { stdout?: string }) => e.stdout ?? "");
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return fallback;
  }
}

function safeList(dir: string, dirsOnly = false): string[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => !dirsOnly || e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}
