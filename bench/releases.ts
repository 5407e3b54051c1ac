// What release directories cost and save, each figure against a baseline of the same run:
// a rollback (a switch back) against one restart + verify, the service's interruption in a
// switch, and a stage whose install takes ~10 s with prepares run ahead against the same
// lifecycle prepared host by host inside each slot (the shape of an update before release
// directories) and against the new floor.
import * as fs from "fs";
import * as http from "http";
import { AppSettings, DEFAULTS } from "../config/config";
import { mapLimit } from "../fleet/pool";
import { labStackConfig } from "../lab/labProject";
import { LabHost, LabStatus } from "../lab/labStatus";
import { runOnHost } from "../lab/sshExec";
import { finishAttemptOver, prepareOver, readHostOver } from "../lifecycle/hostOps";
import { attemptIdFor, healthUrlFor, lifecycleScript, updateCommand } from "../lifecycle/script";
import { SshTarget, withSsh } from "../lifecycle/ssh";
import { floorStage } from "./floor";
import { SETTLE } from "./stage";
import { newStack } from "./stacks";

const log = (s: string) => process.stderr.write(`bench: ${s}\n`);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const since = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e9;

function benchApp(status: LabStatus): AppSettings {
    return { ...DEFAULTS, repoUrl: status.repoUrl, healthUrl: status.healthUrlTemplate, settleSeconds: SETTLE, minUptimeSeconds: 0, connectTimeout: 5 };
}
const targetOf = (h: LabHost, key: string): SshTarget => ({ host: h.host, port: h.port, user: h.user, hostKey: h.hostKey, privateKey: key, connectTimeout: 5 });

/** The longest stretch the app's health URL did not answer 200 while `during` ran, polled every 20 ms. */
async function interruption(h: LabHost, app: AppSettings, during: () => Promise<unknown>): Promise<number> {
    let down: number | undefined;
    let longest = 0;
    let running = true;
    const poll = async () => {
        while (running) {
            const ok = await new Promise<boolean>((resolve) => {
                const req = http.get(healthUrlFor(app, h.host), { timeout: 1000, agent: false }, (res) => (res.resume(), resolve(res.statusCode === 200)));
                req.on("error", () => resolve(false));
                req.on("timeout", () => req.destroy());
            });
            const now = Date.now();
            if (!ok && down === undefined) down = now;
            if (ok && down !== undefined) (longest = Math.max(longest, now - down)), (down = undefined);
            await new Promise((r) => setTimeout(r, 20));
        }
    };
    const poller = poll();
    await during();
    await new Promise((r) => setTimeout(r, 500));
    running = false;
    await poller;
    return longest / 1000;
}

/** One host's update over one connection: reading, prepare, switch, judgement; the record's time and step times. */
async function updateOver(target: SshTarget, app: AppSettings, commit: string, attempt: number) {
    const attemptId = attemptIdFor(commit, attempt);
    return withSsh(target, async (exec) => {
        await readHostOver(exec, app);
        await prepareOver(exec, app, commit, attemptId);
        await exec(updateCommand(lifecycleScript(app), commit, attemptId, healthUrlFor(app, target.host)));
        const t0 = process.hrtime.bigint();
        const outcome = await finishAttemptOver(exec, { app, commit, attemptId, healthUrl: healthUrlFor(app, target.host) });
        return { outcome, finishSeconds: since(t0) };
    });
}

/**
 * Per host: a good update (v1 → v2; its restart + verify is the baseline, and the service's
 * interruption is measured meanwhile), then a release that fails verify on its health
 * (bad-health): its judgement minus a good judgement's is the rollback (switch back,
 * restart, verify). Before release directories a rollback also checked out and installed
 * the previous commit: that figure adds this run's build and install times of v2.
 */
export async function rollbackCost(status: LabStatus, results: any, hosts = 5) {
    const app = benchApp(status);
    const key = fs.readFileSync(status.privateKeyPath, "utf8");
    const rows = await mapLimit(status.hosts.slice(0, hosts), 1, async (h, i) => {
        const target = targetOf(h, key);
        let good: Awaited<ReturnType<typeof updateOver>> | undefined;
        const interrupted = await interruption(h, app, async () => (good = await updateOver(target, app, status.releases.v2, 200 + i)));
        if (good!.outcome.updateStatus !== "success") throw new Error(`${h.name}: the good update ended ${good!.outcome.updateStatus}: ${good!.outcome.error}`);
        const bad = await updateOver(target, app, status.releases["bad-health"], 300 + i);
        if (bad.outcome.updateStatus !== "rolled_back") throw new Error(`${h.name}: bad-health ended ${bad.outcome.updateStatus}: ${bad.outcome.error}`);
        const s = good!.outcome.stepSeconds ?? {};
        const restartVerify = (s.switch ?? 0) + (s.restart ?? 0) + (s.verify ?? 0);
        const rollback = bad.finishSeconds - good!.finishSeconds;
        return { host: h.name, restartVerify, rollback, rollbackInPlace: rollback + (s.build ?? 0) + (s.install ?? 0), interruption: interrupted };
    });
    const r = {
        hosts: rows.length,
        restartVerifySeconds: mean(rows.map((x) => x.restartVerify)),
        rollbackSeconds: mean(rows.map((x) => x.rollback)),
        rollbackInPlaceSeconds: mean(rows.map((x) => x.rollbackInPlace)),
        interruptionSeconds: mean(rows.map((x) => x.interruption)),
        maxInterruptionSeconds: Math.max(...rows.map((x) => x.interruption)),
        rows,
    };
    results.rollback = r;
    log(`rollback: ${r.rollbackSeconds.toFixed(2)}s vs one switch+restart+verify ${r.restartVerifySeconds.toFixed(2)}s (${(r.rollbackSeconds / r.restartVerifySeconds).toFixed(2)}×); ` +
        `in place (checkout + install added) ${r.rollbackInPlaceSeconds.toFixed(2)}s; interruption ${r.interruptionSeconds.toFixed(2)}s (max ${r.maxInterruptionSeconds.toFixed(2)}s)`);
}

/** Forgets a prepared release on every host, so the next stage to it builds and installs it again. */
async function forget(status: LabStatus, commit: string) {
    await mapLimit(status.hosts, 10, (h) =>
        runOnHost(h, `[ "$(readlink -f ~/rachel)" = ~/releases/${commit} ] || { rm -rf ~/releases/${commit} ~/.rachel-fleet/prepared/${commit}; git -C ~/releases/.repo worktree prune; }`));
}

/** The floor in the shape of an update before release directories: each host prepared and switched in one slot. */
async function floorInSlots(status: LabStatus, key: string, app: AppSettings, commit: string, firstAttempt: number, maxParallel: number) {
    const t0 = process.hrtime.bigint();
    await mapLimit(status.hosts, maxParallel, async (h, i) => {
        const r = await updateOver(targetOf(h, key), app, commit, firstAttempt + i);
        if (r.outcome.updateStatus !== "success") throw new Error(`${h.name}: ${r.outcome.error}`);
    });
    return since(t0);
}

/**
 * A stage whose install takes ~10 s (release install-10s), maxParallel 5: the floor with
 * each host prepared inside its slot (as before release directories), the floor with
 * prepares run ahead (prepareParallel 20), and pulumi up at the defaults (prepareParallel
 * 0 = 4 × maxParallel). Between runs the hosts go back to v3 and forget install-10s.
 */
export async function slowInstallStage(status: LabStatus, results: any) {
    const app = benchApp(status);
    const key = fs.readFileSync(status.privateKeyPath, "utf8");
    const slow = status.releases["install-10s"];
    const back = async (attempt: number) => {
        await floorStage(status.hosts.map((h) => targetOf(h, key)), app, status.releases.v3, attempt, 20, 20);
        await forget(status, slow);
    };
    await back(400);
    const inSlots = await floorInSlots(status, key, app, slow, 500, 5);
    await back(600);
    const cpu0 = process.cpuUsage();
    const ahead = await floorStage(status.hosts.map((h) => targetOf(h, key)), app, slow, 700, 5, 20);
    const floorCpu = (process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1e6;
    await back(800);
    const s = newStack("slow");
    try {
        s.configure({ ...labStackConfig(status), stepRunner: s.runner, settleSeconds: SETTLE, minUptimeSeconds: 0, connectTimeout: 5, bakeSeconds: 0, targetCommit: slow, rolloutPercent: 100, maxParallel: 5 });
        s.setSecret("sshPrivateKey", key);
        const up = await s.up(5);
        const pulumiCpu = up.cpuSeconds;
        if (up.code !== 0) throw new Error(`pulumi up of install-10s failed:\n${up.output.slice(-3000)}`);
        const n = status.hosts.length;
        const r = {
            hosts: n, maxParallel: 5, floorInSlotsSeconds: inSlots, floorAheadSeconds: ahead.seconds, pulumiSeconds: up.seconds,
            ratioToFloorAhead: up.seconds / ahead.seconds, ratioToInSlots: up.seconds / inSlots,
            pulumiCpuSecondsPerHost: pulumiCpu / n, floorCpuSecondsPerHost: floorCpu / n,
        };
        results.slowInstall = r;
        log(`install-10s stage, ${n} hosts, maxParallel 5: pulumi ${r.pulumiSeconds.toFixed(1)}s; floor with prepares ahead ${r.floorAheadSeconds.toFixed(1)}s ` +
            `(${r.ratioToFloorAhead.toFixed(2)}×); floor prepared in each slot (the old shape) ${inSlots.toFixed(1)}s (pulumi ÷ that ${r.ratioToInSlots.toFixed(2)}×); ` +
            `CPU per updated host: pulumi ${r.pulumiCpuSecondsPerHost.toFixed(2)}s, floor ${r.floorCpuSecondsPerHost.toFixed(2)}s`);
    } finally {
        s.remove();
    }
}
