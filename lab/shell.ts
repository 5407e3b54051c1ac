// Process helpers for the lab. Everything the lab does to the machine goes
// through these, so a failing command always reports what it was and why.
import { spawn, spawnSync, SpawnSyncOptions } from "child_process";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; throws with its stderr when it exits non-zero. */
export function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...opts });
  if (r.error) throw new Error(`${cmd} ${args.join(" ")}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.status ?? r.signal}: ${String(r.stderr).trim()}`);
  }
  return String(r.stdout);
}

/** Runs a command and returns its outcome without throwing. */
export function tryRun(cmd: string, args: string[], opts: SpawnSyncOptions = {}): CommandResult {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...opts });
  return { code: r.status ?? -1, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? r.error?.message ?? "") };
}

/** Async variant so that many hosts can be prepared at once on a 2-core machine. */
export function runAsync(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    child.on("error", (e) => reject(new Error(`${cmd} ${args.join(" ")}: ${e.message}`)));
    child.on("close", (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(Object.assign(new Error(`${cmd} ${args.join(" ")} exited ${code ?? signal}: ${stderr.trim()}`), { stdout }));
    });
    if (child.stdin) {
      // A child may exit without reading its input; that is its answer, not our error.
      child.stdin.on("error", () => {});
      child.stdin.end(opts.input);
    }
  });
}

/**
 * Starts a long-lived process that outlives the CLI (its own session, no
 * inherited stdio) and returns its pid. The lab records the pid; nothing else
 * supervises it.
 */
export function spawnDetached(cmd: string, args: string[], logFile?: string): number {
  const fs = require("fs") as typeof import("fs");
  const out = logFile ? fs.openSync(logFile, "a") : "ignore";
  const child = spawn(cmd, args, { detached: true, stdio: ["ignore", out, out] });
  if (typeof out === "number") fs.closeSync(out);
  child.unref();
  if (!child.pid) throw new Error(`could not start ${cmd}`);
  return child.pid;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
