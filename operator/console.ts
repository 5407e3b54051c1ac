import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import { AddressInfo } from "net";
import { randomBytes } from "crypto";
import { consoleHandler } from "./consoleServer";
import { FleetRuns } from "./runs";
import { ConsoleRollout } from "./consoleRollout";
import { RolloutControl } from "./rolloutControl";
import { OperatorError } from "./stackAccess";

/** Where the console's token comes from when not generated: for scripts and tests. */
export const TOKEN_ENV = "RACHEL_FLEET_CONSOLE_TOKEN";

export interface ConsoleSettings {
    stackName: string;
    workDir: string;
    envVars?: Record<string, string>;
    host?: string;
    port?: number;
    tags?: Record<string, string>;
    log?: (line: string) => void;
    /** PEM files: serve HTTPS (advised on any address but loopback). */
    tlsCert?: string;
    tlsKey?: string;
}

/** A token from the environment must be as hard to guess as a generated one. */
const MIN_TOKEN = 32;

export interface RunningConsole {
    server: http.Server;
    /** The URL to open, token included: printed once. */
    url: string;
    origin: string;
    token: string;
    close(): Promise<void>;
}

/** Starts the console for one stack of this project: listens on 127.0.0.1 unless told otherwise. */
export async function startConsole(s: ConsoleSettings): Promise<RunningConsole> {
    const fromEnv = process.env[TOKEN_ENV];
    if (fromEnv !== undefined && fromEnv.length < MIN_TOKEN) {
        throw new OperatorError(`${TOKEN_ENV} is ${fromEnv.length} characters long; a console token must have at least ${MIN_TOKEN} (unset it to have one generated)`);
    }
    const token = fromEnv || randomBytes(24).toString("base64url");
    const log = s.log ?? ((l: string) => process.stderr.write(`console: ${l}\n`));
    const control = new RolloutControl(s.workDir, s.stackName);
    const runs = new FleetRuns({ stackName: s.stackName, workDir: s.workDir, envVars: s.envVars ?? {} }, s.tags, control, log);
    const rollout = new ConsoleRollout(runs, control, log);
    let origin = "";
    const handler = consoleHandler({ runs, rollout, token, origin: () => origin, log });
    if ((s.tlsCert === undefined) !== (s.tlsKey === undefined)) {
        throw new OperatorError("--tls-cert and --tls-key go together");
    }
    const tls = s.tlsCert ? { cert: fs.readFileSync(s.tlsCert), key: fs.readFileSync(s.tlsKey!) } : undefined;
    const server: http.Server = tls ? https.createServer(tls, handler) : http.createServer(handler);
    const host = s.host ?? "127.0.0.1";
    if (!tls && !/^(127\.|::1$|localhost$)/.test(host)) {
        log(`WARNING: listening on ${host}, not loopback, over plain HTTP: the token and the session travel unencrypted. Give --tls-cert and --tls-key to serve HTTPS.`);
    }
    await new Promise<void>((resolve, reject) => server.once("error", reject).listen(s.port ?? 8090, host, resolve));
    const port = (server.address() as AddressInfo).port;
    rollout.watch();
    origin = `${tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}`;
    return {
        server, origin, token,
        url: `${origin}/?token=${token}`,
        close: () => new Promise<void>((r) => {
            rollout.stop();
            server.closeAllConnections();
            server.close(() => r());
        }),
    };
}
