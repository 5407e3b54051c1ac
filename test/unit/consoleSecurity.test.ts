// The console's HTTP guard, probed over real HTTP on loopback (the runs behind it faked):
// a foreign Host header (DNS rebinding), a state change without an Origin, a session
// cookie that is not the token and expires, a short token from the environment.
import * as assert from "assert";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { AddressInfo } from "net";
import { consoleHandler, RunsPort } from "../../operator/consoleServer";
import { TOKEN_ENV, startConsole } from "../../operator/console";

const TOKEN = "t".repeat(40);

function request(port: number, method: string, p: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.request({ host: "127.0.0.1", port, method, path: p, headers, setHost: !("Host" in headers) }, (res) => {
            let b = "";
            res.on("data", (d) => (b += d));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }));
        });
        req.on("error", reject);
        req.end(body);
    });
}

describe("the console's guard (real HTTP, fake runs)", () => {
    let server: http.Server;
    let port = 0;
    const started: string[] = [];
    const origin = () => `http://127.0.0.1:${port}`;

    before(async () => {
        const runs: RunsPort = {
            view: async () => ({ rows: [] }),
            start: async (a) => (started.push(a.kind), { action: a.kind, startedAt: "now", total: 0, done: 0 }),
            subscribe: () => () => undefined,
        };
        server = http.createServer(consoleHandler({ runs: runs as RunsPort, token: TOKEN, origin, log: () => undefined }));
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        port = (server.address() as AddressInfo).port;
    });
    after(() => server.close());

    it("refuses a request whose Host is not the console's own (another name pointed at this address)", async () => {
        const r = await request(port, "GET", "/api/fleet", { Host: `rebound.example:${port}`, Authorization: `Bearer ${TOKEN}` });
        assert.strictEqual(r.status, 421);
        assert.match(r.body, /this is the console at 127\.0\.0\.1:\d+; a request for "rebound\.example:\d+" is refused/);
        assert.strictEqual((await request(port, "GET", "/api/fleet", { Authorization: `Bearer ${TOKEN}` })).status, 200);
    });

    it("trades the token for a session cookie that is not the token and expires; the token itself is no cookie", async () => {
        const login = await request(port, "GET", `/?token=${TOKEN}`);
        assert.strictEqual(login.status, 303);
        const cookie = String(login.headers["set-cookie"]);
        assert.match(cookie, /^rachel_fleet_console=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=43200$/);
        assert.ok(!cookie.includes(TOKEN), "the cookie carries the token");
        const session = cookie.split(";")[0];
        assert.strictEqual((await request(port, "GET", "/api/fleet", { Cookie: session })).status, 200);
        assert.strictEqual((await request(port, "GET", "/api/fleet", { Cookie: `rachel_fleet_console=${TOKEN}` })).status, 401);
        assert.strictEqual((await request(port, "GET", "/api/fleet", { Cookie: "rachel_fleet_console=forged" })).status, 401);
    });

    it("refuses a state change without the console's own Origin, even with the token and the header", async () => {
        const base = { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json", "X-Rachel-Fleet": "1" };
        const none = await request(port, "POST", "/api/refresh", base, "{}");
        assert.strictEqual(none.status, 403);
        assert.match(JSON.parse(none.body).error, /must come from the console's own page .*Origin http:\/\/127\.0\.0\.1:\d+/);
        assert.strictEqual((await request(port, "POST", "/api/refresh", { ...base, Origin: "http://evil.example" }, "{}")).status, 403);
        assert.deepStrictEqual(started, [], "a refused request started a run");
        assert.strictEqual((await request(port, "POST", "/api/refresh", { ...base, Origin: origin() }, "{}")).status, 202);
        assert.deepStrictEqual(started, ["refresh"]);
    });

    it("refuses a token from the environment shorter than 32 characters, before it listens", async () => {
        process.env[TOKEN_ENV] = "short-token";
        try {
            await assert.rejects(startConsole({ stackName: "none", workDir: "/nonexistent", port: 0, log: () => undefined }),
                /RACHEL_FLEET_CONSOLE_TOKEN is 11 characters long; a console token must have at least 32/);
        } finally {
            delete process.env[TOKEN_ENV];
        }
    });

    it("warns that a console on a non-loopback address without TLS sends its token in the clear", async () => {
        const lines: string[] = [];
        process.env[TOKEN_ENV] = TOKEN;
        try {
            const c = await startConsole({ stackName: "none", workDir: "/nonexistent", host: "0.0.0.0", port: 0, log: (l) => lines.push(l) });
            await c.close();
        } finally {
            delete process.env[TOKEN_ENV];
        }
        assert.match(lines.join("\n"), /WARNING: listening on 0\.0\.0\.0, not loopback, over plain HTTP.*--tls-cert and --tls-key/);
    });

    it("serves HTTPS with --tls-cert/--tls-key, its cookie Secure", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rachel-fleet-tls-"));
        const made = spawnSync("openssl", ["req", "-x509", "-newkey", "ed25519", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem")], { encoding: "utf8" });
        assert.strictEqual(made.status, 0, `openssl (Debian's openssl package) could not make a test certificate: ${made.stderr}`);
        process.env[TOKEN_ENV] = TOKEN;
        try {
            const c = await startConsole({ stackName: "none", workDir: "/nonexistent", port: 0, tlsCert: path.join(dir, "cert.pem"), tlsKey: path.join(dir, "key.pem"), log: () => undefined });
            try {
                assert.match(c.url, /^https:\/\/127\.0\.0\.1:\d+\/\?token=/);
                const r = await new Promise<{ status: number; cookie: string }>((resolve, reject) =>
                    https.get(`${c.origin}/?token=${TOKEN}`, { rejectUnauthorized: false }, (res) => (res.resume(), resolve({ status: res.statusCode ?? 0, cookie: String(res.headers["set-cookie"]) }))).on("error", reject));
                assert.strictEqual(r.status, 303);
                assert.match(r.cookie, /; Secure$/);
            } finally {
                await c.close();
            }
        } finally {
            delete process.env[TOKEN_ENV];
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
