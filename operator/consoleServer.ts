import * as http from "http";
import { randomBytes, timingSafeEqual } from "crypto";
import { ConfigError } from "../config/config";
import { consolePage } from "./consolePage";
import { Action, Busy, FleetRuns } from "./runs";
import { ConsoleRollout, RolloutVerb } from "./consoleRollout";

/**
 * The console's HTTP side. Security, in order:
 * - it listens where it is told, 127.0.0.1 by default, and answers only requests whose
 *   `Host` is its own (a page on another name resolved to this address, DNS rebinding,
 *   gets 421);
 * - every request carries the token: `GET /?token=…` (the URL printed at start) trades it
 *   for a session: an HttpOnly, SameSite=Strict cookie holding a random session id (never
 *   the token) that expires after SESSION_HOURS; the API also takes `Authorization: Bearer
 *   <token>`. Without either: 401;
 * - a state-changing request must be a POST with `Content-Type: application/json`, the
 *   header `X-Rachel-Fleet: 1` and an `Origin` equal to the console's own (a missing one is
 *   refused): a cross-site form cannot set the header, a cross-site fetch needs a CORS
 *   preflight that is never granted. Otherwise: 403;
 * - nothing secret is in what it serves (the fleet view and engine-derived events only),
 *   and the log holds method, path and status, never a body or a token.
 */

export const CSRF_HEADER = "x-rachel-fleet";
const COOKIE = "rachel_fleet_console";

/** What the server needs of the runs (FleetRuns; a fake in the unit tests). */
export type RunsPort = Pick<FleetRuns, "start" | "view" | "subscribe">;

const SESSION_HOURS = 12;

/** What the server needs of the console's autopilot (ConsoleRollout; a fake in the unit tests). */
export type RolloutPort = Pick<ConsoleRollout, "act">;

export interface ConsoleOptions {
    runs: RunsPort;
    rollout?: RolloutPort;
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

/** Session id → when it expires (ms). Kept in this process only: a restart logs everyone out. */
class Sessions {
    private readonly expiries = new Map<string, number>();

    open(): string {
        const id = randomBytes(32).toString("base64url");
        this.expiries.set(id, Date.now() + SESSION_HOURS * 3600_000);
        return id;
    }

    valid(id: string | undefined): boolean {
        const until = id ? this.expiries.get(id) : undefined;
        if (until !== undefined && until < Date.now()) this.expiries.delete(id!);
        return until !== undefined && until >= Date.now();
    }
}

/** Whether the request carries the token (Bearer) or a live session (cookie). */
function authorized(req: http.IncomingMessage, token: string, sessions: Sessions): boolean {
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "");
    if (bearer) {
        return sameToken(bearer[1], token);
    }
    const cookie = (req.headers.cookie ?? "").split(/;\s*/).find((c) => c.startsWith(`${COOKIE}=`));
    return sessions.valid(cookie?.slice(COOKIE.length + 1));
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

function events(req: http.IncomingMessage, res: http.ServerResponse, runs: RunsPort): void {
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
    if (req.headers[CSRF_HEADER] !== "1" || !/^application\/json\b/.test(req.headers["content-type"] ?? "") || origin !== o.origin()) {
        send(res, 403, { error: `refused: a state-changing request must come from the console's own page (POST, JSON, header ${CSRF_HEADER}: 1, Origin ${o.origin()})` });
        return 403;
    }
    let body: Record<string, unknown>;
    try {
        body = await jsonBody(req);
    } catch (e) {
        send(res, 400, { error: `the request body is not JSON: ${(e as Error).message}` });
        return 400;
    }
    const verb = /^\/api\/rollout\/(start|pause|resume|abort)$/.exec(path)?.[1] as RolloutVerb | undefined;
    if (verb && o.rollout) {
        return answer(res, () => o.rollout!.act(verb, body).then((message) => ({ message })));
    }
    const action = actionOf(path, body);
    if (!action) {
        send(res, 404, { error: `no such action: ${path}` });
        return 404;
    }
    return answer(res, async () => ({ started: await o.runs.start(action) }));
}

/** 202 with what the action answered; 409 when something else runs, 400 for bad input. */
async function answer(res: http.ServerResponse, act: () => Promise<unknown>): Promise<number> {
    try {
        send(res, 202, await act());
        return 202;
    } catch (e) {
        const status = e instanceof Busy ? 409 : e instanceof ConfigError ? 400 : 500;
        send(res, status, { error: (e as Error).message });
        return status;
    }
}

async function route(req: http.IncomingMessage, res: http.ServerResponse, o: ConsoleOptions, sessions: Sessions): Promise<number> {
    const url = new URL(req.url ?? "/", "http://console.invalid");
    const own = new URL(o.origin()).host;
    if (req.headers.host !== own) {
        send(res, 421, `421: this is the console at ${own}; a request for ${JSON.stringify(req.headers.host ?? "")} is refused (another name pointed at this address).\n`, "text/plain");
        return 421;
    }
    if (req.method === "GET" && url.pathname === "/" && url.searchParams.has("token")) {
        if (!sameToken(url.searchParams.get("token") ?? "", o.token)) {
            send(res, 401, "401: wrong token. Open the URL the console printed when it started.\n", "text/plain");
            return 401;
        }
        const secure = o.origin().startsWith("https:") ? "; Secure" : "";
        res.writeHead(303, { Location: "/", "Set-Cookie": `${COOKIE}=${sessions.open()}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_HOURS * 3600}${secure}`, "Cache-Control": "no-store" });
        res.end();
        return 303;
    }
    if (!authorized(req, o.token, sessions)) {
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

/** The console's request handler (served over HTTP or HTTPS by console.ts). */
export function consoleHandler(o: ConsoleOptions): http.RequestListener {
    const sessions = new Sessions();
    return (req, res) => {
        const path = (req.url ?? "/").split("?")[0];
        route(req, res, o, sessions).then(
            (status) => o.log(`${req.method} ${path} ${status}`),
            (e) => {
                o.log(`${req.method} ${path} 500 ${(e as Error).message.split("\n")[0]}`);
                if (!res.headersSent) {
                    send(res, 500, { error: (e as Error).message });
                }
            },
        );
    };
}
