import { createHash } from "crypto";
import { Client, ConnectConfig } from "ssh2";

/** Where one VPS's SSH server is and how it identifies itself: nothing secret. */
export interface Endpoint {
    host: string;
    port: number;
    user: string;
    /** Pinned host key, authorized_keys form: a server presenting any other key is refused. */
    hostKey: string;
    /** Seconds to wait for the TCP connection and SSH handshake. */
    connectTimeout: number;
}

/** An endpoint and the key to log in with. The private key stays in memory; it is never logged. */
export interface SshTarget extends Endpoint {
    privateKey: string;
}

export interface ExecResult {
    code: number;
    stdout: string;
    stderr: string;
}

export type SshFailure = "unreachable" | "hostkey" | "auth" | "dropped";

/** A connection-level failure, classified so callers can report it plainly. */
export class SshError extends Error {
    constructor(
        readonly kind: SshFailure,
        message: string,
    ) {
        super(message);
    }
}

export interface ExecOptions {
    /** Written to the command's stdin, which is then closed. */
    stdin?: string;
    /** Called with each chunk of stdout as it arrives (progress for the operator). */
    onStdout?: (chunk: string) => void;
}

export type Exec = (command: string, opts?: ExecOptions) => Promise<ExecResult>;

interface Connection {
    exec: Exec;
    /** How many commands this connection has started (its channel opened). */
    started: () => number;
    /** Whether the connection has closed (or failed) since it was opened. */
    closed: () => boolean;
    end: () => void;
}

/** Opens one SSH connection with the pinned host key. */
async function connect(target: SshTarget): Promise<Connection> {
    const pinned = Buffer.from(target.hostKey.trim().split(/\s+/)[1] ?? "", "base64");
    const where = `${target.user}@${target.host}:${target.port}`;
    const client = new Client();
    let keyMismatch = false;
    const config: ConnectConfig = {
        host: target.host,
        port: target.port,
        username: target.user,
        privateKey: target.privateKey,
        readyTimeout: target.connectTimeout * 1000,
        // A VPS that freezes mid-command must not hang `pulumi up`: three missed
        // keepalives (15 s) close the connection, which fails the command.
        keepaliveInterval: 5000,
        keepaliveCountMax: 3,
        // Never an agent: the fleet key is the only identity offered.
        agent: undefined,
        hostVerifier: (key: Buffer) => {
            keyMismatch = !key.equals(pinned);
            return !keyMismatch;
        },
    };
    await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
            client.end();
            reject(new SshError("unreachable", `${where}: no SSH connection within ${target.connectTimeout}s`));
        }, target.connectTimeout * 1000 + 1000);
        client.once("ready", () => {
            clearTimeout(timer);
            resolve();
        });
        client.once("error", (err: Error & { level?: string; code?: string }) => {
            clearTimeout(timer);
            if (keyMismatch) {
                reject(new SshError("hostkey", `${where}: host key does not match the pinned key; refusing to connect (nothing was run)`));
            } else if (err.level === "client-authentication") {
                reject(new SshError("auth", `${where}: the fleet key was not accepted for user ${target.user}`));
            } else {
                reject(new SshError("unreachable", `${where}: unreachable (${err.code ?? err.message})`));
            }
        });
        client.connect(config);
    });
    let closed = false;
    let started = 0;
    client.on("close", () => (closed = true));
    client.on("error", () => (closed = true));
    const exec: Exec = (command, opts = {}) =>
        new Promise<ExecResult>((resolve, reject) => {
            if (closed) {
                return reject(new SshError("dropped", `${where}: connection closed`));
            }
            client.exec(command, (err, stream) => {
                if (err) {
                    return reject(new SshError("dropped", `${where}: ${err.message}`));
                }
                started++;
                let stdout = "";
                let stderr = "";
                let code: number | undefined;
                stream.on("data", (d: Buffer) => {
                    stdout += d.toString();
                    opts.onStdout?.(d.toString());
                });
                stream.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
                stream.on("exit", (c: number | null) => (code = c ?? undefined));
                stream.on("close", () => {
                    if (code === undefined) {
                        reject(new SshError("dropped", `${where}: connection dropped while a command ran`));
                    } else {
                        resolve({ code, stdout, stderr });
                    }
                });
                stream.end(opts.stdin ?? "");
            });
        });
    return { exec, started: () => started, closed: () => closed, end: () => client.end() };
}

/**
 * How long a connection a caller asked to keep stays open unused. The update step and the
 * version record's judgement of the same VPS run one after the other in one provider
 * process: the judgement takes the step's connection instead of a second handshake.
 */
const KEPT_SECONDS = 10;
const kept = new Map<string, { conn: Connection; timer: NodeJS.Timeout }>();

/** Which connections may serve each other: the same endpoint, host key and login key. */
function keyOf(t: SshTarget): string {
    return createHash("sha256").update(JSON.stringify([t.host, t.port, t.user, t.hostKey, t.privateKey])).digest("hex");
}

function takeKept(key: string): Connection | undefined {
    const k = kept.get(key);
    kept.delete(key);
    if (k) clearTimeout(k.timer);
    return k && !k.conn.closed() ? k.conn : undefined;
}

function keep(key: string, conn: Connection): void {
    takeKept(key)?.end();
    const timer = setTimeout(() => takeKept(key)?.end(), KEPT_SECONDS * 1000);
    timer.unref();
    kept.set(key, { conn, timer });
}

/**
 * Runs `fn` over one SSH connection with the pinned host key and closes it, unless `keep`
 * is set: then a healthy connection is kept a few seconds for the next `withSsh(…, keep)`
 * to the same VPS, and a kept one is used first. A kept connection that turns out dead
 * before `fn` started any command on it (the VPS went away meanwhile) is replaced by a new
 * one, so `fn` never sees an error it would not have seen without the keeping.
 */
export async function withSsh<T>(target: SshTarget, fn: (exec: Exec) => Promise<T>, opts: { keep?: boolean } = {}): Promise<T> {
    const key = opts.keep ? keyOf(target) : "";
    const reused = opts.keep ? takeKept(key) : undefined;
    if (reused) {
        const before = reused.started();
        try {
            return await runOver(reused, key, fn);
        } catch (e) {
            if (!(e instanceof SshError && reused.started() === before)) throw e;
        }
    }
    return runOver(await connect(target), key, fn);
}

async function runOver<T>(conn: Connection, key: string, fn: (exec: Exec) => Promise<T>): Promise<T> {
    let ok = false;
    try {
        const result = await fn(conn.exec);
        ok = true;
        return result;
    } finally {
        if (ok && key && !conn.closed()) {
            keep(key, conn);
        } else {
            conn.end();
        }
    }
}
