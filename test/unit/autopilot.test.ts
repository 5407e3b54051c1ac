// The autopilot's decisions against a fake stack and a fake clock: each stage an `up` at its
// percentage, the bake waited out, stops (with the program's sentence) on a halt, a refused
// advance or an error, the config left as it was by a run that did not happen, pause and
// abort between stages, and a resume from what the stack records.
import * as assert from "assert";
import * as http from "http";
import { AddressInfo } from "net";
import { Autopilot, AutopilotEvent, AutopilotState, Request, StackPort, StagesError, driveRelease, nextStage, stagesOf } from "../../operator/autopilot";
import { withTimeline } from "../../operator/timeline";
import { Notifier } from "../../operator/notify";
import { HostRecord, RolloutSummary } from "../../stages/ledger";

const R = "c".repeat(40);
const OLD = "d".repeat(40);
const HOSTS = Array.from({ length: 10 }, (_, i) => `vps-${i}`);

/** A stack whose `up` updates the first percent of HOSTS, as the program would record it. */
class FakeStack implements StackPort {
    config: Record<string, string> = { targetCommit: OLD, rolloutPercent: "100" };
    fleet: Record<string, HostRecord> = {};
    rollout?: RolloutSummary;
    ups: string[] = [];
    /** What `up` does at a percentage: "halt", "refuse", or an error message before the engine. */
    failAt: Record<number, "halt" | "refuse" | string> = {};
    constructor(private readonly clock: { t: number }, readonly bakeSeconds = 300) {}

    async outputs() {
        return { fleet: this.fleet, rollout: this.rollout };
    }
    async stageConfig() {
        return { targetCommit: this.config.targetCommit, rolloutPercent: this.config.rolloutPercent, bakeSeconds: this.bakeSeconds };
    }
    async setStage(commit: string, percent: string) {
        this.config = { targetCommit: commit, rolloutPercent: percent };
    }
    staleLocks = 0;
    async releaseStaleLock(message: string) {
        if (!/created by .* \(pid 999999\)/.test(message)) return false;
        this.staleLocks++;
        for (const k of Object.keys(this.failAt)) if (/locked/.test(String(this.failAt[Number(k)]))) delete this.failAt[Number(k)];
        return true;
    }
    async up() {
        const percent = Number(this.config.rolloutPercent);
        this.ups.push(`${this.config.targetCommit.slice(0, 1)}@${percent}`);
        const f = this.failAt[percent];
        if (f && f !== "halt" && f !== "refuse") throw new Error(`error: ${f}\nerror: update failed`);
        if (f === "refuse") {
            this.rollout = { ...this.rollout!, halted: true, refusal: `the re-check of release ${R.slice(0, 12)} before ${percent}% found: vps-0 crash-loops. Refusing to advance to ${percent}%; no host was touched.` };
            throw new Error("error: update failed");
        }
        const cohort = HOSTS.slice(0, Math.ceil((HOSTS.length * percent) / 100));
        const at = new Date(this.clock.t).toISOString();
        for (const h of cohort) {
            const bad = f === "halt" && h === "vps-0";
            this.fleet[h] = { currentVersion: bad ? OLD : R, previousVersion: OLD, targetVersion: R, updateStatus: bad ? "rolled_back" : "success", lastUpdateAt: at, error: bad ? "verify failed: crash-start" : "", attempt: 1, managed: true };
        }
        const failed = f === "halt" ? ["vps-0"] : [];
        this.rollout = { release: R, percent, cohortSize: cohort.length, attempted: cohort.length, succeeded: cohort.length - failed.length, rolledBack: failed.length, failed: failed.length, failedHosts: failed, failureRate: failed.length / cohort.length, threshold: 0.3, halted: f === "halt" && failed.length / cohort.length > 0.3 };
        if (this.rollout.halted) throw new Error("error: the stage halted\nerror: update failed");
    }
}

function pilot(stack: FakeStack, clock: { t: number }, requests: Request[] = []) {
    const said: string[] = [], states: AutopilotState[] = [], events: AutopilotEvent[] = [];
    let req: Request = "run";
    const a: Autopilot = {
        stack,
        report: { say: (l) => said.push(l), state: (s) => states.push(s), event: (e) => events.push(e) },
        // Each look at the request takes the next scripted one (then keeps the last).
        request: () => (req = requests.length ? requests.shift()! : req),
        now: () => clock.t,
        sleep: async (ms) => void (clock.t += ms),
    };
    return { a, said, states, events };
}

describe("the autopilot (fake stack, fake clock)", () => {
    it("runs 10 → 50 → 100, each an up at that percentage, waiting out the bake between stages", async () => {
        const clock = { t: Date.parse("2026-11-30T08:00:00Z") };
        const stack = new FakeStack(clock);
        const p = pilot(stack, clock);
        const start = clock.t;
        const out = await driveRelease(R, [10, 50, 100], p.a);
        assert.deepStrictEqual(out, { state: "complete", stage: 100, message: `release ${R.slice(0, 12)} is at 100%: complete` });
        assert.deepStrictEqual(stack.ups, ["c@10", "c@50", "c@100"]);
        assert.ok(clock.t - start >= 600_000, "two bakes of 300 s were waited out");
        assert.deepStrictEqual(p.events.map((e) => `${e.event}@${e.stage}`), ["stage done@10", "stage done@50", "stage done@100", "release complete@100"]);
        assert.ok(p.states.some((s) => s.state === "waiting for the bake" && s.stage === 50 && s.bakeEndsAt));
        assert.strictEqual(p.states.at(-1)!.state, "complete");
    });

    it("stops at a halt with the verdict's sentence, the stage left as it ran", async () => {
        const clock = { t: 0 };
        const stack = new FakeStack(clock);
        stack.failAt[10] = "halt";
        const p = pilot(stack, clock);
        const out = await driveRelease(R, [10, 50, 100], p.a);
        assert.strictEqual(out.state, "halted");
        assert.match(out.message, /release cccccccccccc at 10%: 0\/1 hosts succeeded; ROLLOUT HALTED/);
        assert.deepStrictEqual(stack.ups, ["c@10"]);
        assert.deepStrictEqual(stack.config, { targetCommit: R, rolloutPercent: "10" });
        assert.deepStrictEqual(p.events.map((e) => e.event), ["halted"]);
        assert.deepStrictEqual(p.events[0].failedHosts, [{ host: "vps-0", status: "rolled_back", error: "verify failed: crash-start" }]);
    });

    it("stops at a refused advance with the re-check's sentence, and puts the config back", async () => {
        const clock = { t: 0 };
        const stack = new FakeStack(clock, 0);
        stack.failAt[50] = "refuse";
        const p = pilot(stack, clock);
        const out = await driveRelease(R, [10, 50, 100], p.a);
        assert.strictEqual(out.state, "refused");
        assert.match(out.message, /release cccccccccccc stays at 10%: the re-check .* before 50% found: vps-0 crash-loops/);
        assert.deepStrictEqual(stack.config, { targetCommit: R, rolloutPercent: "10" }, "the refused advance left rolloutPercent at 50");
        assert.deepStrictEqual(p.events.map((e) => e.event), ["stage done", "advance refused"]);
    });

    it("an error before the engine ran the stage stops it and leaves the config exactly as it was", async () => {
        const clock = { t: 0 };
        const stack = new FakeStack(clock, 0);
        stack.failAt[10] = "rachel-fleet:hosts[3].hostKey must be the host's public key";
        const p = pilot(stack, clock);
        const out = await driveRelease(R, [10, 50, 100], p.a);
        assert.deepStrictEqual([out.state, out.message], ["failed", "the 10% stage did not run: rachel-fleet:hosts[3].hostKey must be the host's public key"]);
        assert.deepStrictEqual(stack.config, { targetCommit: OLD, rolloutPercent: "100" });
        assert.deepStrictEqual(p.events.map((e) => e.event), ["stopped"]);
    });

    it("a stack locked by the update a killed driver left running: waits for it, then goes on from what it recorded (no stage run twice)", async () => {
        const clock = { t: 0 };
        const stack = new FakeStack(clock, 0);
        // The killed driver's `up` of 50% runs on for 30 s, then has recorded its stage.
        stack.config = { targetCommit: R, rolloutPercent: "10" };
        await stack.up();
        stack.ups = [];
        const lockedUntil = 30_000;
        const up = stack.up.bind(stack);
        stack.up = async () => {
            if (clock.t < lockedUntil) throw new Error("error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.");
            return up();
        };
        let finishedOther = false;
        const outputs = stack.outputs.bind(stack);
        stack.outputs = async () => {
            if (clock.t >= lockedUntil && !finishedOther) {
                finishedOther = true;
                stack.config = { targetCommit: R, rolloutPercent: "50" };
                await up();
                stack.ups = ["other@50"];
            }
            return outputs();
        };
        const p = pilot(stack, clock);
        const out = await driveRelease(R, [10, 50, 100], p.a);
        assert.strictEqual(out.state, "complete");
        assert.deepStrictEqual(stack.ups, ["other@50", "c@100"], "the 50% stage ran twice");
        assert.ok(p.said.some((l) => /the stack is locked by another update .*: waiting for it/.test(l)), p.said.join("\n"));
    });

    it("a lock left by a pulumi that is gone (a killed up) is released at once and the stage runs", async () => {
        const clock = { t: 0 };
        const stack = new FakeStack(clock, 0);
        stack.failAt[10] = "the stack is currently locked by 1 lock(s).\n  file:///state/.pulumi/locks/x.json: created by root@vm (pid 999999) at 2026-11-30T07:47:52Z";
        const p = pilot(stack, clock);
        const out = await driveRelease(R, [10, 50, 100], p.a);
        assert.deepStrictEqual([out.state, stack.staleLocks, stack.ups], ["complete", 1, ["c@10", "c@10", "c@50", "c@100"]]);
        assert.ok(p.said.some((l) => /released it with pulumi cancel/.test(l)), p.said.join("\n"));
        assert.strictEqual(clock.t < 60_000, true, "it waited for a lock nobody holds");
    });

    it("a lock that outlives the patience stops it with the way out, the config as it was", async () => {
        const clock = { t: 0 };
        const stack = new FakeStack(clock, 0);
        stack.failAt[10] = "the stack is currently locked by 1 lock(s)";
        const out = await driveRelease(R, [10, 50, 100], pilot(stack, clock).a);
        assert.strictEqual(out.state, "failed");
        assert.match(out.message, /locked by another update for over 60 minutes; if no pulumi command runs on it any more, pulumi cancel releases a stale lock, then npm run rollout -- --resume/);
        assert.deepStrictEqual(stack.config, { targetCommit: OLD, rolloutPercent: "100" });
    });

    it("resumes from what the stack records: a release at 50% goes on with 100% only", async () => {
        const clock = { t: 0 };
        const stack = new FakeStack(clock, 0);
        stack.config = { targetCommit: R, rolloutPercent: "50" };
        await stack.up();
        stack.ups = [];
        const out = await driveRelease(R, [10, 50, 100], pilot(stack, clock).a);
        assert.deepStrictEqual([out.state, stack.ups], ["complete", ["c@100"]]);
        assert.strictEqual(nextStage(stack.rollout, R, [10, 50, 100]), undefined);
        assert.strictEqual(nextStage(stack.rollout, OLD, [10, 50, 100]), 10, "another release starts at its first stage");
    });

    it("a pause holds it before the next stage until resumed; an abort stops it there, no further up", async () => {
        const clock = { t: 0 };
        const stack = new FakeStack(clock, 0);
        const paused = pilot(stack, clock, ["run", "pause", "pause", "pause", "run"]);
        assert.strictEqual((await driveRelease(R, [10, 50], paused.a)).state, "complete");
        assert.ok(paused.states.some((s) => s.state === "paused" && s.stage === 50), JSON.stringify(paused.states));
        const other = new FakeStack(clock, 0);
        const aborted = pilot(other, clock, ["run", "abort"]);
        const out = await driveRelease(R, [10, 50, 100], aborted.a);
        assert.deepStrictEqual([out.state, other.ups], ["aborted", ["c@10"]]);
        assert.match(out.message, /aborted by the operator before the 50% stage/);
    });
});

describe("notifications (a local receiver)", () => {
    const event: AutopilotEvent = { event: "stage done", release: R, stage: 10, attempted: 1, succeeded: 1, rolledBack: 0, failed: 0, failedHosts: [], message: "ok" };

    it("POSTs each event as JSON, retrying a receiver that fails first", async () => {
        const got: string[] = [];
        let calls = 0;
        const server = http.createServer((req, res) => {
            let body = "";
            req.on("data", (d) => (body += d));
            req.on("end", () => {
                calls++;
                if (calls === 1) return res.writeHead(503).end();
                got.push(body);
                res.writeHead(204).end();
            });
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        try {
            const said: string[] = [];
            const n = new Notifier(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?token=s3cret`, (l) => said.push(l), [10, 10]);
            n.send(event);
            await n.settle(5000);
            assert.strictEqual(calls, 2);
            assert.deepStrictEqual({ ...JSON.parse(got[0]), at: undefined }, { ...event, at: undefined });
            assert.deepStrictEqual(said, []);
        } finally {
            server.close();
        }
    });

    it("a receiver that is down never blocks or fails the rollout, and is named without its secret URL", async () => {
        const said: string[] = [];
        const n = new Notifier("http://127.0.0.1:9/hook?token=s3cret", (l) => said.push(l), [10, 10]);
        const t0 = Date.now();
        n.send(event);
        assert.ok(Date.now() - t0 < 50, "send must not wait for the receiver");
        await n.settle(5000);
        assert.strictEqual(said.length, 1);
        assert.match(said[0], /^notifyUrl \(127\.0\.0\.1:9\) did not take a notification after 3 tries \(.*\); the rollout goes on$/);
        assert.ok(!said[0].includes("s3cret"));
    });
});

describe("notifyUrl in stack config", () => {
    const { parseFleetConfig } = require("../../config/config");
    const { labConfig } = require("./mockFleet");
    const parse = (url: string, secret: boolean) => parseFleetConfig({ ...labConfig(1), notifyUrl: url }, { ns: "rachel-fleet", secretKeys: new Set(["sshPrivateKey", ...(secret ? ["notifyUrl"] : [])]) });

    it("is a secret http(s) URL; otherwise refused without showing it", () => {
        assert.doesNotThrow(() => parse("https://hooks.example.org/T0/B1/s3cret", true));
        for (const [url, secret, why] of [["https://hooks.example.org/T0/B1/s3cret", false, /is stored in plaintext; it may carry a token/], ["ftp://s3cret@example.org/", true, /is not an http\(s\) URL/], ["s3cret", true, /is not an http\(s\) URL/]] as const) {
            assert.throws(() => parse(url, secret), (e: Error) => why.test(e.message) && !e.message.includes("s3cret") && /Fix: pulumi config set --secret rachel-fleet:notifyUrl/.test(e.message));
        }
    });
});

describe("the stage timeline and the stages a release runs", () => {
    it("records when each stage started and ended and how; a resumed driver keeps the stages already run", async () => {
        const clock = { t: Date.parse("2026-11-30T08:00:00Z") };
        const stack = new FakeStack(clock, 60);
        stack.failAt[100] = "refuse";
        const p = pilot(stack, clock);
        const timed = withTimeline(p.a.report, [], () => new Date(clock.t));
        await driveRelease(R, [10, 50, 100], { ...p.a, report: timed });
        assert.deepStrictEqual(timed.timeline.map((l) => [l.percent, l.outcome, l.summary]), [
            [10, "stage done", "1/1 succeeded, 0 rolled back, 0 failed"],
            [50, "stage done", "5/5 succeeded, 0 rolled back, 0 failed"],
            [100, "advance refused", `release ${R.slice(0, 12)} stays at 50%: the re-check of release ${R.slice(0, 12)} before 100% found: vps-0 crash-loops. Refusing to advance to 100%; no host was touched.`],
        ]);
        assert.ok(timed.timeline.every((l) => l.endedAt && l.endedAt >= l.startedAt));
        assert.ok(Date.parse(timed.timeline[1].startedAt) - Date.parse(timed.timeline[0].endedAt!) >= 60_000, "the bake lies between two stages");
        assert.deepStrictEqual(p.states.at(-1)!.timeline?.length, 3, "the last state carries the timeline");
        // A driver that resumes the release starts from the lines it was given.
        const resumed = withTimeline(p.a.report, timed.timeline.slice(0, 2));
        resumed.state({ state: "running", release: R, stage: 100, stages: [10, 50, 100], message: "" });
        assert.deepStrictEqual(resumed.timeline.map((l) => [l.percent, l.outcome ?? "running"]), [[10, "stage done"], [50, "stage done"], [100, "running"]]);
    });

    it("stages are rising whole percentages; --to cuts them; anything else is refused with an example", () => {
        assert.deepStrictEqual(stagesOf(undefined), [10, 50, 100]);
        assert.deepStrictEqual(stagesOf("5,25,100"), [5, 25, 100]);
        assert.deepStrictEqual(stagesOf(undefined, 50), [10, 50]);
        assert.deepStrictEqual(stagesOf(undefined, 30), [10, 30]);
        for (const bad of ["50,10", "10,10,100", "0,100", "10,abc", "10.5,100", "10,101"]) {
            assert.throws(() => stagesOf(bad), (e: Error) => e instanceof StagesError && e.message === `the stages must be rising whole percentages from 1 to 100 (got ${bad.split(",").map(Number).join(",")}); e.g. 10,50,100`, bad);
        }
    });
});
