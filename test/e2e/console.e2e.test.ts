// End to end: the operator's console and status table against a 10-host lab, the real
// engine (through the Automation API) and a real browser (Debian's chromium driven by
// puppeteer-core). Screenshots of each state land in .e2e/console/ (not committed).
import * as assert from "assert";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { spawnSync } from "child_process";
import puppeteer, { Browser, Page } from "puppeteer-core";
import { LabStatus, readLabStatus } from "../../lab/labStatus";
import { REPO_ROOT } from "../../lab/paths";
import { RunningConsole, startConsole } from "../../operator/console";
import { tagsOf } from "../../operator/stackAccess";
import { runOnHost } from "../../lab/sshExec";
import { cohortFor } from "../../stages/cohort";
import { hostTruth } from "../lab/hostTruth";
import { lab } from "../lab/labCli";
import { TestStack, createTestStack } from "./stackHarness";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = path.join(REPO_ROOT, ".e2e", "console");
const WRAPPER = path.join(REPO_ROOT, ".e2e", "console-pulumi");
const CALLS = path.join(WRAPPER, "calls.log");

/** One HTTP request to the console, as any client would send it. */
function request(c: RunningConsole, method: string, p: string, opts: { headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.request(`${c.origin}${p}`, { method, headers: opts.headers }, (res) => {
            let body = "";
            res.on("data", (d) => (body += d));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("error", reject);
        req.end(opts.body);
    });
}

describe("the operator's console and status table (10-host lab, real engine, real browser)", function () {
    this.timeout(1800000);
    let status: LabStatus;
    let t: TestStack;
    let c: RunningConsole;
    let browser: Browser;
    let page: Page;
    const serverLog: string[] = [];
    const streamed: string[] = [];
    const names = () => status.hosts.map((h) => h.name);
    const sha = (tag: string) => (status.releases as Record<string, string>)[tag];
    const api = (method: string, p: string, body?: unknown, headers: Record<string, string> = {}) =>
        request(c, method, p, { headers: { Authorization: `Bearer ${c.token}`, "Content-Type": "application/json", "X-Rachel-Fleet": "1", Origin: c.origin, ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
    /** Every pulumi command the console ran, as a wrapper first on its PATH logged them. */
    const pulumiCalls = () => (fs.existsSync(CALLS) ? fs.readFileSync(CALLS, "utf8") : "");
    const statusOf = (host: string) => page.$eval(`tr[data-host="${host}"] td.status`, (td) => td.textContent ?? "");
    const waitStatus = (host: string, want: string, timeout = 300000) =>
        page.waitForFunction((h, w) => document.querySelector(`tr[data-host="${h}"] td.status`)?.textContent === w, { timeout, polling: 100 }, host, want);
    const idle = () => page.waitForFunction(() => !/running|…/.test(document.querySelector("#message")?.textContent ?? ""), { timeout: 300000, polling: 200 });
    /**
     * A row's status badge's computed style, read in one step: a view event re-renders the
     * table, so a badge found first and styled after may be a detached one (its style empty).
     */
    const badgeStyle = (host: string, prop: "backgroundColor" | "outlineStyle") => page.evaluate((h, p) => {
        const b = document.querySelector(`tr[data-host="${h}"] td.status span`);
        return b ? getComputedStyle(b)[p as "backgroundColor"] : "no badge";
    }, host, prop);
    const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

    /** `npm run status` for the test stack, each row checked against what its host runs. */
    const assertStatusTable = async (verdict: RegExp) => {
        const r = spawnSync(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", path.join(REPO_ROOT, "operator", "statusCli.ts"), "--stack", "console", "--dir", t.dir, "--repo", status.repoUrl],
            { cwd: REPO_ROOT, env: { ...process.env, ...t.env }, encoding: "utf8" });
        assert.strictEqual(r.status, 0, r.stderr);
        for (const h of status.hosts) {
            const truth = await hostTruth(h);
            const line = r.stdout.split("\n").find((l) => l.startsWith(`${h.name} `)) ?? "";
            if (/not managed yet/.test(line)) {
                assert.strictEqual(truth.head, sha("v1"), `${h.name} is not managed yet but runs ${truth.head}`);
            } else {
                assert.ok(line.includes(truth.head.slice(0, 12)), `${h.name} runs ${truth.head}, the table says: ${line}`);
            }
        }
        assert.match(r.stdout, verdict);
    };

    before(async () => {
        assert.ok(fs.existsSync(CHROMIUM), `the console's browser tests need Debian's chromium at ${CHROMIUM} (apt-get install chromium; scripts/setup.sh installs it)`);
        fs.mkdirSync(SHOTS, { recursive: true });
        lab("up", "--hosts", "10");
        status = readLabStatus();
        t = await createTestStack("console", status, { targetCommit: sha("v1"), rolloutPercent: 10 });
        // A pulumi first on the PATH that logs each command the console runs (marked by its env), then runs the real one.
        const real = spawnSync("sh", ["-c", "command -v pulumi"], { env: { ...process.env, ...t.env }, encoding: "utf8" }).stdout.trim();
        fs.mkdirSync(WRAPPER, { recursive: true });
        fs.writeFileSync(path.join(WRAPPER, "pulumi"), `#!/bin/sh\n[ "$RACHEL_FLEET_PROBE" = console ] && echo "$*" >> ${CALLS}\nexec ${real} "$@"\n`, { mode: 0o755 });
        fs.rmSync(CALLS, { force: true });
        process.env.PATH = `${WRAPPER}:${process.env.PATH}`;
        const envVars = { ...t.env, PATH: `${WRAPPER}:${t.env.PATH}`, RACHEL_FLEET_PROBE: "console" };
        c = await startConsole({ stackName: "console", workDir: t.dir, envVars, port: 0, tags: tagsOf(status.repoUrl), log: (l) => serverLog.push(l) });
        // Everything the page's event stream carries, read as a raw client would.
        http.get(`${c.origin}/api/events`, { headers: { Authorization: `Bearer ${c.token}` } }, (res) => res.on("data", (d) => streamed.push(String(d))));
        browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
        page = await browser.newPage();
        await page.setViewport({ width: 1400, height: 900 });
    });
    after(async () => {
        await browser?.close();
        await c?.close();
        await t?.destroy();
        lab("down");
    });

    it("refuses requests without the token, cross-site state changes, and bad input with the program's messages", async () => {
        assert.strictEqual((await request(c, "GET", "/")).status, 401);
        assert.strictEqual((await request(c, "GET", "/?token=wrong")).status, 401);
        assert.strictEqual((await request(c, "GET", "/api/fleet", { headers: { Authorization: "Bearer wrong" } })).status, 401);
        assert.strictEqual((await request(c, "POST", "/api/refresh", { headers: { "Content-Type": "application/json", "X-Rachel-Fleet": "1" }, body: "{}" })).status, 401);
        const crossSite = await api("POST", "/api/advance", { percent: 50 }, { Origin: "http://evil.example" });
        assert.deepStrictEqual([crossSite.status, JSON.parse(crossSite.body).error], [403, `refused: a state-changing request must come from the console's own page (POST, JSON, header x-rachel-fleet: 1, Origin ${c.origin})`]);
        const noOrigin = await request(c, "POST", "/api/advance", { headers: { Authorization: `Bearer ${c.token}`, "Content-Type": "application/json", "X-Rachel-Fleet": "1" }, body: '{"percent":50}' });
        assert.strictEqual(noOrigin.status, 403, "a state change without an Origin is refused");
        const rebound = await request(c, "GET", "/api/fleet", { headers: { Authorization: `Bearer ${c.token}`, Host: `rebound.example:${new URL(c.origin).port}` } });
        assert.strictEqual(rebound.status, 421, "a request for another name (DNS rebinding) is refused");
        const form = await request(c, "POST", "/api/advance", { headers: { Authorization: `Bearer ${c.token}`, "Content-Type": "application/x-www-form-urlencoded" }, body: "percent=50" });
        assert.strictEqual(form.status, 403, "a form post (no custom header) is refused");
        const cases: [string, unknown, string][] = [
            ["/api/release", { commit: "not-a-sha" }, 'rachel-fleet:targetCommit must be a full 40-character lowercase hex git SHA; got "not-a-sha". Fix: pulumi config set rachel-fleet:targetCommit $(git rev-parse <tag>)'],
            ["/api/advance", { percent: 0 }, 'rachel-fleet:rolloutPercent must be a whole number from 1 to 100; got "0". Fix: pulumi config set rachel-fleet:rolloutPercent 10'],
            ["/api/advance", { percent: 101 }, 'rachel-fleet:rolloutPercent must be a whole number from 1 to 100; got "101". Fix: pulumi config set rachel-fleet:rolloutPercent 10'],
        ];
        for (const [p, body, message] of cases) {
            const r = await api("POST", p, body);
            assert.deepStrictEqual([r.status, JSON.parse(r.body).error], [400, message], `${p} ${JSON.stringify(body)}`);
        }
    });

    it("in the browser: a release started at 10% moves the canary updating → success live; a second trigger is refused (409)", async () => {
        await page.goto(c.url);
        assert.strictEqual(new URL(page.url()).search, "", "the token is traded for a cookie and leaves the address bar");
        const cookies = await page.cookies();
        assert.ok(cookies.length === 1 && cookies[0].value !== c.token && cookies[0].httpOnly && cookies[0].expires > Date.now() / 1000, `the session cookie: ${JSON.stringify(cookies.map((x) => ({ ...x, value: x.value === c.token ? "THE TOKEN" : "session" })))}`);
        // A new stack has no rows yet: the page says so, and rows appear as the engine reports hosts.
        await page.waitForFunction(() => /no stage has run on this stack yet/.test(document.querySelector("#summary")?.textContent ?? ""));
        await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
        const [canary] = cohortFor(10, names(), sha("v2"));
        await page.type("#commit", sha("v2"));
        await page.click("#btn-release");
        await waitStatus(canary, "updating");
        await shot("1-canary-updating");
        const second = await api("POST", "/api/retry", {});
        assert.deepStrictEqual([second.status, JSON.parse(second.body).error], [409, JSON.parse(second.body).error]);
        assert.match(JSON.parse(second.body).error, /^a release started at .* is still running; one run at a time$/);
        await waitStatus(canary, "success");
        await idle();
        assert.strictEqual(await page.$eval("#progress-text", (p) => p.textContent), "1 / 1", "the stage's progress bar counts the canary");
        assert.strictEqual(await badgeStyle(canary, "backgroundColor"), "rgb(220, 243, 226)", "success wears its green badge");
        await page.waitForFunction(() => document.querySelector("#stages span.done")?.textContent === "10%" && !document.querySelector("#stages span.current"), { timeout: 30000 });
        assert.match(await page.$eval("#counts", (x) => x.textContent ?? ""), /^10 hosts: 1 updated, 0 failed, 0 rolled back$/);
        await shot("2-canary-success");
        assert.strictEqual(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true, "the page was reloaded");
        assert.strictEqual((await hostTruth(status.hosts.find((h) => h.name === canary)!)).head, sha("v2"));
        await assertStatusTable(/rollout: release (\S+ )?\w{12} at 10%: 1\/1 hosts succeeded\./);
        // The view that follows the run shows the version as the operator reads it: tag and short SHA.
        await page.waitForFunction((h, want) => document.querySelector(`tr[data-host="${h}"] td.current`)?.textContent === want, { timeout: 30000 }, canary, `v2 ${sha("v2").slice(0, 12)}`);
    });

    it("a preview marks exactly the hosts the next stage would change, and changes nothing", async () => {
        const expected = cohortFor(50, names(), sha("v2")).filter((n) => n !== cohortFor(10, names(), sha("v2"))[0]).sort();
        const before = await Promise.all(status.hosts.map((h) => hostTruth(h)));
        await page.$eval("#percent", (i) => ((i as HTMLInputElement).value = ""));
        await page.type("#percent", "50");
        await page.click("#btn-preview");
        await page.waitForFunction(() => /^preview finished: /.test(document.querySelector("#message")?.textContent ?? ""), { timeout: 300000, polling: 200 });
        await shot("2b-preview-50");
        assert.strictEqual(await page.$eval("#message", (m) => m.textContent), `preview finished: ${expected.length} host(s) would change (${expected.join(", ")})`);
        const marked = await page.$$eval("td.status", (tds) => tds.filter((td) => td.textContent === "will change").map((td) => (td.parentElement as HTMLElement).dataset.host));
        assert.deepStrictEqual(marked.sort(), expected);
        assert.ok(!["none", "no badge", ""].includes(await badgeStyle(expected[0], "outlineStyle")), "\"will change\" is visibly marked");
        const after = await Promise.all(status.hosts.map((h) => hostTruth(h)));
        assert.deepStrictEqual(after.map((x) => [x.head, x.pid]), before.map((x) => [x.head, x.pid]), "a preview touched a host");
        const cfg = await t.stack.getConfig("rachel-fleet:rolloutPercent");
        assert.strictEqual(cfg.value, "10", "a preview must leave the stack's stage as it was");
    });

    it("a run started from the CLI holds the stack lock: the console's trigger is refused with 409", async () => {
        const cliRun = t.stack.up();
        // The file backend's lock: present from the moment the CLI's update holds the stack.
        const locks = path.join(t.env.PULUMI_BACKEND_URL.replace(/^file:\/\//, ""), ".pulumi", "locks");
        const held = () => fs.existsSync(locks) && fs.readdirSync(locks, { recursive: true }).some((f) => String(f).endsWith(".json"));
        for (let i = 0; i < 600 && !held(); i++) {
            await new Promise((r) => setTimeout(r, 50));
        }
        assert.ok(held(), "the CLI's update never took the stack lock");
        const cfgFile = path.join(t.dir, "Pulumi.console.yaml");
        const before = fs.readFileSync(cfgFile, "utf8");
        const r = await api("POST", "/api/advance", { percent: 50 });
        await cliRun;
        assert.deepStrictEqual([r.status, JSON.parse(r.body).error], [409, "stack console is locked by another update (a pulumi command or driver running elsewhere); try again when it has finished"]);
        await new Promise((res) => setTimeout(res, 2000));
        assert.strictEqual(fs.readFileSync(cfgFile, "utf8"), before, "the refused advance changed the stack's config");
    });

    it("a bad release shows rolled_back and the halted banner; advancing it is refused on the page", async () => {
        const [canary] = cohortFor(10, names(), sha("crash-start"));
        await page.$eval("#commit", (i) => ((i as HTMLInputElement).value = ""));
        await page.type("#commit", sha("crash-start"));
        await page.click("#btn-release");
        await waitStatus(canary, "updating");
        // A page opened now shows the run: its release in the summary, the stage running, its progress bar with the total.
        const late = await browser.newPage();
        try {
            await late.goto(c.url);
            await late.waitForFunction(() => /^\d+ \/ 1$/.test(document.querySelector("#progress-text")?.textContent ?? "") &&
                /^running: release \w{12} at 10% \(release\)/.test(document.querySelector("#summary")?.textContent ?? "") &&
                document.querySelector("#stages span.current")?.textContent === "10%", { timeout: 60000, polling: 100 });
        } finally {
            await late.close();
        }
        await waitStatus(canary, "rolled_back");
        await page.waitForFunction(() => /^Rollout halted\./.test(document.querySelector("#banner")?.textContent ?? ""), { timeout: 300000 });
        await idle();
        await shot("3-halted");
        assert.match(await page.$eval("#banner", (b) => b.textContent ?? ""), /^Rollout halted\. release \w{12} at 10%: 0\/1 hosts succeeded; ROLLOUT HALTED, failed: .* To go on, either fix forward/);
        await page.$eval("#percent", (i) => ((i as HTMLInputElement).value = ""));
        await page.type("#percent", "50");
        await page.click("#btn-advance");
        await page.waitForFunction(() => /^advance failed: /.test(document.querySelector("#message")?.textContent ?? ""), { timeout: 300000 });
        await shot("4-advance-refused");
        assert.match(await page.$eval("#message", (m) => m.textContent ?? ""), /is halted: the 10% stage failed on 1 of 1 hosts .* Refusing to advance to 50%; no host was touched/);
        assert.strictEqual(await statusOf(canary), "rolled_back");
        assert.strictEqual((await t.stack.getConfig("rachel-fleet:rolloutPercent")).value, "10", "the refused advance changed rolloutPercent");
        // Retry is the stage the stack records, whatever the config asks for meanwhile.
        await t.stack.setConfig("rachel-fleet:rolloutPercent", { value: "50" });
        const retry = await api("POST", "/api/retry", {});
        assert.strictEqual(retry.status, 202, retry.body);
        await idle();
        const out = await t.stack.outputs();
        assert.deepStrictEqual([out.rollout.value.percent, out.rollout.value.release], [10, sha("crash-start")], "retry ran another stage than the recorded one");
        assert.strictEqual((await t.stack.getConfig("rachel-fleet:rolloutPercent")).value, "10");
    });

    it("npm run status prints the rows the hosts really run after each stage", async () => {
        await assertStatusTable(/rollout: release (\S+ )?\w{12} at 10%: 0\/1 hosts succeeded; ROLLOUT HALTED/);
    });

    it("a refresh shows a fresh update marker as updating and an old one as stale", async () => {
        // The two canaries: the hosts with version records for refresh to read.
        const [fresh, stale] = [cohortFor(10, names(), sha("v2"))[0], cohortFor(10, names(), sha("crash-start"))[0]].map((n) => status.hosts.find((h) => h.name === n)!);
        assert.notStrictEqual(fresh.name, stale.name);
        const now = Math.floor(Date.now() / 1000);
        const marker = (since: number, staleAfter: number) =>
            `mkdir -p ~/.rachel-fleet && printf '%s' '{"since":"${new Date(since * 1000).toISOString().slice(0, 19)}Z","epoch":${since},"staleAfterEpoch":${staleAfter},"target":"x","attempt":"x-1"}' > ~/.rachel-fleet/updating`;
        await runOnHost(fresh, marker(now, now + 3600));
        await runOnHost(stale, marker(now - 7200, now - 3600));
        try {
            await page.click("#btn-refresh");
            await page.waitForFunction((a, b) => /^updating since /.test(document.querySelector(`tr[data-host="${a}"] td.marker`)?.textContent ?? "") &&
                /^stale marker since /.test(document.querySelector(`tr[data-host="${b}"] td.marker`)?.textContent ?? ""), { timeout: 120000, polling: 200 }, fresh.name, stale.name);
            await shot("5-markers");
        } finally {
            await runOnHost(fresh, "rm -f ~/.rachel-fleet/updating");
            await runOnHost(stale, "rm -f ~/.rachel-fleet/updating");
        }
    });

    it("Start release runs v3 through 10 → 50 → 100 by itself: live hosts, a pause holds it after the running stage, the bake counts down, the timeline lists each stage", async () => {
        await t.stack.setConfig("rachel-fleet:bakeSeconds", { value: "8" });
        const autopilotText = () => page.$eval("#autopilot", (x) => x.textContent ?? "");
        const waitAutopilot = (re: RegExp, timeout = 300000) => page.waitForFunction((src) => new RegExp(src).test(document.querySelector("#autopilot")?.textContent ?? ""), { timeout, polling: 100 }, re.source);
        const [canary] = cohortFor(10, names(), sha("v3"));
        await page.$eval("#commit", (i) => ((i as HTMLInputElement).value = ""));
        await page.type("#commit", sha("v3"));
        await page.click("#btn-autopilot");
        await waitAutopilot(/^autopilot: running the 10% stage$/);
        // A second trigger while it drives: refused, naming the driver.
        const second = await api("POST", "/api/rollout/start", { commit: sha("v3") });
        assert.strictEqual(second.status, 409);
        assert.match(JSON.parse(second.body).error, /^a release \(\w{12}\) is already being driven on this stack \(pid \d+, running\); pause, resume or abort it$/);
        const advance = await api("POST", "/api/advance", { percent: 50 });
        assert.deepStrictEqual([advance.status, JSON.parse(advance.body).error], [409, JSON.parse(advance.body).error]);
        await page.click("#btn-pause");
        await waitStatus(canary, "success");
        await waitAutopilot(/^autopilot: paused before the 50% stage$/);
        await shot("6-autopilot-paused");
        // Held: the bake is long over, and no 50% stage starts while paused.
        await new Promise((r) => setTimeout(r, 10000));
        assert.strictEqual(await autopilotText(), "autopilot: paused before the 50% stage");
        assert.strictEqual((await t.stack.outputs()).rollout.value.percent, 10, "a paused release advanced");
        const running = await Promise.all(status.hosts.map((h) => hostTruth(h)));
        assert.deepStrictEqual(running.filter((x) => x.head === sha("v3")).length, 1, "only the canary runs v3 while paused");
        await page.click("#btn-resume");
        await waitAutopilot(/^autopilot: running the 50% stage$/);
        // After the 50% stage the bake holds the 100% stage, with its countdown on the indicator.
        await waitAutopilot(/^autopilot: waiting for the bake: 0:0[1-8] left before the 100% stage$/);
        await shot("7-autopilot-bake");
        await waitAutopilot(/^autopilot: complete: release \w{12} is at 100%: complete$/);
        await idle();
        await shot("8-autopilot-complete");
        const lines = await page.$$eval("#timeline li", (li) => li.map((l) => l.textContent ?? ""));
        assert.strictEqual(lines.length, 3, lines.join("\n"));
        const want = [10, 50, 100].map((p) => new RegExp(`^${p}%  \\d\\d:\\d\\d:\\d\\d → \\d\\d:\\d\\d:\\d\\d  stage done: (\\d+)/\\1 succeeded, 0 rolled back, 0 failed$`));
        lines.forEach((l, i) => assert.match(l, want[i]));
        assert.deepStrictEqual(await page.$$eval("#stages span.done", (x) => x.map((s) => s.textContent)), ["10%", "50%", "100%"]);
        for (const h of status.hosts) {
            assert.strictEqual((await hostTruth(h)).head, sha("v3"), `${h.name} after the release`);
        }
        await assertStatusTable(/rollout: release (\S+ )?\w{12} at 100%: \d+\/\d+ hosts succeeded\./);
    });

    it("abort stops a release before its next stage; no further stage runs", async () => {
        const [canary] = cohortFor(10, names(), sha("v2"));
        await page.$eval("#commit", (i) => ((i as HTMLInputElement).value = ""));
        await page.type("#commit", sha("v2"));
        await page.click("#btn-autopilot");
        await page.waitForFunction(() => /^autopilot: running the 10% stage$/.test(document.querySelector("#autopilot")?.textContent ?? ""), { timeout: 60000, polling: 100 });
        await page.click("#btn-abort");
        await page.waitForFunction(() => /^autopilot: stopped: aborted by the operator before the 50% stage/.test(document.querySelector("#autopilot")?.textContent ?? ""), { timeout: 300000, polling: 100 });
        await shot("9-autopilot-aborted");
        await new Promise((r) => setTimeout(r, 3000));
        const out = (await t.stack.outputs()).rollout.value;
        assert.deepStrictEqual([out.release, out.percent], [sha("v2"), 10], "the aborted release went past its running stage");
        const heads = await Promise.all(status.hosts.map(async (h) => [h.name, (await hostTruth(h)).head] as const));
        assert.deepStrictEqual(heads.filter(([, head]) => head === sha("v2")).map(([n]) => n), [canary]);
        assert.ok(heads.every(([, head]) => head === sha("v2") || head === sha("v3")), "a host ended between versions");
        assert.strictEqual((await page.$$eval("#timeline li", (li) => li.map((l) => l.textContent ?? ""))).length, 1);
    });

    it("never sends key material or the passphrase: page, API answers, event stream and server log", async () => {
        const key = fs.readFileSync(status.privateKeyPath, "utf8");
        const keyBody = key.split("\n").filter((l) => l && !l.startsWith("-----")).join("");
        const seen = [(await api("GET", "/")).body, (await api("GET", "/api/fleet")).body, await page.content(), streamed.join(""), serverLog.join("\n")];
        assert.ok(streamed.join("").includes('"kind":"host"'), "the raw event stream was read");
        for (const [i, text] of seen.entries()) {
            assert.ok(!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text), `a PEM header reached the browser side (#${i})`);
            for (let k = 0; k + 40 <= keyBody.length; k += 40) {
                assert.ok(!text.includes(keyBody.slice(k, k + 40)), `part of the private key reached the browser side (#${i})`);
            }
            assert.ok(!text.includes(t.env.PULUMI_CONFIG_PASSPHRASE), `the passphrase reached the browser side (#${i})`);
            assert.ok(!text.includes(c.token), `the console token is in #${i}`);
        }
        assert.ok(serverLog.some((l) => /^POST \/api\/release 202$/.test(l)) && serverLog.some((l) => /^GET \/ 401$/.test(l)), serverLog.join("\n"));
        // Nothing the console ran (its reads, and the Automation API's runs and their ends) asked
        // for secrets: no decrypted output, config or history ever reached this process.
        const calls = pulumiCalls().split("\n").filter(Boolean);
        assert.ok(calls.some((l) => l.startsWith("stack output --json")) && calls.some((l) => l.startsWith("config --json")) && calls.some((l) => l.startsWith("up ")),
            `the wrapper saw none of the console's reads and runs: ${pulumiCalls()}`);
        assert.deepStrictEqual(calls.filter((l) => /--show-secrets/.test(l)), [], "a pulumi command of the console asked for secrets");
    });
});
