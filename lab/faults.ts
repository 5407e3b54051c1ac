// Per-host faults, switched on and off by `npm run lab -- fault <kind> --host NAME [--off]`.
import * as fs from "fs";
import * as path from "path";
import { hostPaths } from "./paths";
import { generateHostKey } from "./keys";
import { startSshd, stopSshd, writeSshdConfig, inHost } from "./hostLifecycle";
import { FaultKind, FAULT_KINDS, readLabStatus, readFaultState, writeFaultState, dropMarker, LabHost } from "./labStatus";
import { run } from "./shell";

export async function setFault(kind: string, hostName: string, on: boolean, labDir?: string): Promise<void> {
  if (!FAULT_KINDS.includes(kind as FaultKind)) throw new Error(`unknown fault '${kind}'; one of: ${FAULT_KINDS.join(", ")}`);
  const status = readLabStatus(labDir);
  const host = status.hosts.find((h) => h.name === hostName);
  if (!host) throw new Error(`no host '${hostName}' in the lab; hosts are ${status.hosts.map((h) => h.name).join(", ")}`);
  const dir = status.labDir;
  const faults = readFaultState(dir);
  const active = new Set(faults[hostName] ?? []);
  const save = () => {
    faults[hostName] = FAULT_KINDS.filter((k) => active.has(k));
    if (!faults[hostName].length) delete faults[hostName];
    writeFaultState(dir, faults);
  };

  switch (kind as FaultKind) {
    case "unreachable":
      if (on) {
        active.add("unreachable");
        save();
        await stopSshd(dir, hostName);
      } else {
        active.delete("unreachable");
        save();
        await restartSshd(dir, host, active);
      }
      return;
    case "hostkey-changed": {
      const hp = hostPaths(dir, hostName);
      if (on) {
        // A new key each time the fault is switched on, as after a reinstall.
        await generateHostKey(hp.changedHostKey);
        writeSshdConfig(hp, host.host, hp.changedSshdConfig, hp.changedHostKey);
        active.add("hostkey-changed");
      } else {
        active.delete("hostkey-changed");
      }
      save();
      await restartSshd(dir, host, active);
      return;
    }
    case "drop-mid-command": {
      // One-shot: the host's bun wrapper deletes the marker when it fires.
      const marker = dropMarker(dir, hostName);
      if (on) fs.writeFileSync(marker, "armed\n");
      else fs.rmSync(marker, { force: true });
      return;
    }
    case "disk-full":
      if (on) await fillAppDisk(dir, hostName);
      else await restoreAppDisk(dir, hostName);
      if (on) active.add("disk-full");
      else active.delete("disk-full");
      save();
      return;
  }
}

async function restartSshd(labDir: string, host: LabHost, active: Set<FaultKind>): Promise<void> {
  await stopSshd(labDir, host.name);
  if (active.has("unreachable")) return;
  const hp = hostPaths(labDir, host.name);
  await startSshd(labDir, host.name, host.host, active.has("hostkey-changed") ? hp.changedSshdConfig : hp.sshdConfig);
}

const APP = "/home/rachel/rachel";
const FILLER = `${APP}/.git/lab-disk-filler`;

/**
 * Puts the app directory on a small tmpfs holding a copy of it and fills the
 * rest, inside the host's namespace only. New data blocks and new files both
 * fail with ENOSPC; the real directory underneath stays untouched.
 */
async function fillAppDisk(labDir: string, name: string): Promise<void> {
  const underlying = path.join(hostPaths(labDir, name).home, "rachel");
  const uid = run("id", ["-u", "rachel"]).trim();
  const gid = run("id", ["-g", "rachel"]).trim();
  await inHost(labDir, name, [
    "/bin/bash",
    "-c",
    `set -e
     mountpoint -q ${APP} && exit 0
     kb=$(du -sk ${APP} | cut -f1)
     mount -t tmpfs -o size=$((kb + kb / 4 + 1024))k,mode=0755,uid=${uid},gid=${gid} rachel-lab-disk-full ${APP}
     cp -a '${underlying}/.' ${APP}/
     dd if=/dev/zero of=${FILLER} bs=64k 2>/dev/null || true
     used=$(df --output=iused ${APP} | tail -1 | tr -d ' ')
     mount -o remount,nr_inodes=$used ${APP}`,
  ]);
}

/** Copies whatever changed on the full disk back to the real directory, then removes the tmpfs. */
async function restoreAppDisk(labDir: string, name: string): Promise<void> {
  const underlying = path.join(hostPaths(labDir, name).home, "rachel");
  const staging = `${underlying}.restore`;
  await inHost(labDir, name, [
    "/bin/bash",
    "-c",
    `set -e
     mountpoint -q ${APP} || exit 0
     rm -f ${FILLER}
     rm -rf '${staging}'
     cp -a ${APP}/. '${staging}'
     find '${underlying}' -mindepth 1 -delete
     for f in '${staging}'/* '${staging}'/.[!.]* '${staging}'/..?*; do [ -e "$f" ] && mv "$f" '${underlying}/'; done
     rmdir '${staging}'
     # Lazy: a service restarted during the fault may still have its cwd on it.
     umount -l ${APP}`,
  ]);
}
