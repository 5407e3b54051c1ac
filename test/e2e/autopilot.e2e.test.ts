// End to end: one `npm run rollout` takes a 20-host lab through 10 → 50 → 100 % under the real
// engine with no other input, a local receiver taking its notifications; a release that
// crashes at start halts at 10 %, one that dies after a passing verify is refused at the
// first advance with the re-check's sentence; pause and abort from a second terminal.
import * as assert from "assert";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { ChildProcess, spawn, spawnSync } from "child_process";
import { AddressInfo } from "net";
import { LabStatus } from "../../lab/labStatus";
import { REPO_ROOT } from "../../lab/paths";
import * as yaml from "js-yaml";
import { cohortFor } from "../../stages/cohort";
import { hostTruth } from "../lab/hostTruth";
import { TestStack, labStackSuite, runLog } from "./stackHarness";

const TS_NODE = require.resolve("ts-node/dist/bin.js");

describe("the autopilot: npm run rollout under the real engine (20-host lab)", function () {
    this.timeout(1800000);
    let status: LabStatus;
    let t: TestStack;
    let server: http.Server;
    const received: { event: string; stage: number; release: string; failedHosts: { host: string }[]; message: string }[] = [];
    let onNotification: (n: (typeof received)[number]) => Promise<void> = async () => undefined;
    /** The checks the notifications started, settled before a test asserts on them. */
    const pending: Promise<void>[] = [];
    const sha = (tag: string) => (status.releases as Record<string, string>)[tag];
    const rollout = (...args: string[]): ChildProcess => {
        const child = spawn(process.execPath, [TS_NODE, "--transpile-only", path.join(REPO_ROOT, "operator", "rolloutCli.ts"), "--stack", "autopilot", "--dir", t.dir, ...args],
            { cwd: REPO_ROOT, env: { ...process.env, ...t.env } });
        let out = "";
        child.stdout!.on("data", (d) => (out += d));
        child.stderr!.on("data", (d) => (out += d));
        child.on("close", () => runLog.write(`$ npm run rollout -- ${args.join(" ")}\n${out}`));
        (child as ChildProcess & { output: () => string }).output = () => out;
        return child;
    };
    const finished = (c: ChildProcess) => new Promise<{ code: number; out: string }>((r) => c.on("close", (code) => r({ code: code ?? -1, out: (c as ChildProcess & { output: () => string }).output() })));
    const control = (...args: string[]) => spawnSync(process.execPath, [TS_NODE, "--transpile-only", path.join(REPO_ROOT, "operator", "rolloutCli.ts"), "--stack", "autopilot", "--dir", t.dir, ...args],
        { cwd: REPO_ROOT, env: { ...process.env, ...t.env }, encoding: "utf8" });
    const statusTable = () => spawnSync(process.execPath, [TS_NODE, "--transpile-only", path.join(REPO_ROOT, "operator", "statusCli.ts"), "--stack", "autopilot", "--dir", t.dir], { cwd: REPO_ROOT, env: { ...process.env, ...t.env }, encoding: "utf8" }).stdout;
    const outputs = () => JSON.parse(spawnSync("pulumi", ["stack", "output", "--json", "--stack", "autopilot"], { cwd: t.dir, env: { ...process.env, ...t.env }, encoding: "utf8" }).stdout);

    labStackSuite("autopilot", 20, (st) => ({ targetCommit: st.releases.v2, rolloutPercent: 100, bakeSeconds: 20, settleSeconds: 1 }), (st, ts) => ((status = st), (t = ts)));

    before(async () => {
        server = http.createServer((req, res) => {
            let body = "";
            req.on("data", (d) => (body += d));
            req.on("end", async () => {
                const n = JSON.parse(body);
                received.push(n);
                res.writeHead(204).end();
                pending.push(onNotification(n));
            });
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        await t.stack.setConfig("rachel-fleet:notifyUrl", { value: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?token=lab`, secret: true });
        // The lab's hosts start on v1; the stack's first up puts them all on v2.
        const first = await t.stack.up({ onOutput: runLog.write });
        assert.strictEqual(first.outputs.rollout.value.succeeded, 20);
    });
    after(() => server?.close());

    it("a percentage that is no whole number is refused by the program, naming the value and the fix (not by Pulumi's bare type check)", async () => {
        for (const bad of ["10.5", "abc", "1e2"]) {
            await t.stack.setConfig("rachel-fleet:rolloutPercent", { value: bad });
            await assert.rejects(t.stack.preview(), (e: Error) => e.message.includes(`rachel-fleet:rolloutPercent must be a whole number from 1 to 100; got "${bad}". Fix: pulumi config set rachel-fleet:rolloutPercent 10`));
        }
        await t.stack.setConfig("rachel-fleet:rolloutPercent", { value: "100" });
    });

    it("one npm run rollout takes v2 → v3 through 10/50/100 with no other input; after each stage the outputs and the status table are the hosts' truth", async () => {
        received.length = 0;
        const checks: string[] = [];
        // During each bake (20 s) the stack and the hosts must agree: checked as the stage's notification arrives.
        onNotification = async (n) => {
            if (n.event !== "stage done") return;
            const fleet = outputs().fleet;
            const table = statusTable();
            const truths = await Promise.all(status.hosts.map(hostTruth));
            for (const [i, h] of status.hosts.entries()) {
                const truth = truths[i];
                assert.strictEqual(fleet[h.name].currentVersion, truth.head, `${h.name} after ${n.stage}%: outputs say ${fleet[h.name].currentVersion}, the host runs ${truth.head}`);
                assert.ok(table.split("\n").find((l) => l.startsWith(`${h.name} `))?.includes(truth.head.slice(0, 12)), `${h.name} after ${n.stage}%: the status table does not show ${truth.head}`);
            }
            checks.push(`${n.stage}`);
        };
        const run = await finished(rollout("--commit", sha("v3")));
        assert.strictEqual(run.code, 0, run.out.slice(-3000));
        await Promise.all(pending.splice(0));
        assert.match(run.out, /rollout: waiting for the bake: the 50% stage may start after /);
        assert.match(run.out, /rollout: release [0-9a-f]{12} is at 100%: complete/);
        assert.deepStrictEqual(received.map((n) => `${n.event}@${n.stage}`), ["stage done@10", "stage done@50", "stage done@100", "release complete@100"]);
        assert.deepStrictEqual(checks, ["10", "50", "100"], "a stage's outputs were not checked against the hosts");
        for (const h of status.hosts) assert.strictEqual((await hostTruth(h)).head, sha("v3"), h.name);
        assert.ok(!JSON.stringify(received).includes("token=lab"), "a notification carries the secret URL");
        onNotification = async () => undefined;
    });

    it("crash-start halts at 10% and notifies, with the failed host and its reason", async () => {
        received.length = 0;
        const run = await finished(rollout("--commit", sha("crash-start")));
        assert.strictEqual(run.code, 1);
        assert.match(run.out, /rollout: release [0-9a-f]{12} at 10%: 0\/\d+ hosts succeeded; ROLLOUT HALTED/);
        assert.deepStrictEqual(received.map((n) => `${n.event}@${n.stage}`), ["halted@10"]);
        assert.ok(received[0].failedHosts.length > 0 && received[0].failedHosts.every((f) => /lab-\d\d/.test(f.host)), JSON.stringify(received[0]));
        assert.deepStrictEqual(outputs().rollout.halted, true);
    });

    it("crash-late passes its 10% stage, then the first advance is refused with the re-check's sentence, and notified", async () => {
        received.length = 0;
        const run = await finished(rollout("--commit", sha("crash-late")));
        assert.strictEqual(run.code, 1);
        assert.match(run.out, /release [0-9a-f]{12} stays at 10%: the re-check of release [0-9a-f]{12} before 50% found: lab-\d\d rachel8 (is activating|is failed|was restarted since its verify).*Refusing to advance to 50%/);
        assert.deepStrictEqual(received.map((n) => `${n.event}@${n.stage}`), ["stage done@10", "advance refused@10"]);
        const cfg = fs.readFileSync(path.join(t.dir, "Pulumi.autopilot.yaml"), "utf8");
        assert.match(cfg, /rachel-fleet:rolloutPercent: "10"/, "the refused advance must leave the config at the stage that ran");
    });

    it("pause from a second terminal holds the next stage until resume; abort stops before the next stage", async () => {
        received.length = 0;
        const driver = rollout("--commit", sha("v2"), "--stages", "10,50,100");
        // Pause while the 10% stage runs: it finishes, 50% waits.
        for (let i = 0; i < 600 && !/"state": "running"/.test(control("--status").stdout); i++) await new Promise((r) => setTimeout(r, 200));
        const p = control("--pause");
        assert.strictEqual(p.status, 0, p.stderr);
        assert.match(p.stdout, /asked driver \d+ to pause: a running stage finishes, the next waits for --resume/);
        for (let i = 0; i < 600 && !received.length; i++) await new Promise((r) => setTimeout(r, 200));
        assert.deepStrictEqual(received.map((n) => n.event), ["stage done"]);
        await new Promise((r) => setTimeout(r, 25000)); // longer than the bake: still paused
        assert.match(control("--status").stdout, /"state": "paused"/);
        assert.strictEqual(outputs().rollout.percent, 10);
        assert.match(control("--abort").stdout, /asked driver \d+ to stop/);
        const run = await finished(driver);
        assert.strictEqual(run.code, 1);
        assert.match(run.out, /aborted by the operator before the 50% stage/);
        assert.strictEqual(outputs().rollout.percent, 10, "a stage ran after the abort");
        // Resume goes on from what the stack records.
        const resumed = await finished(rollout("--resume"));
        assert.strictEqual(resumed.code, 0, resumed.out.slice(-2000));
        assert.deepStrictEqual(received.map((n) => `${n.event}@${n.stage}`), ["stage done@10", "stage done@50", "stage done@100", "release complete@100"]);
    });

    it("kill -9 of the driver during the bake, then during a stage: --resume finishes the release; no host updated twice in it, none between versions", async () => {
        received.length = 0;
        const waitState = async (re: RegExp) => {
            for (let i = 0; i < 900; i++) {
                if (re.test(control("--status").stdout)) return;
                await new Promise((r) => setTimeout(r, 200));
            }
            assert.fail(`the driver never reached ${re}: ${control("--status").stdout}`);
        };
        const first = rollout("--commit", sha("v1"));
        await waitState(/"state": "waiting for the bake"/);
        first.kill("SIGKILL");
        await finished(first);
        // The second driver goes on from the 10% stage the stack recorded; killed while its 50% up runs,
        // that up runs on to its end (it holds the stack lock), and the third driver waits for it.
        const second = rollout("--resume");
        await waitState(/"state": "running",\s+"release": "[0-9a-f]{40}",\s+"stage": 50/);
        await new Promise((r) => setTimeout(r, 3000));
        second.kill("SIGKILL");
        await finished(second);
        const third = await finished(rollout("--resume"));
        assert.strictEqual(third.code, 0, third.out.slice(-3000));
        assert.match(third.out, /release [0-9a-f]{12} is at 100%: complete/);
        for (const h of status.hosts) {
            const truth = await hostTruth(h);
            assert.deepStrictEqual([truth.head, truth.active, truth.marker], [sha("v1"), "active", "no-marker"], h.name);
        }
        // One attempt of v1 per host: no stage ran twice on any host.
        const { runOnHost } = await import("../../lab/sshExec");
        for (const h of status.hosts) {
            const n = (await runOnHost(h, `ls ~/.rachel-fleet/attempts | grep -c '^${sha("v1").slice(0, 12)}-'`)).stdout.trim();
            assert.strictEqual(n, "1", `${h.name} has ${n} attempts of v1`);
        }
    });

    it("a fleet grown from 10 to 17 hosts between 10% and 50% advances; the new hosts join the 50% cohort", async () => {
        received.length = 0;
        const file = path.join(t.dir, "Pulumi.autopilot.yaml");
        const setHosts = (n: number) => {
            const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
            doc.config["rachel-fleet:hosts"] = status.hosts.slice(0, n);
            fs.writeFileSync(file, yaml.dump(doc));
        };
        const names = (n: number) => status.hosts.slice(0, n).map((h) => h.name);
        const before = new Map(await Promise.all(status.hosts.map(async (h) => [h.name, (await hostTruth(h)).head] as const)));
        setHosts(10);
        const first = await finished(rollout("--commit", sha("v3"), "--to", "10"));
        assert.strictEqual(first.code, 0, first.out.slice(-3000));
        setHosts(17);
        const second = await finished(rollout("--commit", sha("v3"), "--stages", "10,50"));
        assert.strictEqual(second.code, 0, second.out.slice(-3000));
        assert.match(second.out, /release [0-9a-f]{12} is at 50%: complete/);
        assert.doesNotMatch(second.out, /Refusing to advance/);
        const cohort = cohortFor(50, names(17), sha("v3"));
        assert.ok(cohort.some((n) => !names(10).includes(n)), `no new host is in the 50% cohort ${cohort.join(",")}`);
        for (const h of status.hosts) {
            const want = cohort.includes(h.name) ? sha("v3") : before.get(h.name);
            assert.strictEqual((await hostTruth(h)).head, want, `${h.name} (${cohort.includes(h.name) ? "in" : "outside"} the 50% cohort of 17${names(17).includes(h.name) ? "" : ", not in the stack"})`);
        }
        assert.deepStrictEqual(received.map((n) => `${n.event}@${n.stage}`), ["stage done@10", "release complete@10", "stage done@50", "release complete@50"]);
    });
});
