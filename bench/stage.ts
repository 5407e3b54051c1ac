// A real stage against real lab hosts, beside the floor: the same lifecycle over one plain
// SSH connection per host, the same pool of maxParallel, no Pulumi.
import * as fs from "fs";
import { AppSettings, DEFAULTS } from "../config/config";
import { mapLimit } from "../fleet/pool";
import { labStackConfig } from "../lab/labProject";
import { LabStatus } from "../lab/labStatus";
import { sshLogins } from "../lab/hostLifecycle";
import { runOnHost } from "../lab/sshExec";
import { recheckHost } from "../lifecycle/recheck";
import { healthUrlFor } from "../lifecycle/script";
import { floorStage } from "./floor";
import { BenchStack, newStack, stateFigures } from "./stacks";

export const SETTLE = 3;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

/** SSH logins each host's sshd has accepted so far. */
function logins(status: LabStatus): Promise<number[]> {
    return mapLimit(status.hosts, 10, (h) => sshLogins(status.labDir, h.name));
}

/**
 * Each host's newest attempt, [started (its first prepare step), its switch's start,
 * finished (concluded)] in epoch seconds, from the host's own stamps.
 */
function attemptSpans(status: LabStatus): Promise<number[][]> {
    return mapLimit(status.hosts, 10, async (h) => {
        const r = await runOnHost(h, `d=$(ls -1dt ~/.rachel-fleet/attempts/* | head -1); cat "$d/started"; cut -d' ' -f1 "$d/time-switch"; cat "$d/finished"`);
        return r.stdout.trim().split("\n").map(Number);
    });
}

/** The most hosts switching (switch, restart, verify, judgement) at the same moment: what maxParallel limits. */
async function observedPeak(status: LabStatus): Promise<number> {
    const ok = (await attemptSpans(status)).map(([, a, b]) => [a, b]).filter(([a, b]) => a > 0 && b > a);
    return Math.max(0, ...ok.map(([a]) => ok.filter(([s, e]) => s <= a && a < e).length));
}

interface StageContext {
    n: number;
    status: LabStatus;
    key: string;
    app: AppSettings;
    s: BenchStack;
    tags: { current: string; lastPulumi: string };
    attempt: number;
}

async function floorRun(c: StageContext, maxParallel: number) {
    // Every run moves every host to another good release, so each does the same work.
    const tag = (c.tags.current = ["v2", "v3", "v1"].find((t) => t !== c.tags.current)!);
    const commit = (c.status.releases as Record<string, string>)[tag];
    const targets = c.status.hosts.map((h) => ({ host: h.host, port: h.port, user: h.user, hostKey: h.hostKey, privateKey: c.key, connectTimeout: 5 }));
    const cpu0 = process.cpuUsage();
    const floor = await floorStage(targets, c.app, commit, c.attempt, maxParallel, 4 * maxParallel);
    const cpu = process.cpuUsage(cpu0);
    c.attempt += targets.length;
    return { ...floor, cpuSecondsPerHost: (cpu.user + cpu.system) / 1e6 / targets.length };
}

async function pulumiRun(c: StageContext, maxParallel: number) {
    // The stack only knows what its own runs did, so a pulumi run also avoids the release of
    // its previous run (the ledger would call that a no-op).
    const tag = (c.tags.current = c.tags.lastPulumi = ["v3", "v2", "v1"].find((t) => t !== c.tags.current && t !== c.tags.lastPulumi)!);
    c.s.configure({ targetCommit: (c.status.releases as Record<string, string>)[tag], rolloutPercent: 100, maxParallel });
    const before = await logins(c.status);
    const startedAt = Date.now() / 1000;
    const up = await c.s.up(maxParallel);
    if (up.code !== 0) {
        throw new Error(`pulumi up (N=${c.n}, maxParallel ${maxParallel}) failed:\n${up.output.slice(-3000)}`);
    }
    const rollout = JSON.parse(c.s.cli("stack", "output", "rollout", "--json").stdout);
    if (rollout.attempted !== c.n || rollout.succeeded !== c.n) {
        throw new Error(`pulumi up (N=${c.n}) updated ${rollout.succeeded}/${rollout.attempted} of ${c.n} hosts; not a full stage`);
    }
    const after = await logins(c.status);
    // From the start of `pulumi up` to the first host's first step: the engine's start.
    const firstContactSeconds = Math.min(...(await attemptSpans(c.status)).map(([a]) => a).filter((a) => a > 0)) - startedAt;
    return { ...up, loginsPerHost: mean(after.map((a, i) => a - before[i])), cpuSecondsPerHost: up.cpuSeconds / c.n, firstContactSeconds };
}

/**
 * The price of the promotion re-check: the same stage again (every host on the release, so
 * each is re-checked and none updated) against the same read-only readings over plain SSH,
 * 16 at a time as the program reads them.
 */
async function recheckCost(c: StageContext) {
    const started = process.hrtime.bigint();
    const readings = await mapLimit(c.status.hosts, 16, (h) =>
        recheckHost({ host: h.host, port: h.port, user: h.user, hostKey: h.hostKey, privateKey: c.key, connectTimeout: 5 }, c.app, healthUrlFor(c.app, h.host)));
    const floorSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (readings.some((r) => !r.reachable)) {
        throw new Error(`the re-check floor could not read every host: ${readings.filter((r) => !r.reachable).map((r) => r.reason).join("; ")}`);
    }
    const up = await c.s.up(5);
    const rollout = JSON.parse(c.s.cli("stack", "output", "rollout", "--json").stdout);
    if (up.code !== 0 || rollout.attempted !== 0) {
        throw new Error(`the repeated stage (N=${c.n}) failed or updated ${rollout.attempted} hosts:\n${up.output.slice(-3000)}`);
    }
    return { hosts: c.n, floorSeconds, pulumiSeconds: up.seconds, ratio: up.seconds / floorSeconds };
}

/** The stage at maxParallel 5 against the floor, and (for the largest size) every parallelism. */
export async function stageCost(n: number, status: LabStatus, results: any, opts: { reps: number; parallel: number[]; largest: boolean }) {
    const app: AppSettings = { ...DEFAULTS, repoUrl: status.repoUrl, healthUrl: status.healthUrlTemplate, settleSeconds: SETTLE, minUptimeSeconds: 0, connectTimeout: 5 };
    const s = newStack(`stage${n}`);
    const c: StageContext = { n, status, key: fs.readFileSync(status.privateKeyPath, "utf8"), app, s, tags: { current: "v1", lastPulumi: "" }, attempt: 100 };
    s.configure({ ...labStackConfig(status), stepRunner: s.runner, settleSeconds: SETTLE, minUptimeSeconds: 0, connectTimeout: 5, bakeSeconds: 0 });
    s.setSecret("sshPrivateKey", c.key);
    try {
        for (let r = 0; r < opts.reps; r++) {
            const floor = await floorRun(c, 5);
            const up = await pulumiRun(c, 5);
            const phases = ["connect", "prepare", "update", "finish"] as const;
            const perHost = Object.fromEntries(phases.map((k) => [k, mean(floor.phases.map((p) => p[k]))])) as Record<(typeof phases)[number], number>;
            const perStep = Object.fromEntries(Object.keys(floor.phases[0].steps).map((k) => [k, mean(floor.phases.map((p) => p.steps[k] ?? 0))]));
            const state = stateFigures(s.exportState().text, n);
            results.stage.push({
                hosts: n, rep: r, maxParallel: 5, runner: s.runner, floorSeconds: floor.seconds, pulumiSeconds: up.seconds, ratio: up.seconds / floor.seconds,
                pulumiPeakRssMb: up.peakRssMb, loginsPerHost: up.loginsPerHost, ...state,
                pulumiCpuSecondsPerHost: up.cpuSecondsPerHost, floorCpuSecondsPerHost: floor.cpuSecondsPerHost, firstContactSeconds: up.firstContactSeconds,
                perHostSeconds: { ...perHost, engineOverhead: (up.seconds - floor.seconds) / Math.ceil(n / 5) }, perStepSeconds: perStep,
            });
            results.verify.push({ hosts: n, rep: r, settleSeconds: SETTLE, restartToVerifiedSeconds: perStep.verify, ratio: perStep.verify / SETTLE });
            const rc = await recheckCost(c);
            results.recheck.push({ ...rc, rep: r });
            log(`re-check N=${n} rep ${r}: repeated stage ${rc.pulumiSeconds.toFixed(1)}s, ${n} plain SSH readings ${rc.floorSeconds.toFixed(1)}s`);
            log(`stage N=${n} rep ${r}: floor ${floor.seconds.toFixed(1)}s, pulumi up ${up.seconds.toFixed(1)}s, ratio ${(up.seconds / floor.seconds).toFixed(2)}, ` +
                `${(state.bytesPerHost / 1024).toFixed(1)} KiB state per host, ${up.loginsPerHost.toFixed(1)} SSH logins per host`);
        }
        if (opts.largest) {
            for (const p of opts.parallel) {
                const floor = await floorRun(c, p);
                const up = await pulumiRun(c, p);
                const peak = await observedPeak(status);
                results.parallel.push({ hosts: n, maxParallel: p, floorSeconds: floor.seconds, pulumiSeconds: up.seconds, ratio: up.seconds / floor.seconds, observedPeak: peak,
                    pulumiCpuSecondsPerHost: up.cpuSecondsPerHost, floorCpuSecondsPerHost: floor.cpuSecondsPerHost });
                log(`parallel ${p} on ${n}: floor ${floor.seconds.toFixed(1)}s, pulumi ${up.seconds.toFixed(1)}s (${(up.seconds / floor.seconds).toFixed(2)}×), ${peak} hosts updating at once`);
            }
        }
    } finally {
        s.remove();
    }
}

/**
 * The state one host costs with the other step runner (when the engine can run it): a
 * one-stage stack of the same hosts.
 */
export async function otherRunnerState(status: LabStatus, results: any) {
    const s = newStack("runner");
    const other = s.runner === "command" ? "ssh2" : undefined;
    try {
        if (!other) {
            results.runnerState.push({ runner: "command", skipped: "the command provider plugin v1.2.1 is not installed" });
            return;
        }
        s.configure({ ...labStackConfig(status), stepRunner: other, settleSeconds: SETTLE, minUptimeSeconds: 0, connectTimeout: 5, bakeSeconds: 0, targetCommit: status.releases.v2, rolloutPercent: 100 });
        s.setSecret("sshPrivateKey", fs.readFileSync(status.privateKeyPath, "utf8"));
        const up = await s.up();
        if (up.code !== 0) {
            throw new Error(`pulumi up with stepRunner ${other} failed:\n${up.output.slice(-3000)}`);
        }
        results.runnerState.push({ runner: other, hosts: status.hosts.length, ...stateFigures(s.exportState().text, status.hosts.length) });
    } finally {
        s.remove();
    }
}
