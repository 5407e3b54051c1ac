// The sshd_config of a lab host: Debian bookworm's shipped defaults (the
// non-comment lines of /etc/ssh/sshd_config) plus only what a lab host needs to
// be distinct. Debian's `Include /etc/ssh/sshd_config.d/*.conf` is left out so
// that this machine's own sshd settings cannot leak into the lab.
export interface SshdConfigArgs {
  listenAddress: string;
  hostKey: string;
  pidFile: string;
  authorizedKeysFile: string;
}

export function sshdConfig(a: SshdConfigArgs): string {
  return [
    "# rachel-fleet lab host. Lab-specific settings first (sshd keeps the first value it reads).",
    `ListenAddress ${a.listenAddress}:22`,
    `HostKey ${a.hostKey}`,
    `PidFile ${a.pidFile}`,
    `AuthorizedKeysFile ${a.authorizedKeysFile}`,
    "PasswordAuthentication no",
    "",
    "# Debian bookworm defaults",
    "KbdInteractiveAuthentication no",
    "UsePAM yes",
    "X11Forwarding yes",
    "PrintMotd no",
    "AcceptEnv LANG LC_*",
    "Subsystem sftp /usr/lib/openssh/sftp-server",
    "",
  ].join("\n");
}
