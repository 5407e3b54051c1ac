// `up`: builds a fresh lab of N hosts, after clearing whatever an earlier lab
// in the same directory left behind.
import * as fs from "fs";
import * as path from "path";
import { labPaths, hostNames, hostAddress, hostPaths, MAX_HOSTS, REPO_ROOT, shadowedBy } from "./paths";
import { requireRoot, ensurePackages } from "./packages";
import { teardownLab, labProcesses } from "./teardown";
import { generateFleetKey } from "./keys";
import { buildOriginRepo } from "./releases";
import { addSystemAccounts, sudoersLabDir } from "./systemAccounts";
import { prepareHostFiles, startNamespace, provisionApp, startSshd, inHost, waitHealthy, canConnect, HostSpec } from "./hostLifecycle";
import { mapLimit } from "./concurrency";
import { LabHost, LabState, writeFaultState } from "./labStatus";
import { run } from "./shell";

const BUN_BINARY = path.join(REPO_ROOT, "node_modules", "bun", "bin", "bun.exe");
const HOST_TOOLS = path.join(__dirname, "host");
const INITIAL_RELEASE = "v1";

export async function upLab(count: number, log: (m: string) => void, labDir?: string): Promise<void> {
  requireRoot();
  if (!Number.isInteger(count) || count < 1 || count > MAX_HOSTS) throw new Error(`--hosts must be 1..${MAX_HOSTS} (127.0.1.1-254), got ${count}`);
  const p = labPaths(labDir);
  const shadowed = shadowedBy(p.labDir);
  if (shadowed) throw new Error(`LAB_DIR ${p.labDir} is under ${shadowed}, which every lab host replaces with its own; choose another LAB_DIR`);
  if (!fs.existsSync(BUN_BINARY)) throw new Error(`bun binary not found at ${BUN_BINARY}; run npm install (devDependency "bun")`);
  ensurePackages(log);

  const other = sudoersLabDir();
  if (other && other !== p.labDir && labProcesses(labPaths(other).mountLabel).length > 0) {
    throw new Error(`another lab is up at ${other} (it holds 127.0.1.x:22); stop it first: LAB_DIR=${other} npm run lab -- down`);
  }
  const t0 = Date.now();
  const cleanup = await teardownLab(p.labDir);
  if (cleanup.killedProcesses || cleanup.unmounted.length) log(`cleared a previous lab: ${cleanup.killedProcesses} processes, ${cleanup.unmounted.length} mounts`);
  const names = hostNames(count);
  const busy = (await Promise.all(names.map((_, i) => canConnect(hostAddress(i), 22)))).findIndex(Boolean);
  if (busy >= 0) throw new Error(`${hostAddress(busy)}:22 is already taken by a process that is not this lab's`);

  fs.mkdirSync(p.labDir, { recursive: true });
  // rachel (inside hosts) reads origin.git and the authorized_keys under here.
  fs.chmodSync(p.labDir, 0o755);
  fs.mkdirSync(p.keysDir, { mode: 0o700 });
  fs.mkdirSync(p.hostsDir, { mode: 0o755 });
  generateFleetKey(p.privateKey);
  const releases = buildOriginRepo(p.originRepo, path.join(p.labDir, "release-work"));
  addSystemAccounts(p.systemChangesFile, p.labDir);
  installHostTools(p.usrLocal);

  const uid = Number(run("id", ["-u", "rachel"]).trim());
  const gid = Number(run("id", ["-g", "rachel"]).trim());
  const fleetPub = fs.readFileSync(p.privateKey + ".pub", "utf8");
  const specs: HostSpec[] = names.map((name, i) => ({ labDir: p.labDir, name, address: hostAddress(i), rachelUid: uid, rachelGid: gid }));

  const hosts: LabHost[] = await mapLimit(specs, 6, async (spec) => {
    const hostKey = await prepareHostFiles(spec, fleetPub);
    await startNamespace(spec);
    await provisionApp(spec, p.originRepo, INITIAL_RELEASE);
    await startSshd(p.labDir, spec.name, spec.address, hostPaths(p.labDir, spec.name).sshdConfig);
    await inHost(p.labDir, spec.name, ["/usr/local/bin/systemctl", "start", "rachel8"]);
    return { name: spec.name, host: spec.address, port: 22, user: "rachel", hostKey };
  });
  const state: LabState = { releases, hosts };
  writeFaultState(p.labDir, {});
  fs.writeFileSync(p.stateFile, JSON.stringify(state, null, 2) + "\n");
  await Promise.all(specs.map((s) => waitHealthy(s.name, s.address, releases[INITIAL_RELEASE])));
  log(`lab up: ${count} hosts at 127.0.1.1-${count}:22, app ${INITIAL_RELEASE} healthy on all (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

/** /usr/local as every host sees it: bun and the systemctl stand-in on PATH. */
function installHostTools(usrLocal: string): void {
  const bin = path.join(usrLocal, "bin");
  const libexec = path.join(usrLocal, "libexec", "rachel-lab");
  fs.mkdirSync(bin, { recursive: true, mode: 0o755 });
  fs.mkdirSync(libexec, { recursive: true, mode: 0o755 });
  linkOrCopy(BUN_BINARY, path.join(libexec, "bun"));
  fs.copyFileSync(path.join(HOST_TOOLS, "rachel8-supervise"), path.join(libexec, "rachel8-supervise"));
  fs.copyFileSync(path.join(HOST_TOOLS, "bun"), path.join(bin, "bun"));
  fs.copyFileSync(path.join(HOST_TOOLS, "systemctl"), path.join(bin, "systemctl"));
  for (const f of [path.join(libexec, "rachel8-supervise"), path.join(bin, "bun"), path.join(bin, "systemctl")]) fs.chmodSync(f, 0o755);
}

/**
 * A hard link, not a copy, of the 100 MB bun binary: on this machine's disk
 * (mounted with `discard`) writing and later deleting a copy costs seconds of
 * `up` and `down`. Unlinking a second name frees nothing, so it is instant.
 */
function linkOrCopy(from: string, to: string): void {
  try {
    fs.linkSync(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EXDEV") throw e;
    fs.copyFileSync(from, to);
    fs.chmodSync(to, 0o755);
  }
}
