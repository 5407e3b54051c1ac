import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { SHA_A, SHA_B, STACK_ID, labConfig, runProgram, valueOf } from "./mockFleet";
import { cohortFor } from "../../stages/cohort";

const names20 = Array.from({ length: 20 }, (_, i) => `vps-${String(i + 1).padStart(2, "0")}`);
const COMMAND = "command:remote:Command";
const VERSION = "pulumi-nodejs:dynamic/rachel-fleet:VpsVersion";

type Run = { registered: { type: string; name: string; inputs: any; ignoreChanges: string[] }[] };

/** Each host's update command as registered: what the engine would diff against its state. */
async function updateCommands(run: Run | undefined): Promise<Record<string, string | undefined>> {
    const out: Record<string, string | undefined> = {};
    for (const r of (run?.registered ?? []).filter((x) => x.type === COMMAND && x.name.endsWith("-update"))) {
        out[r.name.replace(/-update$/, "")] = r.ignoreChanges.includes("*") ? "(held)" : await valueOf(r.inputs.create);
    }
    return out;
}

/**
 * The hosts that change in `run` compared with the stage before: their update
 * command moves them to `sha` and differs from what the previous stage registered
 * (the engine's diff); a held host's inputs are ignored, so it never changes.
 */
async function hostsMovedTo(run: Run, sha: string, before?: Run) {
    const now = await updateCommands(run);
    const then = await updateCommands(before);
    return Object.keys(now)
        .filter((n) => now[n] !== "(held)" && now[n] !== then[n] && (now[n] ?? "").includes(` 'update' '${sha}' `))
        .sort();
}

/** The stack outputs a finished stage leaves, as the next stage reads them back. */
const asPrevious = (outputs: any) => ({ fleet: outputs.fleet, rollout: outputs.rollout, stackId: outputs.stackId });

describe("the fleet program (mocked engine, 20 hosts)", function () {
    this.timeout(120000);

    it("rolls a release 10% → 50% → 100%: each stage moves exactly the new cohort hosts", async () => {
        let previous: any = undefined;
        let before: Run | undefined;
        let onTarget: string[] = [];
        for (const [percent, size] of [[10, 2], [50, 10], [100, 20]] as const) {
            const run = await runProgram(labConfig(20, { rolloutPercent: String(percent) }), { previousOutputs: previous });
            const { outputs } = run;
            const cohort = cohortFor(percent, names20, SHA_A);
            assert.strictEqual(cohort.length, size);
            const moved = await hostsMovedTo(run, SHA_A, before);
            const expected = cohort.filter((n) => !onTarget.includes(n)).sort();
            assert.deepStrictEqual(moved, expected, `stage ${percent}%: wrong hosts get the new commit`);
            assert.deepStrictEqual([...outputs.changing].sort(), expected);
            for (const n of names20) {
                const r = outputs.fleet[n];
                assert.strictEqual(r.updateStatus, cohort.includes(n) ? "success" : "idle", `${n} at ${percent}%`);
                if (cohort.includes(n)) {
                    assert.strictEqual(r.currentVersion, SHA_A);
                    assert.strictEqual(r.targetVersion, SHA_A);
                    assert.ok(r.previousVersion && r.lastUpdateAt, "version fields recorded");
                }
            }
            assert.deepStrictEqual(
                [outputs.rollout.percent, outputs.rollout.cohortSize, outputs.rollout.attempted, outputs.rollout.succeeded, outputs.rollout.halted],
                [percent, size, expected.length, expected.length, false],
            );
            onTarget = cohort;
            previous = asPrevious(outputs);
            before = run;
        }
    });

    it("registers a held host's resources with every input ignored, so it shows no change", async () => {
        const first = await runProgram(labConfig(20, { rolloutPercent: "100" }));
        const next = await runProgram(labConfig(20, { targetCommit: SHA_B, rolloutPercent: "10" }), { previousOutputs: asPrevious(first.outputs) });
        const cohort = cohortFor(10, names20, SHA_B);
        assert.deepStrictEqual(await hostsMovedTo(next, SHA_B, first), [...cohort].sort());
        const held = names20.filter((n) => !cohort.includes(n));
        for (const n of held) {
            const mine = next.registered.filter((r) => r.name.startsWith(`${n}-`) && r.type !== "rachel-fleet:fleet:Vps");
            assert.deepStrictEqual(mine.map((r) => r.name).sort(), [`${n}-update`, `${n}-version`], `${n}: its update step and its version record`);
            for (const r of mine) {
                assert.deepStrictEqual(r.ignoreChanges, ["*"], `${r.name} must ignore every input`);
            }
            // That the engine then keeps the held host's stored record (still on SHA_A) is
            // engine behaviour, which mocks do not model: the e2e stage tests check it.
        }
    });

    it("a host already on the target is never moved back when the fleet grows mid-rollout", async () => {
        const s10 = await runProgram(labConfig(20, { rolloutPercent: "10" }));
        const canaries = cohortFor(10, names20, SHA_A);
        const grown = await runProgram(labConfig(30, { rolloutPercent: "10" }), { previousOutputs: asPrevious(s10.outputs) });
        for (const n of canaries) {
            assert.strictEqual(grown.outputs.fleet[n].currentVersion, SHA_A, `${n} left the target`);
        }
        const moved = await hostsMovedTo(grown, SHA_A, s10);
        assert.ok(moved.every((n) => !canaries.includes(n)), "canaries are not re-run");
    });

    it("an unreachable host gets no command at all, counts as failed, and the stage halts above the threshold", async () => {
        const cohort = cohortFor(10, names20, SHA_A);
        const { registered, outputs } = await runProgram(labConfig(20, { rolloutPercent: "10" }), { unreachable: [cohort[0]] });
        for (const r of registered.filter((x) => x.type === COMMAND && x.name.startsWith(`${cohort[0]}-`))) {
            assert.strictEqual(await valueOf(r.inputs.create), undefined, `${r.name} would dial an unreachable host`);
        }
        assert.strictEqual(outputs.fleet[cohort[0]].updateStatus, "failed");
        assert.match(outputs.fleet[cohort[0]].error, /unreachable \(ECONNREFUSED\)/, "the reason reads as a sentence");
        assert.deepStrictEqual([outputs.rollout.failed, outputs.rollout.failureRate, outputs.rollout.halted], [1, 0.5, true]);
        // The halt fails `up` through the exit code, read only after the outputs are saved.
        assert.strictEqual(process.exitCode, 32, "a halted stage must end the program with the already-reported exit code");
        process.exitCode = 0;
    });

    it("at or below the threshold the stage passes, and the next up retries the failed host", async () => {
        const cohort = cohortFor(100, names20, SHA_A);
        const failing = cohort.slice(0, 3);
        const first = await runProgram(labConfig(20, { rolloutPercent: "100" }), { rolledBack: failing });
        assert.deepStrictEqual([first.outputs.rollout.failed, first.outputs.rollout.halted], [3, false]);
        const retry = await runProgram(labConfig(20, { rolloutPercent: "100" }), { previousOutputs: asPrevious(first.outputs) });
        assert.deepStrictEqual(await hostsMovedTo(retry, SHA_A, first), [...failing].sort());
        for (const n of failing) {
            assert.strictEqual(retry.outputs.fleet[n].attempt, 2);
        }
        assert.deepStrictEqual([retry.outputs.rollout.attempted, retry.outputs.rollout.failed], [3, 0]);
    });

    it("a halted rollout refuses a larger percentage before registering any resource", async () => {
        const s10 = await runProgram(labConfig(20, { rolloutPercent: "10" }), { rolledBack: cohortFor(10, names20, SHA_A) });
        assert.strictEqual(s10.outputs.rollout.halted, true);
        let registered: any[] = [];
        await assert.rejects(async () => {
            const r = await runProgram(labConfig(20, { rolloutPercent: "50" }), { previousOutputs: asPrevious(s10.outputs) });
            registered = r.registered;
        }, /halted.*Refusing to advance to 50%/s);
        assert.deepStrictEqual(registered.filter((r) => r.type === COMMAND), []);
    });

    it("reports an operator's mistake as a RunError whose stack is its message (formatting a stack cost ~20 s)", async () => {
        await assert.rejects(runProgram(labConfig(3, { rolloutPercent: "101" })), (e: Error) => {
            assert.ok(pulumi.RunError.isInstance(e), "a RunError: shown without a stack trace");
            assert.strictEqual(e.message, 'rachel-fleet:rolloutPercent must be a whole number from 1 to 100; got "101". Fix: pulumi config set rachel-fleet:rolloutPercent 10');
            assert.strictEqual(e.stack, e.message, "the SDK formats the stack of what the program throws; it must be the message itself");
            return true;
        });
    });

    it("keeps private keys secret in every resource that receives them", async () => {
        const { registered } = await runProgram(labConfig(3, { rolloutPercent: "100" }));
        const cmd = registered.find((r) => r.type === COMMAND)!;
        assert.ok(await (cmd.inputs.connection as any).isSecret, "remote.Command's connection (with its key) must be a secret output");
        const provider = registered.find((r) => r.type === "pulumi:providers:pulumi-nodejs")!;
        assert.ok(await (provider.inputs["rachel-fleet:privateKey"] as any).isSecret, "the provider's key must be a secret");
        for (const r of registered.filter((x) => x.type === VERSION)) {
            assert.ok(!JSON.stringify(await valueOf(r.inputs.spec)).includes("PRIVATE KEY"), `${r.name} carries the key in its inputs`);
        }
    });

    it("with stepRunner ssh2, runs the very same step commands as RemoteStep resources, keys secret", async () => {
        const viaCommand = await runProgram(labConfig(2, { rolloutPercent: "100" }));
        const viaSsh = await runProgram(labConfig(2, { rolloutPercent: "100", stepRunner: "ssh2" }));
        const steps = (run: typeof viaCommand, type: string) =>
            Promise.all(run.registered.filter((r) => r.type === type).map(async (r) => [r.name, r.inputs.create ? await valueOf(r.inputs.create) : (await valueOf(r.inputs.spec)).command]));
        const a = await steps(viaCommand, COMMAND);
        const b = await steps(viaSsh, "pulumi-nodejs:dynamic/rachel-fleet:RemoteStep");
        assert.strictEqual(a.length, 2);
        assert.deepStrictEqual(b, a);
        assert.strictEqual(viaSsh.registered.filter((r) => r.type === COMMAND).length, 0);
        const step = viaSsh.registered.find((r) => r.type === "pulumi-nodejs:dynamic/rachel-fleet:RemoteStep")!;
        assert.ok(!JSON.stringify(await valueOf(step.inputs.spec)).includes("PRIVATE KEY"), "the step's spec carries no key: the provider holds it");
    });

    it("keys the update step on commit and attempt: a new attempt changes its command in place (no trigger, no replacement)", async () => {
        const { registered } = await runProgram(labConfig(1, { rolloutPercent: "100" }));
        const steps = registered.filter((r) => r.type === COMMAND);
        assert.strictEqual(steps.length, 1);
        const create = await valueOf(steps[0].inputs.create);
        assert.match(create, new RegExp(` 'update' '${SHA_A}' '${SHA_A.slice(0, 12)}-1-${STACK_ID}' `));
        assert.ok(create.length < 300, `the command kept in state is ${create.length} bytes`);
        assert.deepStrictEqual([steps[0].inputs.triggers, steps[0].inputs.update], [undefined, undefined]);
    });

    it("names attempts with the stack's own id: a new stack makes one, exports it as stackId, and every later up keeps it", async () => {
        const attemptOf = async (run: Awaited<ReturnType<typeof runProgram>>) =>
            (await valueOf(run.registered.find((r) => r.type === COMMAND)!.inputs.create)).match(/ '[0-9a-f]{12}-\d+-([0-9a-f]+)' /)?.[1];
        const first = await runProgram(labConfig(2, { rolloutPercent: "100" }), { previousOutputs: { stackId: undefined } });
        const id = first.outputs.stackId as string;
        assert.match(id, /^[0-9a-f]{8}$/, "a new stack exports an id of its own");
        assert.notStrictEqual(id, STACK_ID);
        assert.strictEqual(await attemptOf(first), id, "its attempts carry it");
        const next = await runProgram(labConfig(2, { targetCommit: SHA_B, rolloutPercent: "100" }), { previousOutputs: asPrevious(first.outputs) });
        assert.strictEqual(next.outputs.stackId, id, "the next up keeps it");
        assert.strictEqual(await attemptOf(next), id);
        const other = await runProgram(labConfig(2, { rolloutPercent: "100" }), { previousOutputs: { stackId: undefined } });
        assert.notStrictEqual(other.outputs.stackId, id, "another new stack over the same hosts has another id");
    });

    it("says so when the engine runs fewer operations at once than maxParallel wants", async () => {
        const warnings: string[] = [];
        const warn = pulumi.log.warn;
        (pulumi.log as any).warn = (msg: string) => warnings.push(msg);
        process.env.PULUMI_NODEJS_PARALLEL = "3";
        try {
            await runProgram(labConfig(20, { rolloutPercent: "100", maxParallel: "10" }));
            await runProgram(labConfig(20, { rolloutPercent: "100", maxParallel: "3" }));
        } finally {
            (pulumi.log as any).warn = warn;
            delete process.env.PULUMI_NODEJS_PARALLEL;
        }
        const about = warnings.filter((w) => w.includes("resource operations at once"));
        assert.strictEqual(about.length, 1, `expected one warning, for maxParallel 10 only: ${JSON.stringify(about)}`);
        assert.match(about[0], /maxParallel is 10, but this pulumi up runs at most 3 .* Run pulumi up --parallel 10/);
    });

    it("registers each host's update step, then its version record, which depends on it", async () => {
        const { registered } = await runProgram(labConfig(1, { rolloutPercent: "100" }));
        const order = registered.filter((r) => r.name.startsWith("vps-01-")).map((r) => r.name.slice("vps-01-".length));
        assert.deepStrictEqual(order, ["update", "version"]);
        // The record judges what the step did: the engine must run it only after the step.
        assert.deepStrictEqual(registered.find((r) => r.name === "vps-01-version")!.dependsOn, ["vps-01-update"]);
    });
});
