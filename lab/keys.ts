// SSH key pairs: one fleet key for logging in as rachel, one host key per host.
import * as fs from "fs";
import { run, runAsync } from "./shell";

export function generateFleetKey(privateKeyPath: string): void {
  fs.rmSync(privateKeyPath, { force: true });
  fs.rmSync(privateKeyPath + ".pub", { force: true });
  run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "rachel-fleet-lab", "-f", privateKeyPath]);
}

export async function generateHostKey(path: string): Promise<void> {
  fs.rmSync(path, { force: true });
  fs.rmSync(path + ".pub", { force: true });
  await runAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", path]);
}

/** "ssh-ed25519 AAAA…" — the authorized_keys form without a comment, as the inventory pins it. */
export function publicKeyLine(pubPath: string): string {
  const [type, blob] = fs.readFileSync(pubPath, "utf8").trim().split(/\s+/);
  return `${type} ${blob}`;
}
