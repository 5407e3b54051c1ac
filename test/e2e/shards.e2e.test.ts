// End to end: a 40-host lab fleet as 4 shard stacks on a PostgreSQL backend (Debian's
// postgresql, started by lab/postgres.ts), driven by npm run fleet under the real engine:
// a release through 10/50/100 judged as one fleet, a preview across shards, a bad release
// halting every shard although it failed in one, a second operator's driver refused while
// the first runs, 5 hosts added without moving any other between shards, and the autopilot
// (npm run rollout) taking a release through its stages over the shards.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as http from "http";
import { spawn, spawnSync } from "child_process";
import puppeteer from "puppeteer-core";
import { LabStatus, readLabStatus } from "../../lab/labStatus";
import { linkProject } from "../../lab/labProject";
import { REPO_ROOT } from "../../lab/paths";
import { StateServer, startStateServer } from "../../lab/postgres";
import { shardOf } from "../../config/shards";
import { cohortFor } from "../../stages/cohort";
import { hostTruth } from "../lab/hostTruth";
import { lab } from "../lab/labCli";
import { startConsole } from "../../operator/console";
import { tagsOf } from "../../operator/stackAccess";
import { runOnHost } from "../../lab/sshExec";
import { TestStack, createTestStack, runLog } from "./stackHarness";

const TS_NODE = require.resolve("ts-node/dist/bin.js");
const SHARDS = ["prod-s00", "prod-s01", "prod-s02", "prod-s03"];
const CHROMIUM = "/usr/bin/chromium";

describe("shards: a 40-host fleet as 4 stacks on a PostgreSQL backend, driven by npm run fleet (real engine)", function () {
    this.timeout(1800000);
    let status: LabStatus;
    let t: TestStack;
    let pg: StateServer;
    let pgDir: string;
    /** Everything every npm run fleet of this suite printed (grepped for secrets at the end). */
    const driverOutput: string[] = [];
    /** What the console sent: its event stream and its page (grepped too). */
    const consoleStream: string[] = [];
    const sha = (tag: string) => (status.releases as Record<string, string>)[tag];
    const names = (n: number) => status.hosts.slice(0, n).map((h) => h.name);
    /** npm run fleet in a project directory (an operator's checkout); resolves when it exits. */
    const fleet = (dir: string, ...args: string[]) => {
        const child = spawn(process.execPath, [TS_NODE, "--transpile-only", path.join(REPO_ROOT, "operator", "fleetCli.ts"), ...args, "--stack", "prod", "--dir", dir], { cwd: REPO_ROOT, env: { ...process.env, ...t.env } });
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (out += d));
        const done = new Promise<{ code: number; out: string }>((r) => child.on("close", (code) => {
            runLog.write(`$ npm run fleet -- ${args.join(" ")} (${dir})\n${out}`);
            driverOutput.push(out);
            r({ code: code ?? -1, out });
        }));
        return { done, output: () => out };
    };
    const pulumi = (...args: string[]) => spawnSync("pulumi", [...args, "--non-interactive"], { cwd: t.dir, env: { ...process.env, ...t.env }, encoding: "utf8" });
    const shardFleet = (s: string) => (JSON.parse(pulumi("stack", "output", "--json", "--stack", s).stdout || "{}").fleet ?? {}) as Record<string, { currentVersion: string; managed: boolean }>;
    /** Every shard's outputs against what each host runs. */
    const assertOutputsAreTruth = async (n: number, label: string) => {
        const merged = Object.assign({}, ...SHARDS.map(shardFleet)) as Record<string, { currentVersion: string; managed: boolean }>;
        for (const h of status.hosts.slice(0, n)) {
            const truth = await hostTruth(h);
            const rec = merged[h.name];
            assert.ok(rec, `${label}: ${h.name} is in no shard's outputs`);
            if (rec.managed) assert.strictEqual(rec.currentVersion, truth.head, `${label}: ${h.name}: the outputs say ${rec.currentVersion}, the host runs ${truth.head}`);
            else assert.strictEqual(truth.head, sha("v1"), `${label}: ${h.name} is not managed yet but runs ${truth.head}`);
        }
    };

    before(async () => {
        pgDir = fs.mkdtempSync(path.join(os.tmpdir(), "rachel-fleet-pg-"));
        pg = await startStateServer(pgDir);
        lab("up", "--hosts", "45");
        status = readLabStatus();
        t = await createTestStack("prod", status, { hosts: status.hosts.slice(0, 40), shards: 4, targetCommit: sha("v1"), rolloutPercent: 10 }, { backendUrl: pg.url });
    });
    afterEach(function () {
        runLog.settle(this.currentTest);
    });
    after(async () => {
        await t?.destroy();
        pg?.stop();
        lab("down");
    });

    it("takes v2 through 10/50/100, each stage one verdict across the shards; after each the shards' outputs are the hosts' truth and npm run status shows one table", async () => {
        for (const p of [10, 50, 100]) {
            const r = await fleet(t.dir, "up", "--commit", sha("v2"), "--percent", String(p)).done;
            assert.strictEqual(r.code, 0, r.out.slice(-3000));
            assert.match(r.out, new RegExp(`fleet: release ${sha("v2").slice(0, 12)} at ${p}% across 4 shards: (\\d+)/\\1 hosts succeeded\\.`));
            if (p === 10) {
                // 10% of each shard: a canary in every one.
                for (const s of SHARDS) assert.ok(Object.values(shardFleet(s)).some((x) => x.managed), `${s} has no canary`);
            }
            await assertOutputsAreTruth(40, `after ${p}%`);
        }
        const table = spawnSync(process.execPath, [TS_NODE, "--transpile-only", path.join(REPO_ROOT, "operator", "statusCli.ts"), "--stack", "prod", "--dir", t.dir], { cwd: REPO_ROOT, env: { ...process.env, ...t.env }, encoding: "utf8" });
        assert.strictEqual(table.status, 0, table.stderr);
        assert.strictEqual(table.stdout.split("\n").filter((l) => /^lab-\d\d /.test(l)).length, 40, table.stdout);
        assert.match(table.stdout, new RegExp(`rollout: release ${sha("v2").slice(0, 12)} at 100%: \\d+/\\d+ hosts succeeded\\.`));
        assert.ok(!table.stdout.includes(pg.url.split("@")[0]), "the backend's password is in the status output");
    });

    it("a preview lists exactly the hosts the next stage would change across all shards, and changes no config; plan lists the same from the shards' records", async () => {
        // Plain values and which keys are secret (a copy re-encrypts secrets: their ciphertext changes).
        const config = () => SHARDS.map((s) => pulumi("config", "--json", "--stack", s).stdout);
        const before = config();
        const r = await fleet(t.dir, "preview", "--commit", sha("v3"), "--percent", "10").done;
        assert.strictEqual(r.code, 0, r.out.slice(-3000));
        const expected = SHARDS.flatMap((s, i) => cohortFor(10, names(40).filter((n) => shardOf(n, 4) === i), sha("v3")).sort().map((h) => `${h} (${s})`));
        const line = `fleet: release ${sha("v3").slice(0, 12)} at 10% would change ${expected.length} host(s) across 4 shards: ${expected.join(", ")}\n`;
        assert.ok(r.out.includes(line), r.out);
        assert.deepStrictEqual(config(), before, "a preview changed a shard's config");
        // The records-only plan: the same hosts as the engine's preview, no shard config written.
        const p = await fleet(t.dir, "plan", "--commit", sha("v3"), "--percent", "10").done;
        assert.strictEqual(p.code, 0, p.out.slice(-3000));
        assert.ok(p.out.includes(line), `plan and the engine's preview disagree:\n${p.out}`);
        assert.deepStrictEqual(config(), before, "a plan changed a shard's config");
    });

    it("a bad release halts the whole fleet at 10% although it failed in one shard; any shard's later up refuses with the same sentence", async () => {
        const r = await fleet(t.dir, "up", "--commit", sha("crash-start"), "--percent", "10", "--shards-parallel", "1").done;
        assert.strictEqual(r.code, 1, r.out.slice(-3000));
        // Every canary of the first shard failed; the other shards never started.
        const verdict = new RegExp(`fleet: (release ${sha("crash-start").slice(0, 12)} at 10% across 4 shards: 0/(\\d+) hosts succeeded; ROLLOUT HALTED, failed: lab-\\d\\d \\(prod-s00\\)(, lab-\\d\\d \\(prod-s00\\))* \\(failure rate 100%, threshold 30%\\)\\. Not started: prod-s01, prod-s02, prod-s03 \\(the stage had already failed\\)\\.)\n`).exec(r.out);
        assert.ok(verdict, r.out);
        const sentence = new RegExp(verdict[1].replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
        for (const h of status.hosts.slice(0, 40)) assert.strictEqual((await hostTruth(h)).head, sha("v2"), `${h.name} after the halted stage`);
        // A shard that never ran the release, advanced by hand: refused with the fleet's verdict.
        assert.strictEqual(pulumi("config", "set", "rachel-fleet:rolloutPercent", "50", "--stack", "prod-s02").status, 0);
        const byHand = pulumi("up", "--yes", "--skip-preview", "--stack", "prod-s02");
        assert.notStrictEqual(byHand.status, 0);
        assert.match(byHand.stdout + byHand.stderr, new RegExp(`the rollout of ${sha("crash-start").slice(0, 12)} is halted across the fleet: ${sentence.source} Refusing to advance to 50%; no host was touched\\.`));
        const advance = await fleet(t.dir, "up", "--percent", "50").done;
        assert.strictEqual(advance.code, 1);
        assert.match(advance.out, /prod-s0\d: the stage did not run: the rollout of \w{12} is halted across the fleet: /);
        assert.match(pulumi("config", "get", "rachel-fleet:fleetHalt", "--stack", "prod").stdout, /"percent":10/, "the refused advance rewrote the fleet's halt");
        const plan = await fleet(t.dir, "plan", "--percent", "50").done;
        assert.strictEqual(plan.code, 1, plan.out);
        assert.match(plan.out, new RegExp(`fleet: prod-s00: refused: the rollout of ${sha("crash-start").slice(0, 12)} is halted across the fleet: ${sentence.source} Refusing to advance to 50%`));
        // The fleet's refusal once, not once per shard.
        assert.strictEqual(plan.out.split("is halted across the fleet").length - 1, 1, plan.out);
        assert.match(plan.out, /\nfleet: prod-s01, prod-s02, prod-s03: refused alike\n/);
    });

    it("a second operator's driver (another checkout, same backend) is refused while the first runs, naming the lock's holder; nothing is lost and it runs after", async () => {
        const fixed = await fleet(t.dir, "up", "--commit", sha("v3"), "--percent", "10").done;
        assert.strictEqual(fixed.code, 0, fixed.out.slice(-3000));
        // Unset, the key reads as its schema default, "".
        for (const s of ["prod", ...SHARDS]) assert.strictEqual(pulumi("config", "get", "rachel-fleet:fleetHalt", "--stack", s).stdout.trim(), "", `a passing stage of a new release leaves no fleet halt on ${s}`);
        const other = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "rachel-fleet-operator2-")), "project");
        linkProject(other, ["providers"]);
        for (const f of fs.readdirSync(t.dir).filter((x) => /^Pulumi\.prod.*\.yaml$/.test(x))) fs.copyFileSync(path.join(t.dir, f), path.join(other, f));
        try {
            // A release whose install takes ~10 s per host, one shard at a time: the second driver
            // (its own set-up takes a few seconds) reaches a shard the first still holds.
            const first = fleet(t.dir, "up", "--commit", sha("install-10s"), "--percent", "10", "--shards-parallel", "1");
            for (let i = 0; i < 600 && !/hosts to update over 4 shards/.test(first.output()); i++) await new Promise((r) => setTimeout(r, 100));
            const second = await fleet(other, "up", "--commit", sha("install-10s"), "--percent", "10", "--shards-parallel", "1").done;
            assert.strictEqual(second.code, 1, second.out.slice(-3000));
            assert.match(second.out, /prod-s0\d did not run: the stack is locked by \S+ \(pid \d+\)( since \S+)?: another update \(another operator's driver\?\) holds it; nothing ran there\./);
            assert.match(second.out, /another update holds the fleet: run npm run fleet again once it has finished|prod-s03 did not run/);
            assert.ok(!second.out.includes(pg.url.split("@")[0]), "the backend's password is in the driver's output");
            const firstDone = await first.done;
            assert.strictEqual(firstDone.code, 0, firstDone.out.slice(-3000));
            await assertOutputsAreTruth(40, "after two drivers");
            const again = await fleet(other, "up", "--percent", "10").done;
            assert.strictEqual(again.code, 0, again.out.slice(-3000));
            assert.match(again.out, /across 4 shards: every host of the stage already runs it; nothing to update\./);
        } finally {
            fs.rmSync(path.dirname(other), { recursive: true, force: true });
        }
    });

    it("5 hosts added: no existing host moves between shards; the new ones join the shard their name picks", async () => {
        const before = SHARDS.map((s) => Object.keys(shardFleet(s)).sort());
        t.configure({ hosts: status.hosts.slice(0, 45) });
        const r = await fleet(t.dir, "up", "--commit", sha("v3"), "--percent", "100").done;
        assert.strictEqual(r.code, 0, r.out.slice(-3000));
        const after = SHARDS.map((s) => Object.keys(shardFleet(s)).sort());
        for (const [i, s] of SHARDS.entries()) {
            assert.deepStrictEqual(after[i].filter((n) => before[i].includes(n)), before[i], `${s} lost a host`);
            for (const n of after[i].filter((x) => !before[i].includes(x))) assert.ok(!names(40).includes(n) && shardOf(n, 4) === i, `${n} moved into ${s}`);
        }
        assert.strictEqual(after.flat().length, 45);
        for (const h of status.hosts) assert.strictEqual((await hostTruth(h)).head, sha("v3"), h.name);
    });

    it("npm run rollout drives the sharded fleet: a release through 10 → 50 → 100, each stage over every shard, judged as one", async () => {
        const child = spawn(process.execPath, [TS_NODE, "--transpile-only", path.join(REPO_ROOT, "operator", "rolloutCli.ts"), "--stack", "prod", "--commit", sha("v2"), "--dir", t.dir], { cwd: REPO_ROOT, env: { ...process.env, ...t.env } });
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (out += d));
        const code = await new Promise<number>((r) => child.on("close", (c) => r(c ?? -1)));
        runLog.write(`$ npm run rollout -- --stack prod --commit v2\n${out}`);
        driverOutput.push(out);
        assert.strictEqual(code, 0, out.slice(-3000));
        const short = sha("v2").slice(0, 12);
        for (const p of [10, 50, 100]) {
            assert.match(out, new RegExp(`rollout: release ${short}: the ${p}% stage starts`), out);
            assert.match(out, new RegExp(`rollout: release ${short} at ${p}%: \\d+ hosts to update over 4 shards`), out);
            assert.match(out, new RegExp(`rollout: release ${short} at ${p}% across 4 shards: (\\d+)/\\1 hosts succeeded`), out);
        }
        assert.match(out, new RegExp(`rollout: release ${short} is at 100%: complete`));
        for (const h of status.hosts) assert.strictEqual((await hostTruth(h)).head, sha("v2"), `${h.name} after the autopilot's release`);
        await assertOutputsAreTruth(45, "after npm run rollout");
    });

    it("the console over the sharded fleet, in a browser: one table of every shard's hosts, a release, a preview, the autopilot and a refresh over the 4 shards", async () => {
        assert.ok(fs.existsSync(CHROMIUM), `the console's browser test needs Debian's chromium at ${CHROMIUM} (apt-get install chromium; scripts/setup.sh installs it)`);
        const log: string[] = [];
        const c = await startConsole({ stackName: "prod", workDir: t.dir, envVars: t.env, port: 0, tags: tagsOf(status.repoUrl), log: (l) => log.push(l) });
        http.get(`${c.origin}/api/events`, { headers: { Authorization: `Bearer ${c.token}` } }, (res) => res.on("data", (d) => consoleStream.push(String(d))));
        const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
        try {
            const page = await browser.newPage();
            await page.setViewport({ width: 1400, height: 900 });
            const text = (sel: string) => page.$eval(sel, (x) => x.textContent ?? "");
            const idle = () => page.waitForFunction(() => !/running|…/.test(document.querySelector("#message")?.textContent ?? ""), { timeout: 600000, polling: 200 });
            const column = (col: string) => page.$$eval(`tr[data-host] td.${col}`, (tds) => Object.fromEntries(tds.map((td) => [td.closest("tr")!.getAttribute("data-host"), td.textContent ?? ""])));
            const v3 = sha("v3").slice(0, 12);
            const byShard = SHARDS.map((_, i) => status.hosts.map((h) => h.name).filter((n) => shardOf(n, 4) === i));
            const cohort = (p: number) => byShard.flatMap((m) => cohortFor(p, m, sha("v3")));
            await page.goto(c.url);
            await page.waitForFunction(() => document.querySelectorAll("tr[data-host]").length === 45, { timeout: 60000 });
            assert.strictEqual(await text("#fleet-label"), "· fleet prod (4 shards)");
            assert.match(await text("#summary"), new RegExp(`release (\\S+ )?${sha("v2").slice(0, 12)} at 100%: (\\d+)/\\2 hosts succeeded`));

            // A release from the page: 10% of each shard, the canaries live on the one table.
            await page.type("#commit", sha("v3"));
            await page.click("#btn-release");
            await page.waitForFunction(() => [...document.querySelectorAll("tr[data-host] td.status")].some((td) => td.textContent === "updating"), { timeout: 120000, polling: 100 });
            await idle();
            assert.strictEqual(await text("#message"), "release finished");
            for (const h of status.hosts) assert.strictEqual((await hostTruth(h)).head, sha(cohort(10).includes(h.name) ? "v3" : "v2"), `${h.name} after the console's 10% stage`);
            const current = await column("current");
            for (const n of cohort(10)) assert.match(current[n], new RegExp(v3), `${n}'s row after the 10% stage`);
            assert.match(await text("#summary"), new RegExp(`release (\\S+ )?${v3} at 10%: ${cohort(10).length}/${cohort(10).length} hosts succeeded`));

            // A preview over the shards marks exactly the hosts the 50% stage would change, and changes no config.
            const config = () => ["prod", ...SHARDS].map((s) => pulumi("config", "--json", "--stack", s).stdout);
            const before = config();
            await page.$eval("#percent", (i) => ((i as HTMLInputElement).value = ""));
            await page.type("#percent", "50");
            await page.click("#btn-preview");
            await idle();
            assert.match(await text("#message"), /^preview finished/);
            const marked = Object.entries(await column("status")).filter(([, st]) => st === "will change").map(([n]) => n).sort();
            assert.deepStrictEqual(marked, cohort(50).filter((n) => !cohort(10).includes(n)).sort());
            assert.deepStrictEqual(config(), before, "the console's preview changed a stack's config");

            // Start release: the autopilot takes v3 on through 50 → 100, each stage over every shard.
            await page.$eval("#stage-list", (i) => ((i as HTMLInputElement).value = ""));
            await page.type("#stage-list", "10,50,100");
            await page.click("#btn-autopilot");
            await page.waitForFunction((re) => new RegExp(re).test(document.querySelector("#autopilot")?.textContent ?? ""), { timeout: 900000, polling: 200 }, `^autopilot: complete: release ${v3} is at 100%: complete$`);
            for (const h of status.hosts) assert.strictEqual((await hostTruth(h)).head, sha("v3"), `${h.name} after the console's autopilot`);
            await page.waitForFunction((want) => [...document.querySelectorAll("tr[data-host] td.current")].every((td) => td.textContent?.includes(want)), { timeout: 60000 }, v3);
            assert.ok(log.some((l) => /^fleet: release \w{12} at 50%: \d+ hosts to update over 4 shards/.test(l)), log.join("\n"));

            // A refresh of every shard reads back an update marker left on a host of the last shard.
            const [fresh] = status.hosts.filter((h) => shardOf(h.name, 4) === 3);
            const now = Math.floor(Date.now() / 1000);
            await runOnHost(fresh, `mkdir -p ~/.rachel-fleet && printf '%s' '{"since":"${new Date(now * 1000).toISOString().slice(0, 19)}Z","epoch":${now},"staleAfterEpoch":${now + 3600},"target":"x","attempt":"x-1"}' > ~/.rachel-fleet/updating`);
            try {
                await page.click("#btn-refresh");
                await page.waitForFunction((h) => /^updating since /.test(document.querySelector(`tr[data-host="${h}"] td.marker`)?.textContent ?? ""), { timeout: 300000, polling: 200 }, fresh.name);
                await idle();
                assert.strictEqual(await text("#message"), "refresh finished");
            } finally {
                await runOnHost(fresh, "rm -f ~/.rachel-fleet/updating");
            }
            consoleStream.push(await page.content());
        } finally {
            await browser.close();
            await c.close();
            runLog.write(`console log:\n${log.join("\n")}\n`);
        }
    });

    it("a shard's pulumi killed mid-run leaves its lock in the database: the autopilot releases it (pulumi cancel) and the release goes on", async () => {
        const locks = () => pg.objects().filter((o) => o.key.includes("/locks/") && o.key.includes("/prod-s01/"));
        assert.deepStrictEqual(locks(), [], "a lock on prod-s01 before the test");
        const refresh = spawn("pulumi", ["refresh", "--yes", "--stack", "prod-s01", "--non-interactive"], { cwd: t.dir, env: { ...process.env, ...t.env }, detached: true, stdio: "ignore" });
        for (let i = 0; i < 600 && locks().length === 0; i++) await new Promise((r) => setTimeout(r, 100));
        assert.strictEqual(locks().length, 1, "pulumi refresh never took prod-s01's lock");
        process.kill(-refresh.pid!, "SIGKILL");
        await new Promise((r) => setTimeout(r, 500));
        assert.strictEqual(locks().length, 1, "the killed pulumi's lock went away by itself");
        const child = spawn(process.execPath, [TS_NODE, "--transpile-only", path.join(REPO_ROOT, "operator", "rolloutCli.ts"), "--stack", "prod", "--commit", sha("v2"), "--stages", "100", "--dir", t.dir], { cwd: REPO_ROOT, env: { ...process.env, ...t.env } });
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (out += d));
        const code = await new Promise<number>((r) => child.on("close", (c) => r(c ?? -1)));
        runLog.write(`$ npm run rollout -- --stack prod --commit v2 --stages 100\n${out}`);
        driverOutput.push(out);
        assert.strictEqual(code, 0, out.slice(-3000));
        assert.match(out, /prod-s01 did not run: the stack is locked by \S+ \(pid \d+\)/);
        assert.match(out, /rollout: the stack's lock was left by a pulumi that is gone \(a killed up\): released it with pulumi cancel/);
        assert.match(out, new RegExp(`rollout: release ${sha("v2").slice(0, 12)} is at 100%: complete`));
        assert.deepStrictEqual(locks(), []);
        for (const h of status.hosts) assert.strictEqual((await hostTruth(h)).head, sha("v2"), `${h.name} after the release that met a stale lock`);
    });

    it("never shows the fleet's SSH key or the backend's password: the shards' state (exported and as the database holds it), their configs, driver logs and output", async () => {
        const key = fs.readFileSync(status.privateKeyPath, "utf8");
        const pieces = key.split("\n").filter((l) => l && !l.startsWith("-----")).join("").match(/.{40}/g)!;
        const password = decodeURIComponent(new URL(pg.url).password);
        const logs = path.join(t.dir, ".rollout", "fleet", "prod");
        const places: [string, string][] = [
            ...fs.readdirSync(t.dir).filter((f) => /^Pulumi\.prod.*\.yaml$/.test(f)).map((f): [string, string] => [f, fs.readFileSync(path.join(t.dir, f), "utf8")]),
            ...fs.readdirSync(logs).map((f): [string, string] => [`.rollout/fleet/prod/${f}`, fs.readFileSync(path.join(logs, f), "utf8")]),
            ["every npm run fleet output of this suite", driverOutput.join("\n")],
            ["the console's event stream and page", consoleStream.join("\n")],
            ...SHARDS.map((s): [string, string] => [`pulumi stack export --stack ${s}`, pulumi("stack", "export", "--stack", s).stdout]),
            // The database itself: every checkpoint, backup and history entry the backend keeps.
            ...pg.objects().map((o): [string, string] => [`the database's pulumi_state row ${o.key}`, o.text]),
        ];
        assert.ok(places.some(([w, text]) => w.startsWith("the database's") && /\/history\//.test(w) && text.includes("rachel-fleet:fleet:Vps")), "the database's own rows (history included) were not read");
        // The shards' state itself was read (a resource type appears only inside it), and what the drivers printed.
        assert.ok(places.filter(([w]) => w.startsWith("pulumi stack export")).every(([, text]) => text.includes("rachel-fleet:fleet:Vps")), "a shard's state was not read");
        assert.ok(driverOutput.length > 5, "no driver output was kept to grep");
        assert.ok(consoleStream.join("").includes("fleet prod (4 shards)"), "the console's stream and page were not kept to grep");
        for (const [where, text] of places) {
            assert.ok(!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text), `a PEM header is in ${where}`);
            for (const p of pieces) assert.ok(!text.includes(p), `part of the fleet's private key is in ${where}`);
            assert.ok(!text.includes(password), `the backend's password is in ${where}`);
        }
    });
});
