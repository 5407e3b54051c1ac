// Per-host faults, switched on and off by `npm run lab -- fault <kind> --host NAME [--off]`.
// Each is done the way it happens to a real VPS: the host powered off, sshd stopped by
// systemd, the service crash-looping under systemd's restarts, a reboot mid-update.
import * as fs from "fs";
import { hostPaths } from "./paths";
import { inHost, powerOff, boot } from "./container";
import { labContainer } from "./up";
import { hostKeyPath, LAB_APP, LAB_USER, publicKeyOf } from "./hostFiles";
import { ON_HOST } from "../lifecycle/script";
import { FaultKind, FAULT_KINDS, ONE_SHOT_FAULTS, readLabStatus, readFaultState, writeFaultState, oneShotMarker, LabStatus } from "./labStatus";
import { generateHostKey } from "./keys";

/** Where an update writes on a host: the release directories (and the repository among them). */
const RELEASES = ON_HOST.releases.replace("$HOME", `/home/${LAB_USER}`);
const SERVICE = LAB_APP.service;
const CRASH_DROP_IN = `/etc/systemd/system/${SERVICE}.service.d/rachel-lab-crash-loop.conf`;

export async function setFault(kind: string, hostName: string, on: boolean, labDir?: string): Promise<void> {
  if (!FAULT_KINDS.includes(kind as FaultKind)) throw new Error(`unknown fault '${kind}'; one of: ${FAULT_KINDS.join(", ")}`);
  const status = readLabStatus(labDir);
  const host = status.hosts.find((h) => h.name === hostName);
  if (!host) throw new Error(`no host '${hostName}' in the lab; hosts are ${status.hosts.map((h) => h.name).join(", ")}`);
  const dir = status.labDir;
  const faults = readFaultState(dir);
  const active = new Set(faults[hostName] ?? []);
  if (active.has("unreachable") && kind !== "unreachable" && on) throw new Error(`${hostName} is powered off (fault unreachable); switch that off first`);

  if (ONE_SHOT_FAULTS.includes(kind as FaultKind)) {
    const marker = oneShotMarker(dir, hostName, kind as FaultKind);
    if (!marker) throw new Error(`${hostName} is not running`);
    if (on) fs.writeFileSync(marker, "armed\n");
    else fs.rmSync(marker, { force: true });
    return;
  }
  await switchFault(kind as FaultKind, on, status, hostName);
  if (on) active.add(kind as FaultKind);
  else active.delete(kind as FaultKind);
  // A power cycle ends what lived only in the running system.
  if (kind === "unreachable" && on) active.delete("sshd-stopped");
  faults[hostName] = FAULT_KINDS.filter((k) => active.has(k));
  if (!faults[hostName].length) delete faults[hostName];
  writeFaultState(dir, faults);
}

async function switchFault(kind: FaultKind, on: boolean, status: LabStatus, name: string): Promise<void> {
  const dir = status.labDir;
  const sh = (script: string) => inHost(dir, name, ["/bin/bash", "-c", script]);
  switch (kind) {
    case "unreachable":
      if (on) await powerOff(dir, name);
      else if (!(await isUp(dir, name))) await boot(labContainer(dir, name, status.baseRoot));
      return;
    case "sshd-stopped":
      await sh(`systemctl ${on ? "stop" : "start"} ssh.service`);
      return;
    case "crash-loop":
      // The sample app exits 1 this long after each start; Restart=on-failure brings it back.
      if (on) await sh(`mkdir -p $(dirname ${CRASH_DROP_IN}) && printf '[Service]\\nEnvironment=RACHEL8_CRASH_AFTER_MS=1000\\n' > ${CRASH_DROP_IN} && systemctl daemon-reload && systemctl restart ${SERVICE}`);
      else await sh(`rm -f ${CRASH_DROP_IN} && systemctl daemon-reload && systemctl reset-failed ${SERVICE}; systemctl restart ${SERVICE}`);
      return;
    case "hostkey-changed":
      await swapHostKey(dir, name, on);
      await sh("systemctl try-restart ssh.service");
      return;
    case "disk-full":
      await sh(on ? FILL_APP_DISK : RESTORE_APP_DISK);
      return;
  }
}

async function isUp(dir: string, name: string): Promise<boolean> {
  try {
    await inHost(dir, name, ["true"]);
    return true;
  } catch {
    return false;
  }
}

/** A new key each time the fault is switched on, as after a reinstall; --off puts the original back. */
async function swapHostKey(dir: string, name: string, on: boolean): Promise<void> {
  const hp = hostPaths(dir, name);
  const key = hostKeyPath(hp.root);
  if (on) {
    if (!fs.existsSync(hp.savedHostKey)) {
      fs.copyFileSync(key, hp.savedHostKey);
      fs.copyFileSync(key + ".pub", hp.savedHostKey + ".pub");
    }
    generateHostKey(key, name);
  } else if (fs.existsSync(hp.savedHostKey)) {
    fs.copyFileSync(hp.savedHostKey, key);
    fs.copyFileSync(hp.savedHostKey + ".pub", key + ".pub");
    fs.rmSync(hp.savedHostKey);
    fs.rmSync(hp.savedHostKey + ".pub");
  }
  publicKeyOf(hp.root); // fails loudly if the key is not in place
}

const UNDERLYING = "/run/lab/app-disk";
const FILLER = `${RELEASES}/.lab-disk-filler`;

/**
 * Puts the release directories on a small tmpfs holding a copy of them and fills the rest.
 * New data blocks and new files both fail with ENOSPC; the real directory stays
 * untouched underneath (reachable at UNDERLYING for the restore).
 */
const FILL_APP_DISK = `set -e
mountpoint -q ${RELEASES} && exit 0
# Private: a shared bind would receive the tmpfs below by propagation.
mkdir -p ${UNDERLYING} && mount --bind ${RELEASES} ${UNDERLYING} && mount --make-private ${UNDERLYING}
kb=$(du -sk ${RELEASES} | cut -f1)
mount -t tmpfs -o size=$((kb + kb / 4 + 1024))k,mode=0755,uid=$(id -u rachel),gid=$(id -g rachel) rachel-lab-disk-full ${RELEASES}
cp -a ${UNDERLYING}/. ${RELEASES}/
dd if=/dev/zero of=${FILLER} bs=64k 2>/dev/null || true
used=$(df --output=iused ${RELEASES} | tail -1 | tr -d ' ')
mount -o remount,nr_inodes=$used ${RELEASES}`;

/**
 * Copies whatever changed on the full disk back over the real directory, then removes the
 * tmpfs. Directories are written into, never replaced: a running service keeps its cwd.
 */
const RESTORE_APP_DISK = `set -e
mountpoint -q ${RELEASES} || exit 0
rm -f ${FILLER}
staging=${UNDERLYING}.restore
rm -rf $staging && mkdir -p $staging
cp -a ${RELEASES}/. $staging/
# Lazy: a service restarted during the fault may still have its cwd on it.
umount -l ${RELEASES}
cp -a $staging/. ${RELEASES}/
rm -rf $staging
umount ${UNDERLYING}`;
