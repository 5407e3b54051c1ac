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

/** Opens one SSH connection with the pinned host key, runs `fn`, and always closes it. */
export async function withSsh<T>(target: SshTarget, fn: (exec: Exec) => Promise<T>): Promise<T> {
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
    try {
        return await fn(exec);
    } finally {
        client.end();
    }
}
