// What the lab writes onto a host's disk before its first boot. A lab host is made
// the way a VPS of this fleet is: the unit file and the sudo rule come from the
// provisioning code (provisioning/cloudInit.ts), not from a copy. Two kinds:
//  - a fleet host, set up as cloud-init would have left it (user, keys, unit, rule);
//  - a "new VPS": nothing but the NoCloud seed, for Debian's cloud-init to run.
import * as fs from "fs";
import * as path from "path";
import { hostPaths } from "./paths";
import { run } from "./shell";
import { generateHostKey } from "./keys";
import { systemdUnit, sudoersRule, sudoersFileName } from "../provisioning/cloudInit";
import { DEFAULTS, AppSettings } from "../config/types";

export const LAB_USER = DEFAULTS.sshUser;
export const APP_PORT = 8080;
/** The app settings every lab host runs with (the program's defaults). */
export const LAB_APP: AppSettings = { ...DEFAULTS };
/** Inside a host: bun's real binary (bind-mounted from node_modules) behind the lab's wrapper. */
export const BUN_INSIDE = "/usr/local/libexec/rachel-lab/bun";
const BUN_WRAPPER = path.join(__dirname, "host", "bun");
const HOST_KEY = "etc/ssh/ssh_host_ed25519_key";

export interface HostIdentity {
  labDir: string;
  name: string;
  address: string;
  originRepo: string;
}

/** Files every lab host has, whatever provisions it. */
function writeCommonFiles(h: HostIdentity): string {
  const root = hostPaths(h.labDir, h.name).root;
  write(root, "etc/hostname", `${h.name}\n`);
  write(root, "etc/hosts", `127.0.0.1\tlocalhost\n${h.address}\t${h.name}\n::1\t\tlocalhost ip6-localhost ip6-loopback\n`);
  // The hosts share this machine's network: each listens on its own loopback address only.
  write(root, "etc/ssh/sshd_config.d/rachel-lab.conf", `# rachel-fleet lab: this host's own address\nListenAddress ${h.address}:22\nPasswordAuthentication no\n`);
  // The app binds its host's address too (the unit itself sets only PORT).
  write(root, `etc/systemd/system/${LAB_APP.service}.service.d/rachel-lab-address.conf`, `[Service]\nEnvironment=HOST=${h.address}\n`);
  // The lab's origin is a bind-mounted local path owned by root; a real VPS fetches
  // over the network, where git's ownership check does not apply.
  write(root, "etc/gitconfig", `[safe]\n\tdirectory = ${h.originRepo}\n`);
  write(root, "usr/local/bin/bun", fs.readFileSync(BUN_WRAPPER, "utf8"), 0o755);
  return root;
}

/** A fleet host as its provisioning leaves it; returns its public host key (what the inventory pins). */
export function writeFleetHost(h: HostIdentity, fleetPublicKey: string): string {
  const root = writeCommonFiles(h);
  run("chroot", [root, "useradd", "--create-home", "--user-group", "--shell", "/bin/bash", LAB_USER]);
  const ssh = `home/${LAB_USER}/.ssh`;
  write(root, `${ssh}/authorized_keys`, fleetPublicKey.trim() + "\n", 0o600);
  fs.chmodSync(path.join(root, ssh), 0o700);
  run("chroot", [root, "chown", "-R", `${LAB_USER}:${LAB_USER}`, `/${ssh}`]);
  write(root, `etc/systemd/system/${LAB_APP.service}.service`, systemdUnit(LAB_APP, LAB_USER, APP_PORT));
  write(root, `etc/sudoers.d/${sudoersFileName(LAB_APP.service)}`, sudoersRule(LAB_USER, LAB_APP.service), 0o440);
  writeFaultHooks(root);
  generateHostKey(path.join(root, HOST_KEY), h.name);
  return publicKeyOf(root);
}

/**
 * A new VPS: only the NoCloud seed (user-data as the program generates it for Hetzner)
 * and the settings a container on a shared network needs. cloud-init does the rest.
 */
export function writeNewVps(h: HostIdentity, userData: string): void {
  const root = writeCommonFiles(h);
  fs.rmSync(path.join(root, "etc/cloud/cloud-init.disabled"), { force: true });
  write(root, "etc/cloud/cloud.cfg.d/90-rachel-lab.cfg",
    "# rachel-fleet lab: the seed is on disk (NoCloud), and the network is this machine's.\n" +
      "datasource_list: [ NoCloud, None ]\nnetwork: {config: disabled}\n");
  write(root, "var/lib/cloud/seed/nocloud/meta-data", `instance-id: ${h.name}\nlocal-hostname: ${h.name}\n`);
  write(root, "var/lib/cloud/seed/nocloud/user-data", userData, 0o600);
}

/** The host's public key as it is on its disk now ("ssh-ed25519 AAAA…", no comment). */
export function publicKeyOf(root: string): string {
  const [type, blob] = fs.readFileSync(path.join(root, HOST_KEY + ".pub"), "utf8").trim().split(/\s+/);
  return `${type} ${blob}`;
}

export const hostKeyPath = (root: string) => path.join(root, HOST_KEY);

/**
 * Lab-only hooks the faults use: a directory rachel's bun wrapper may drop markers
 * in, and a root path unit that reboots the host when the reboot marker appears
 * (rachel's sudo rule cannot reboot, and must not be widened for a test).
 */
function writeFaultHooks(root: string): void {
  write(root, "etc/tmpfiles.d/rachel-lab.conf", `d /run/lab/faults 0755 ${LAB_USER} ${LAB_USER} -\n`);
  write(root, "etc/systemd/system/rachel-lab-reboot.path", "[Unit]\nDescription=rachel-fleet lab: reboot on request (fault reboot-mid-update)\n\n[Path]\nPathExists=/run/lab/faults/reboot-now\n\n[Install]\nWantedBy=multi-user.target\n");
  write(root, "etc/systemd/system/rachel-lab-reboot.service", "[Unit]\nDescription=rachel-fleet lab: reboot now\n\n[Service]\nType=oneshot\nExecStart=/bin/systemctl reboot\n");
  link(root, "etc/systemd/system/multi-user.target.wants/rachel-lab-reboot.path", "/etc/systemd/system/rachel-lab-reboot.path");
}

function write(root: string, rel: string, content: string, mode = 0o644): void {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
}

function link(root: string, rel: string, target: string): void {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.rmSync(file, { force: true });
  fs.symlinkSync(target, file);
}
