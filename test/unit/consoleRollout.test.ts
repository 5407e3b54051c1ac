// The console's Start release / pause / resume / abort against the stack's real control files
// (a temporary project directory) and a live driver process of another terminal: the console
// talks to whichever driver runs the stack, refuses a second one, and checks input first.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ChildProcess, spawn } from "child_process";
import { ConfigError } from "../../config/config";
import { ConsoleRollout } from "../../operator/consoleRollout";
import { RolloutControl } from "../../operator/rolloutControl";
import { Busy, FleetRuns } from "../../operator/runs";

const R = "a".repeat(40);

describe("the console's autopilot controls (real control files, fake runs)", () => {
    let dir: string;
    let control: RolloutControl;
    let other: ChildProcess;
    const emitted: unknown[] = [];
    const runs = { current: undefined, ref: { stack: "s" }, emit: (e: unknown) => emitted.push(e) } as unknown as FleetRuns;

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "console-rollout-"));
        control = new RolloutControl(dir, "s");
    });
    afterEach(() => {
        other?.kill();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    /** A driver in another terminal: a live process whose pid the state file names. */
    const driverElsewhere = (state: "running" | "paused") => {
        other = spawn("sleep", ["60"]);
        fs.mkdirSync(path.join(dir, ".rollout"), { recursive: true });
        fs.writeFileSync(path.join(dir, ".rollout", "s.state.json"), JSON.stringify({ state, release: R, stage: 50, stages: [10, 50, 100], message: "", pid: other.pid, at: "now" }));
        return other.pid!;
    };

    it("pause, resume and abort reach a driver running in a terminal; a second start is refused naming it", async () => {
        const pid = driverElsewhere("running");
        const c = new ConsoleRollout(runs, control, () => undefined);
        assert.match(await c.act("pause", {}), /^pause asked: a running stage finishes, the next waits for resume$/);
        assert.strictEqual(control.request(), "pause");
        assert.strictEqual(await c.act("resume", {}), `resume asked: the driver (pid ${pid}) goes on`);
        assert.strictEqual(control.request(), "run");
        await assert.rejects(c.act("start", { commit: R }), (e: Error) => e instanceof Busy && e.message === `a release (${R.slice(0, 12)}) is already being driven on this stack (pid ${pid}, running); pause, resume or abort it`);
        assert.match(await c.act("abort", {}), /^abort asked: a running stage finishes \(no host is left mid-update\), no further stage starts$/);
        assert.strictEqual(control.request(), "abort");
    });

    it("with no driver: pause and abort say there is nothing to stop; a start checks its commit and stages before anything runs", async () => {
        const c = new ConsoleRollout(runs, control, () => undefined);
        await assert.rejects(c.act("pause", {}), (e: Error) => e instanceof Busy && e.message === "no release is being driven on this stack; nothing to pause");
        await assert.rejects(c.act("abort", {}), /nothing to abort/);
        await assert.rejects(c.act("start", { commit: "v3" }), (e: Error) => e instanceof ConfigError && /^rachel-fleet:targetCommit must be a full 40-character lowercase hex git SHA; got "v3"/.test(e.message));
        await assert.rejects(c.act("start", { commit: R, stages: "50,10" }), (e: Error) => e instanceof ConfigError && /rising whole percentages .*got 50,10/.test(e.message));
        assert.strictEqual(control.read(), undefined, "a refused start claimed the stack");
    });

    it("pushes the driver's state to the pages when its file changes", async () => {
        const c = new ConsoleRollout(runs, control, () => undefined);
        c.watch();
        try {
            driverElsewhere("paused");
            for (let i = 0; i < 30 && !emitted.length; i++) await new Promise((r) => setTimeout(r, 100));
            assert.deepStrictEqual(emitted.map((e) => { const a = (e as { autopilot: { state: string; alive: boolean } }).autopilot; return [a.state, a.alive]; }), [["paused", true]]);
        } finally {
            c.stop();
        }
    });
});
