import * as http from "http";
import { AddressInfo } from "net";
import { randomBytes } from "crypto";
import { createConsoleServer } from "./consoleServer";
import { FleetRuns } from "./runs";

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
}

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
    const token = process.env[TOKEN_ENV] || randomBytes(24).toString("base64url");
    const runs = new FleetRuns({ stackName: s.stackName, workDir: s.workDir, envVars: s.envVars ?? {} }, s.tags);
    let origin = "";
    const server = createConsoleServer({ runs, token, origin: () => origin, log: s.log ?? ((l) => process.stderr.write(`console: ${l}\n`)) });
    const host = s.host ?? "127.0.0.1";
    await new Promise<void>((resolve, reject) => server.once("error", reject).listen(s.port ?? 8090, host, resolve));
    const port = (server.address() as AddressInfo).port;
    origin = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
    return {
        server, origin, token,
        url: `${origin}/?token=${token}`,
        close: () => new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
        }),
    };
}
