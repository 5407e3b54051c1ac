// `up`: builds a fresh lab of N booted Debian hosts, after clearing whatever an
// earlier lab in the same directory left behind.
import * as fs from "fs";
import * as path from "path";
import { labPaths, hostNames, hostAddress, MAX_HOSTS, REPO_ROOT } from "./paths";
import { requireRoot, ensurePackages } from "./packages";
import { teardownLab, otherLabUp } from "./teardown";
import { generateFleetKey } from "./keys";
import { buildOriginRepo } from "./releases";
import { ensureBaseImage } from "./baseImage";
import { writeFleetHost, BUN_INSIDE } from "./hostFiles";
import { hostMemoryKb, mountRoot, boot, ContainerSpec } from "./container";
import { provisionApp, waitHealthy, canConnect } from "./hostLifecycle";
import { mapLimit } from "./concurrency";
import { raiseInotifyLimit } from "./kernelLimits";
import { LabHost, LabState, writeFaultState } from "./labStatus";

export const BUN_BINARY = path.join(REPO_ROOT, "node_modules", "bun", "bin", "bun.exe");
const INITIAL_RELEASE = "v1";
/** Boots at once: systemd's start-up is CPU-bound, and this machine has 2 cores. */
const BOOT_PARALLEL = 4;

export async function upLab(count: number, log: (m: string) => void, labDir?: string): Promise<void> {
  requireRoot();
  if (!Number.isInteger(count) || count < 1 || count > MAX_HOSTS) throw new Error(`--hosts must be 1..${MAX_HOSTS} (127.0.1.1-254), got ${count}`);
  const p = labPaths(labDir);
  if (!fs.existsSync(BUN_BINARY)) throw new Error(`bun binary not found at ${BUN_BINARY}; run npm install (devDependency "bun")`);
  ensurePackages(log);
  const other = otherLabUp(p.labDir);
  if (other) throw new Error(`another lab is up at ${other} (it holds 127.0.1.x:22); stop it first: LAB_DIR=${other} npm run lab -- down`);

  const t0 = Date.now();
  const cleanup = await teardownLab(p.labDir);
  if (cleanup.killedProcesses || cleanup.unmounted.length) log(`cleared a previous lab: ${cleanup.killedProcesses} processes, ${cleanup.unmounted.length} mounts`);
  const names = hostNames(count);
  const busy = (await Promise.all(names.map((_, i) => canConnect(hostAddress(i), 22)))).findIndex(Boolean);
  if (busy >= 0) throw new Error(`${hostAddress(busy)}:22 is already taken by a process that is not this lab's`);
  const baseRoot = ensureBaseImage(log);

  fs.mkdirSync(p.labDir, { recursive: true });
  fs.chmodSync(p.labDir, 0o755);
  fs.mkdirSync(p.keysDir, { mode: 0o700 });
  fs.mkdirSync(p.hostsDir, { mode: 0o755 });
  generateFleetKey(p.privateKey);
  const releases = buildOriginRepo(p.originRepo, path.join(p.labDir, "release-work"));
  raiseInotifyLimit(p.labDir, count);
  const fleetPub = fs.readFileSync(p.privateKey + ".pub", "utf8");
  const tBoot = Date.now();

  const hosts: LabHost[] = await mapLimit(names, BOOT_PARALLEL, async (name, i) => {
    const address = hostAddress(i);
    const spec = labContainer(p.labDir, name, baseRoot);
    mountRoot(spec);
    const hostKey = writeFleetHost({ labDir: p.labDir, name, address, originRepo: p.originRepo }, fleetPub);
    await boot(spec);
    await provisionApp(p.labDir, name, p.originRepo, releases[INITIAL_RELEASE]);
    return { name, host: address, port: 22, user: "rachel", hostKey };
  });
  const booted = (Date.now() - tBoot) / 1000;
  const state: LabState = { releases, hosts, baseRoot };
  writeFaultState(p.labDir, {});
  fs.writeFileSync(p.stateFile, JSON.stringify(state, null, 2) + "\n");
  await Promise.all(hosts.map((h) => waitHealthy(h.name, h.host, releases[INITIAL_RELEASE])));
  const memoryMb = hosts.reduce((sum, h) => sum + hostMemoryKb(p.labDir, h.name), 0) / 1024 / count;
  log(`lab up: ${count} booted Debian hosts at 127.0.1.1-${count}:22, app ${INITIAL_RELEASE} healthy on all ` +
    `(${((Date.now() - t0) / 1000).toFixed(1)} s; boot and first deploy ${(booted / count).toFixed(2)} s per host, ${BOOT_PARALLEL} at a time; ` +
    `${memoryMb.toFixed(0)} MB per host)`);
}

/** How every lab host's container is run: the shared base, bun and the lab's origin bound in read-only. */
export function labContainer(labDir: string, name: string, baseRoot: string): ContainerSpec {
  const p = labPaths(labDir);
  return { labDir, name, baseRoot, readOnlyBinds: [[BUN_BINARY, BUN_INSIDE], [p.originRepo, p.originRepo]] };
}

