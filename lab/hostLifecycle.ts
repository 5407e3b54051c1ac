// One lab host from disk to a running fleet member: its files, its container's
// boot, the app's first deploy, and the checks that it answers. Everything here is
// per host so `up` can make hosts in parallel.
import * as net from "net";
import * as http from "http";
import { inHost } from "./container";
import { LAB_USER, LAB_APP, APP_PORT } from "./hostFiles";
import { sleep } from "./shell";
import { lifecycleScript } from "../lifecycle/script";

/** A login's environment as rachel (sshd's default user PATH on Debian). */
const AS_RACHEL = ["runuser", "-u", LAB_USER, "--", "env", "-i", `HOME=/home/${LAB_USER}`, `USER=${LAB_USER}`, `LOGNAME=${LAB_USER}`,
  "SHELL=/bin/bash", "LANG=C.UTF-8", "PATH=/usr/local/bin:/usr/bin:/bin"];


/**
 * The first deploy a fresh VPS gets, as cloud-init gives it: the fleet's lifecycle script
 * prepares the release in its own directory and points the app directory at it; then
 * the unit is enabled and started.
 */
export async function provisionApp(labDir: string, name: string, originRepo: string, commit: string): Promise<void> {
  await inHost(labDir, name, [...AS_RACHEL, "sh", "-s", "--", "provision", originRepo, commit], lifecycleScript(LAB_APP).text);
  await inHost(labDir, name, ["systemctl", "enable", "--now", "--quiet", LAB_APP.service]);
}

/**
 * The layout before release directories: a plain git checkout at the app directory, the
 * service restarted in it. For the migration tests; run over the host's own SSH as rachel.
 */
export const PLAIN_CHECKOUT_SCRIPT = (originRepo: string, commit: string) =>
  `set -e; sudo -n systemctl is-active ${LAB_APP.service} >/dev/null; rm -rf ~/releases ~/.rachel-fleet ${LAB_APP.appDir}; ` +
  `git clone -q '${originRepo}' ${LAB_APP.appDir}; cd ${LAB_APP.appDir}; ` +
  `git -c advice.detachedHead=false checkout -q ${commit}; bun install --silent; sudo -n systemctl restart ${LAB_APP.service}`;

/** SSH logins the host's sshd has accepted since it booted (its journal says). */
export async function sshLogins(labDir: string, name: string): Promise<number> {
  const out = await inHost(labDir, name, ["journalctl", "--boot", "-u", "ssh.service", "-o", "cat", "--no-pager"]);
  return (out.match(/Accepted publickey/g) ?? []).length;
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

export async function waitListening(name: string, host: string, port: number, timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await canConnect(host, port)) return;
    await sleep(100);
  }
  throw new Error(`${name}: nothing listens on ${host}:${port} after ${timeoutMs / 1000} s`);
}

export function getHealth(address: string): Promise<{ status: number; body: string }> {
  return getFromApp(address, "/health");
}

/** The names (never the values) of the variables the lab app's process sees. */
export async function envNamesOf(address: string): Promise<string[]> {
  const r = await getFromApp(address, "/env-names");
  if (r.status !== 200) throw new Error(`${address}: /env-names answered ${r.status}: ${r.body}`);
  return JSON.parse(r.body);
}

function getFromApp(address: string, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // agent: false: a pooled keep-alive socket to a host that went down would answer "socket hang up".
    const req = http.get({ host: address, port: APP_PORT, path: urlPath, timeout: 2000, agent: false }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

export async function waitHealthy(name: string, address: string, commit: string, timeoutMs = 30000): Promise<void> {
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
  throw new Error(`${name}: app never became healthy at http://${address}:${APP_PORT}/health (last: ${last})`);
}
