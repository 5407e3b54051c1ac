// The lab's stand-in for a cloud's servers: "creating a server" boots a lab host
// that has nothing but the user-data it was given, which Debian's cloud-init then
// executes (NoCloud). Used by the fake hcloud provider (provider.ts), so a stack of
// this program provisions VPSs under the real engine.
import * as fs from "fs";
import * as path from "path";
import { labPaths, hostPaths, MAX_HOSTS } from "../paths";
import { readLabStatus } from "../labStatus";
import { mountRoot, startContainer, powerOff, cgroupRoots, killCgroupTree } from "../container";
import { writeNewVps } from "../hostFiles";
import { labContainer } from "../up";
import { waitListening } from "../hostLifecycle";
import { tryRun } from "../shell";

export interface CloudServer {
  name: string;
  address: string;
}

const serversFile = (labDir: string) => path.join(labDir, "cloud-servers.json");

export function cloudServers(labDir: string): Record<string, CloudServer> {
  try {
    return JSON.parse(fs.readFileSync(serversFile(labDir), "utf8"));
  } catch {
    return {};
  }
}

/** Fleet hosts count up from 127.0.1.1; cloud servers take addresses from the top down. */
function freeAddress(labDir: string, taken: Set<string>): string {
  const status = readLabStatus(labDir);
  for (const h of status.hosts) taken.add(h.host);
  for (let i = MAX_HOSTS; i > status.hosts.length; i--) {
    const a = `127.0.1.${i}`;
    if (!taken.has(a)) return a;
  }
  throw new Error("no loopback address left for another lab server");
}

/**
 * An image name the fake gives a meaning: a VPS that cannot reach the app's git origin (its
 * cloud-init then fails to prepare the first release, as with an unreachable repo URL).
 */
export const IMAGE_WITHOUT_ORIGIN = "lab-unreachable-origin";

/** Boots a new "VPS" from user-data; returns once its sshd listens (cloud-init may still be running). */
export async function createServer(labDir: string, name: string, userData: string, image = ""): Promise<CloudServer> {
  const servers = cloudServers(labDir);
  if (servers[name] || fs.existsSync(hostPaths(labDir, name).dir)) throw new Error(`a lab server named ${name} exists already`);
  const address = freeAddress(labDir, new Set(Object.values(servers).map((s) => s.address)));
  const server = { name, address };
  fs.writeFileSync(serversFile(labDir), JSON.stringify({ ...servers, [name]: server }, null, 2) + "\n");
  const status = readLabStatus(labDir);
  const full = labContainer(labDir, name, status.baseRoot);
  const origin = labPaths(labDir).originRepo;
  const spec = image === IMAGE_WITHOUT_ORIGIN ? { ...full, readOnlyBinds: full.readOnlyBinds.filter(([from]) => from !== origin) } : full;
  mountRoot(spec);
  writeNewVps({ labDir, name, address, originRepo: labPaths(labDir).originRepo }, userData);
  // Like a cloud API, answer once the machine runs; its sshd comes up before cloud-init's final stage.
  startContainer(spec);
  await waitListening(name, address, 22, 180000);
  return server;
}

export async function deleteServer(labDir: string, name: string): Promise<void> {
  await powerOff(labDir, name);
  for (const root of cgroupRoots()) await killCgroupTree(path.join(root, labPaths(labDir).cgroupName, name));
  const hp = hostPaths(labDir, name);
  tryRun("umount", [hp.root]);
  fs.rmSync(hp.dir, { recursive: true, force: true });
  const servers = cloudServers(labDir);
  delete servers[name];
  fs.writeFileSync(serversFile(labDir), JSON.stringify(servers, null, 2) + "\n");
}
