// SSH key pairs: one fleet key for logging in as rachel, one host key per host.
import * as fs from "fs";
import { run } from "./shell";

export function generateFleetKey(privateKeyPath: string): void {
  generateKey(privateKeyPath, "rachel-fleet-lab");
}

/** A host's ed25519 key (written onto its disk; replaced by fault hostkey-changed). */
export function generateHostKey(path: string, hostName: string): void {
  generateKey(path, `root@${hostName}`);
}

function generateKey(path: string, comment: string): void {
  fs.rmSync(path, { force: true });
  fs.rmSync(path + ".pub", { force: true });
  run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]);
}
