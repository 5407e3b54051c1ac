// The root file system every lab host boots from: Debian 12 built by debootstrap
// once per machine and shared read-only by all hosts (each host writes to its own
// overlay upper directory). Cached outside the repo, keyed by what goes into it.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { createHash } from "crypto";
import { run, tryRun } from "./shell";

const SUITE = "bookworm";
/** What a stock Debian 12 cloud server has that the fleet relies on, and cloud-init. */
const PACKAGES = [
  "systemd", "systemd-sysv", "dbus", "libpam-systemd", "openssh-server", "sudo", "ca-certificates", "curl", "git",
  "iproute2", "procps", "cloud-init",
  // debootstrap resolves Depends but not virtual packages: python3-cryptography needs this one's.
  "python3-cffi-backend",
];
/**
 * Units a container sharing this machine's network must not run (it would configure the
 * machine's interfaces or resolver), and timers that would make 50 hosts run apt at once.
 */
const MASKED_UNITS = [
  "systemd-networkd.service", "systemd-networkd.socket", "systemd-networkd-wait-online.service", "systemd-resolved.service",
  "apt-daily.timer", "apt-daily-upgrade.timer", "man-db.timer", "e2scrub_all.timer", "fstrim.timer",
  "console-getty.service", "systemd-firstboot.service",
];
/** Bump when the finishing steps below change, so every machine rebuilds its base. */
const RECIPE_VERSION = 2;

export function baseImageKey(): string {
  return createHash("sha256").update(JSON.stringify({ SUITE, PACKAGES, MASKED_UNITS, RECIPE_VERSION })).digest("hex").slice(0, 12);
}

export function baseImageDir(): string {
  const cache = process.env.RACHEL_LAB_BASE_CACHE ?? path.join(os.homedir(), ".cache", "rachel-fleet", "lab-base");
  return path.join(cache, `debian-${SUITE}-${baseImageKey()}`);
}

/** The Debian archive this machine's apt already uses (the lab names no mirror of its own). */
export function debianMirror(): string {
  const files = ["/etc/apt/sources.list", ...listDir("/etc/apt/sources.list.d").map((f) => path.join("/etc/apt/sources.list.d", f))];
  const texts = files.map((file) => {
    try {
      return fs.readFileSync(file, "utf8");
    } catch {
      return "";
    }
  });
  const mirror = mirrorIn(texts);
  if (!mirror) throw new Error("cannot build the lab's Debian base: no Debian archive found in /etc/apt/sources.list{,.d} (the lab uses the one apt uses)");
  return mirror;
}

/** The first Debian archive (not its security archive) in apt source files, deb822 or one-line. */
export function mirrorIn(texts: string[]): string | undefined {
  for (const text of texts) {
    const deb822 = text.match(/^URIs:\s*(\S+\/debian)\/?\s*$/m);
    if (deb822) return deb822[1];
    const oneLine = text.match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\/?\s+\S+/m);
    if (oneLine) return oneLine[1];
  }
  return undefined;
}

/** Returns the base root file system, building it first when this machine has none. */
export function ensureBaseImage(log: (m: string) => void): string {
  const dir = baseImageDir();
  const rootfs = path.join(dir, "rootfs");
  if (fs.existsSync(path.join(dir, "complete"))) return rootfs;
  const t0 = Date.now();
  log(`building the lab's Debian ${SUITE} base image (debootstrap, once per machine) in ${dir}`);
  const staging = `${dir}.building-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  const target = path.join(staging, "rootfs");
  const r = tryRun("debootstrap", ["--variant=minbase", `--include=${PACKAGES.join(",")}`, SUITE, target, debianMirror()], { stdio: ["ignore", "pipe", "pipe"] });
  if (r.code !== 0) {
    const detail = (r.stdout + r.stderr).trim().split("\n").slice(-8).join("\n");
    fs.rmSync(staging, { recursive: true, force: true });
    throw new Error(`debootstrap of the lab's base image failed (exit ${r.code}):\n${detail}`);
  }
  finishBase(target);
  fs.writeFileSync(path.join(staging, "complete"), `${new Date().toISOString()}\n`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(staging, dir);
  pruneOtherBases(dir);
  log(`base image built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return rootfs;
}

/** What makes a debootstrapped tree a cloud image that boots as many distinct hosts. */
function finishBase(root: string): void {
  // An empty machine-id: each boot gets a fresh one (not "first boot", so no prompts).
  fs.writeFileSync(path.join(root, "etc/machine-id"), "");
  fs.rmSync(path.join(root, "var/lib/dbus/machine-id"), { force: true });
  // Host keys are per host: the lab (or cloud-init) makes them.
  for (const f of listDir(path.join(root, "etc/ssh"))) if (f.startsWith("ssh_host_")) fs.rmSync(path.join(root, "etc/ssh", f));
  for (const unit of MASKED_UNITS) {
    const link = path.join(root, "etc/systemd/system", unit);
    fs.rmSync(link, { force: true });
    fs.symlinkSync("/dev/null", link);
  }
  // The journal lives in /run (no /var/log/journal): keep 50 hosts' journals small.
  fs.mkdirSync(path.join(root, "etc/systemd/journald.conf.d"), { recursive: true });
  fs.writeFileSync(path.join(root, "etc/systemd/journald.conf.d/lab.conf"), "[Journal]\nRuntimeMaxUse=8M\n");
  // cloud-init runs only where the lab gives a host a NoCloud seed (see hostFiles.ts).
  fs.writeFileSync(path.join(root, "etc/cloud/cloud-init.disabled"), "the lab enables cloud-init per host\n");
  // As on a cloud provider's Debian image: cloud-init's locale module sets en_US.UTF-8.
  fs.writeFileSync(path.join(root, "etc/locale.gen"), "en_US.UTF-8 UTF-8\n");
  run("chroot", [root, "locale-gen"]);
  run("chroot", [root, "apt-get", "clean"]);
  fs.rmSync(path.join(root, "var/lib/apt/lists"), { recursive: true, force: true });
  fs.mkdirSync(path.join(root, "var/lib/apt/lists/partial"), { recursive: true });
}

/** Bases of earlier recipes are dropped, unless a running lab's disks still lie on them. */
function pruneOtherBases(current: string): void {
  const mounts = fs.readFileSync("/proc/self/mountinfo", "utf8");
  const parent = path.dirname(current);
  for (const name of listDir(parent)) {
    const dir = path.join(parent, name);
    if (dir !== current && name.startsWith("debian-") && !mounts.includes(dir)) fs.rmSync(dir, { recursive: true, force: true });
  }
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
