import * as http from "http";
import { timingSafeEqual } from "crypto";
import { ConfigError } from "../config/config";
import { consolePage } from "./consolePage";
import { Action, Busy, FleetRuns } from "./runs";

/**
 * The console's HTTP side. Security, in order:
 * - it listens where it is told, 127.0.0.1 by default;
 * - every request carries the token: `GET /?token=…` (the URL printed at start) trades it
 *   for an HttpOnly, SameSite=Strict cookie and redirects to `/`; the API also takes
 *   `Authorization: Bearer …`. Without it: 401;
 * - a state-changing request must be a POST with `Content-Type: application/json` and the
 *   header `X-Rachel-Fleet: 1`, and an Origin (when sent) equal to the console's own: a
 *   cross-site form cannot set the header, a cross-site fetch needs a CORS preflight that
 *   is never granted. Otherwise: 403;
 * - nothing secret is in what it serves (the fleet view and engine-derived events only),
 *   and the log holds method, path and status, never a body or a token.
 */

export const CSRF_HEADER = "x-rachel-fleet";
const COOKIE = "rachel_fleet_console";

export interface ConsoleOptions {
    runs: FleetRuns;
    token: string;
    /** The origin the page is served from, e.g. http://127.0.0.1:8090. */
    origin: () => string;
    log: (line: string) => void;
}

const sameToken = (given: string | undefined, token: string) => {
    const a = Buffer.from(given ?? "");
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
};

function tokenOf(req: http.IncomingMessage): string | undefined {
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "");
    if (bearer) {
        return bearer[1];
    }
    const cookie = (req.headers.cookie ?? "").split(/;\s*/).find((c) => c.startsWith(`${COOKIE}=`));
    return cookie?.slice(COOKIE.length + 1);
}

function send(res: http.ServerResponse, status: number, body: unknown, type = "application/json"): void {
    res.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY" });
    res.end(type === "application/json" ? JSON.stringify(body) : String(body));
}

async function jsonBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
    let raw = "";
    for await (const chunk of req) {
        raw += chunk;
        if (raw.length > 10_000) {
            throw new ConfigError("request body too large");
        }
    }
    const parsed = raw ? JSON.parse(raw) : {};
    return parsed && typeof parsed === "object" ? parsed : {};
}

/** The action a POST asks for; bad values are checked by the runs with the program's messages. */
function actionOf(path: string, body: Record<string, unknown>): Action | undefined {
    const percent = Number(body.percent);
    switch (path) {
        case "/api/preview": return { kind: "preview", percent };
        case "/api/advance": return { kind: "advance", percent };
        case "/api/release": return { kind: "release", commit: String(body.commit ?? "") };
        case "/api/retry": return { kind: "retry" };
        case "/api/refresh": return { kind: "refresh" };
        default: return undefined;
    }
}

function events(req: http.IncomingMessage, res: http.ServerResponse, runs: FleetRuns): void {
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store", Connection: "keep-alive" });
    res.write(": connected\n\n");
    const off = runs.subscribe((e) => res.write(`data: ${JSON.stringify(e)}\n\n`));
    const ping = setInterval(() => res.write(": ping\n\n"), 15_000);
    req.on("close", () => {
        off();
        clearInterval(ping);
    });
}

async function post(req: http.IncomingMessage, res: http.ServerResponse, o: ConsoleOptions, path: string): Promise<number> {
    const origin = req.headers.origin;
    if (req.headers[CSRF_HEADER] !== "1" || !/^application\/json\b/.test(req.headers["content-type"] ?? "") || (origin !== undefined && origin !== o.origin())) {
        send(res, 403, { error: `refused: a state-changing request must come from the console's own page (POST, JSON, header ${CSRF_HEADER}: 1, same origin)` });
        return 403;
    }
    let body: Record<string, unknown>;
    try {
        body = await jsonBody(req);
    } catch (e) {
        send(res, 400, { error: `the request body is not JSON: ${(e as Error).message}` });
        return 400;
    }
    const action = actionOf(path, body);
    if (!action) {
        send(res, 404, { error: `no such action: ${path}` });
        return 404;
    }
    try {
        const run = await o.runs.start(action);
        send(res, 202, { started: run });
        return 202;
    } catch (e) {
        const status = e instanceof Busy ? 409 : e instanceof ConfigError ? 400 : 500;
        send(res, status, { error: (e as Error).message });
        return status;
    }
}

async function route(req: http.IncomingMessage, res: http.ServerResponse, o: ConsoleOptions): Promise<number> {
    const url = new URL(req.url ?? "/", "http://console.invalid");
    if (req.method === "GET" && url.pathname === "/" && url.searchParams.has("token")) {
        if (!sameToken(url.searchParams.get("token") ?? "", o.token)) {
            send(res, 401, "401: wrong token. Open the URL the console printed when it started.\n", "text/plain");
            return 401;
        }
        res.writeHead(303, { Location: "/", "Set-Cookie": `${COOKIE}=${o.token}; HttpOnly; SameSite=Strict; Path=/`, "Cache-Control": "no-store" });
        res.end();
        return 303;
    }
    if (!sameToken(tokenOf(req), o.token)) {
        send(res, 401, "401: this console needs its token. Open the URL it printed when it started (http://…/?token=…).\n", "text/plain");
        return 401;
    }
    if (req.method === "POST") {
        return post(req, res, o, url.pathname);
    }
    if (req.method !== "GET") {
        send(res, 405, { error: "method not allowed" });
        return 405;
    }
    switch (url.pathname) {
        case "/": send(res, 200, consolePage(), "text/html; charset=utf-8"); return 200;
        case "/api/fleet": send(res, 200, await o.runs.view()); return 200;
        case "/api/events": events(req, res, o.runs); return 200;
        default: send(res, 404, { error: "not found" }); return 404;
    }
}

export function createConsoleServer(o: ConsoleOptions): http.Server {
    return http.createServer((req, res) => {
        const path = (req.url ?? "/").split("?")[0];
        route(req, res, o).then(
            (status) => o.log(`${req.method} ${path} ${status}`),
            (e) => {
                o.log(`${req.method} ${path} 500 ${(e as Error).message.split("\n")[0]}`);
                if (!res.headersSent) {
                    send(res, 500, { error: (e as Error).message });
                }
            },
        );
    });
}
