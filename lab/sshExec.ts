// Runs one command on a lab host over SSH with the lab's fleet key, pinning the
// host's own key: tests use this to check hosts independently of the program.
import * as fs from "fs";
import { Client } from "ssh2";
import { LabHost, readLabStatus } from "./labStatus";

export interface HostCommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOnHostOptions {
  /** Defaults to the fleet key of the lab at LAB_DIR (or <repo>/.lab). */
  privateKeyPath?: string;
  timeoutMs?: number;
}

/** Rejects when the host key differs from `host.hostKey`, or when the connection drops before an exit status arrives. */
export function runOnHost(host: LabHost, command: string, opts: RunOnHostOptions = {}): Promise<HostCommandResult> {
  const privateKey = fs.readFileSync(opts.privateKeyPath ?? readLabStatus().privateKeyPath);
  const [keyType, keyBlob] = host.hostKey.split(" ");
  const pinned = Buffer.from(keyBlob, "base64");
  return new Promise((resolve, reject) => {
    const conn = new Client();
    let stdout = "";
    let stderr = "";
    let exitCode: number | null = null;
    let settled = false;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.end();
      if (err) reject(err);
      else resolve({ code: exitCode as number, stdout, stderr });
    };
    const timer = setTimeout(() => finish(new Error(`${host.name}: '${command}' timed out after ${opts.timeoutMs ?? 30000} ms`)), opts.timeoutMs ?? 30000);
    conn.on("ready", () => {
      conn.exec(command, (err, stream) => {
        if (err) return finish(err);
        stream.on("data", (d: Buffer) => (stdout += d));
        stream.stderr.on("data", (d: Buffer) => (stderr += d));
        stream.on("exit", (code: number | null) => (exitCode = code));
        stream.on("close", () => {
          if (exitCode === null) finish(new Error(`${host.name}: connection dropped before '${command}' finished`));
          else finish(null);
        });
      });
    });
    conn.on("error", (e) => finish(new Error(`${host.name}: ${e.message}`)));
    conn.on("close", () => finish(new Error(`${host.name}: connection closed before '${command}' finished`)));
    conn.connect({
      host: host.host,
      port: host.port,
      username: host.user,
      privateKey,
      readyTimeout: 10000,
      algorithms: { serverHostKey: [keyType as any] },
      hostVerifier: (key: Buffer) => key.equals(pinned),
    });
  });
}
