// Installs the Debian packages a lab host needs, only when something is missing.
import { existsSync, writeFileSync, unlinkSync } from "fs";
import { run } from "./shell";

const REQUIRED: Array<{ pkg: string; file: string }> = [
  { pkg: "openssh-server", file: "/usr/sbin/sshd" },
  { pkg: "git", file: "/usr/bin/git" },
  { pkg: "sudo", file: "/usr/bin/sudo" },
  { pkg: "curl", file: "/usr/bin/curl" },
];

const POLICY_RC = "/usr/sbin/policy-rc.d";

export function requireRoot(): void {
  if (typeof process.getuid === "function" && process.getuid() === 0) return;
  throw new Error(
    "the lab must run as root: it creates the 'rachel' user, a sudoers rule, mount namespaces and runs sshd on 127.0.1.x:22. Re-run with sudo.",
  );
}

export function ensurePackages(log: (m: string) => void): void {
  const missing = REQUIRED.filter((r) => !existsSync(r.file));
  if (missing.length === 0) return;
  log(`installing ${missing.map((m) => m.pkg).join(", ")} (apt-get)`);
  // Debian's openssh-server postinst would start a system sshd on 0.0.0.0:22;
  // the lab must only ever listen on loopback, so forbid service starts while
  // installing (the standard policy-rc.d mechanism), and remove our file after.
  const addedPolicy = !existsSync(POLICY_RC);
  if (addedPolicy) writeFileSync(POLICY_RC, "#!/bin/sh\n# temporary, written by rachel-fleet lab\nexit 101\n", { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    run("apt-get", ["update"], { env, stdio: "inherit" });
    run("apt-get", ["install", "-y", "openssh-server", "git", "sudo", "curl"], { env, stdio: "inherit" });
  } finally {
    if (addedPolicy) unlinkSync(POLICY_RC);
  }
}
