// npm run bench -- [--sizes 10,50] [--scale 10,100,1000] [--parallel 1,5,10,20] [--reps 1] [--checkpointed-max 100] [--smoke] [--out results]
// Every figure is a ratio against a baseline measured in the same run on the same lab.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { execFileSync, spawn, spawnSync } from "child_process";
import * as yaml from "js-yaml";
import { DEFAULTS, AppSettings } from "../config/config";
import { commandPluginReady, labStackConfig, linkProject, throwawayPulumiEnv, writeStackConfig } from "../lab/labProject";
import { readLabStatus, LabStatus } from "../lab/labStatus";
import { mapLimit } from "../lab/concurrency";
import { REPO_ROOT } from "../lab/paths";
import { PhaseTimes, floorUpdate } from "./floor";
import { treeRss } from "./procTree";
import { barChartSvg } from "./chart";

const arg = (name: string, dflt: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : dflt;
};
const smoke = process.argv.includes("--smoke");
const list = (s: string) => s.split(",").map(Number).filter((n) => n > 0);
const sizes = list(arg("sizes", smoke ? "3" : "10,50"));
const scale = list(arg("scale", smoke ? "5,10" : "10,100,1000"));
const parallel = list(arg("parallel", smoke ? "1,3" : "1,5,10,20"));
const reps = Number(arg("reps", "1"));
const checkpointedMax = Number(arg("checkpointed-max", "100"));
const outDir = path.resolve(arg("out", path.join(REPO_ROOT, "results")));
const SETTLE = 3;

const bin = execFileSync("bash", [path.join(REPO_ROOT, "scripts", "engine.sh"), "--print-path", "--without-command"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
process.env.PATH = `${bin}:${process.env.PATH}`;
const log = (s: string) => process.stderr.write(`bench: ${s}\n`);
const lab = (...a: string[]) => {
    const r = spawnSync(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", path.join(REPO_ROOT, "lab", "cli.ts"), ...a], { cwd: REPO_ROOT, encoding: "utf8" });
    if (r.status !== 0) {
        throw new Error(`lab ${a.join(" ")} failed: ${r.stderr}`);
    }
};

interface Run { seconds: number; peakRssMb: number; code: number; output: string }

/** Runs the pulumi CLI, timing it and sampling the resident memory of its whole process tree. */
function pulumi(dir: string, env: NodeJS.ProcessEnv, args: string[]): Promise<Run> {
    return new Promise((resolve) => {
        const started = process.hrtime.bigint();
        const child = spawn("pulumi", args, { cwd: dir, env });
        let output = "";
        child.stdout.on("data", (d) => (output += d));
        child.stderr.on("data", (d) => (output += d));
        let peak = 0;
        const timer = setInterval(() => (peak = Math.max(peak, treeRss(child.pid!))), 100);
        child.on("close", (code) => {
            clearInterval(timer);
            resolve({ seconds: Number(process.hrtime.bigint() - started) / 1e9, peakRssMb: peak / 2 ** 20, code: code ?? -1, output });
        });
    });
}

/** A throwaway stack of this program; its own backend, PULUMI_HOME and passphrase. */
function newStack(name: string) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `rachel-fleet-bench-${name}-`));
    const dir = path.join(root, "project");
    linkProject(dir);
    const env: NodeJS.ProcessEnv = { ...process.env, ...throwawayPulumiEnv(root, "bench") };
    const cli = (...a: string[]) => spawnSync("pulumi", [...a, "--stack", name], { cwd: dir, env, encoding: "utf8" });
    const setSecret = (k: string, v: string) => spawnSync("pulumi", ["config", "set", "--secret", k, "--stack", name], { cwd: dir, env, input: v, encoding: "utf8" });
    const init = spawnSync("pulumi", ["stack", "init", name], { cwd: dir, env, encoding: "utf8" });
    if (init.status !== 0) {
        throw new Error(init.stderr);
    }
    const runner = commandPluginReady(env.PULUMI_HOME!, env.PATH ?? "") ? "command" : "ssh2";
    return {
        dir, env, cli, setSecret, runner,
        configure: (v: Record<string, unknown>) => writeStackConfig(dir, name, v),
        up: (extraEnv: Record<string, string> = {}) => pulumi(dir, { ...env, ...extraEnv }, ["up", "--yes", "--skip-preview", "--stack", name]),
        preview: () => pulumi(dir, env, ["preview", "--stack", name]),
        remove: () => fs.rmSync(root, { recursive: true, force: true }),
    };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
/** Least-squares slope of log(y) on log(x): y ∝ x^slope. */
const growthExponent = (xs0: number[], ys0: (number | null)[]) => {
    const keep = ys0.map((y, i) => (y === null ? -1 : i)).filter((i) => i >= 0);
    const xs = keep.map((i) => xs0[i]), ys = keep.map((i) => ys0[i] as number);
    if (xs.length < 2) {
        return null;
    }
    const lx = xs.map(Math.log), ly = ys.map(Math.log), mx = mean(lx), my = mean(ly);
    return lx.reduce((a, x, i) => a + (x - mx) * (ly[i] - my), 0) / Math.max(1e-12, lx.reduce((a, x) => a + (x - mx) ** 2, 0));
};

async function stageCost(n: number, status: LabStatus, results: any) {
    const app: AppSettings = { ...DEFAULTS, repoUrl: status.repoUrl, healthUrl: status.healthUrlTemplate, settleSeconds: SETTLE, connectTimeout: 5 };
    const key = fs.readFileSync(status.privateKeyPath, "utf8");
    const s = newStack(`stage${n}`);
    s.configure({ ...labStackConfig(status), stepRunner: s.runner, settleSeconds: SETTLE, connectTimeout: 5 });
    s.setSecret("sshPrivateKey", key);
    // Every run moves every host to another good release, so each does the same work. The
    // stack only knows what its own runs did, so a pulumi run also avoids the release of
    // the stack's previous run (the ledger would call that a no-op).
    let current = "v1";
    let lastPulumi = "";
    const floorTag = () => (current = ["v2", "v3", "v1"].find((t) => t !== current)!);
    const pulumiTag = () => (current = lastPulumi = ["v3", "v2", "v1"].find((t) => t !== current && t !== lastPulumi)!);
    let attempt = 100;
    const floorRun = async (maxParallel: number) => {
        const commit = (status.releases as any)[floorTag()];
        const started = process.hrtime.bigint();
        const phases = await mapLimit(status.hosts, maxParallel, (h) =>
            floorUpdate({ host: h.host, port: h.port, user: h.user, hostKey: h.hostKey, privateKey: key, connectTimeout: 5 }, app, commit, attempt++));
        return { seconds: Number(process.hrtime.bigint() - started) / 1e9, phases };
    };
    const pulumiRun = async (maxParallel: number, extraEnv: Record<string, string> = {}) => {
        s.configure({ targetCommit: (status.releases as any)[pulumiTag()], rolloutPercent: 100, maxParallel });
        const up = await s.up(extraEnv);
        if (up.code !== 0) {
            throw new Error(`pulumi up (N=${n}, maxParallel ${maxParallel}) failed:\n${up.output.slice(-3000)}`);
        }
        // A measurement is only worth something if the stage really updated every host.
        const rollout = JSON.parse(s.cli("stack", "output", "rollout", "--json").stdout);
        if (rollout.attempted !== n || rollout.succeeded !== n) {
            throw new Error(`pulumi up (N=${n}) updated ${rollout.succeeded}/${rollout.attempted} of ${n} hosts; not a full stage`);
        }
        return up;
    };
    for (let r = 0; r < reps; r++) {
        const floor = await floorRun(5);
        const up = await pulumiRun(5);
        const perHost = Object.fromEntries((Object.keys(floor.phases[0]) as (keyof PhaseTimes)[]).map((k) => [k, mean(floor.phases.map((p) => p[k]))]));
        const hostTotal = mean(floor.phases.map((p) => Object.values(p).reduce((a, b) => a + b, 0)));
        results.stage.push({
            hosts: n, rep: r, maxParallel: 5, floorSeconds: floor.seconds, pulumiSeconds: up.seconds, ratio: up.seconds / floor.seconds,
            pulumiPeakRssMb: up.peakRssMb, perHostSeconds: { ...perHost, engineOverhead: (up.seconds - floor.seconds) / Math.ceil(n / 5) }, hostTotalSeconds: hostTotal,
        });
        results.verify.push({ hosts: n, rep: r, settleSeconds: SETTLE, restartToVerifiedSeconds: perHost.verify, ratio: perHost.verify / SETTLE });
        log(`stage N=${n} rep ${r}: floor ${floor.seconds.toFixed(1)}s, pulumi up ${up.seconds.toFixed(1)}s, ratio ${(up.seconds / floor.seconds).toFixed(2)}`);
    }
    if (n === Math.max(...sizes)) {
        for (const p of parallel) {
            const floor = await floorRun(p);
            const up = await pulumiRun(p);
            // The same stage without the backend's per-step checkpoint writes.
            const skip = await pulumiRun(p, { PULUMI_SKIP_CHECKPOINTS: "true" });
            results.parallel.push({
                hosts: n, maxParallel: p, floorSeconds: floor.seconds, pulumiSeconds: up.seconds, ratio: up.seconds / floor.seconds,
                skipCheckpointsSeconds: skip.seconds, skipCheckpointsRatio: skip.seconds / floor.seconds,
            });
            log(`parallel ${p} on ${n}: floor ${floor.seconds.toFixed(1)}s, pulumi ${up.seconds.toFixed(1)}s, skipping checkpoints ${skip.seconds.toFixed(1)}s`);
        }
    }
    s.remove();
}

/** Static inventories of m hosts that need not exist: 127.0.3.1:22 refuses at once. */
async function scaling(m: number, results: any) {
    const hosts = Array.from({ length: m }, (_, i) => ({ name: `f-${String(i).padStart(4, "0")}`, host: "127.0.3.1", port: 22, user: "rachel", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq7Yf8z0ffhC4mGzI4OaJbqYcA2dmF1k8Rk1y3Cj1bM" }));
    const s = newStack(`scale${m}`);
    const target = "1".repeat(40);
    // The inventory is a file at every size: past ~850 hosts stack config no longer fits
    // the one environment variable the engine passes it in (Linux caps it at 128 KiB).
    fs.writeFileSync(path.join(s.dir, "inventory.yaml"), yaml.dump({ hosts }));
    s.configure({ inventoryFile: "inventory.yaml", targetCommit: target, rolloutPercent: 100, maxParallel: m, stepRunner: s.runner, connectTimeout: 2 });
    s.setSecret("sshPrivateKey", "-----BEGIN OPENSSH PRIVATE KEY-----\nbench\n-----END OPENSSH PRIVATE KEY-----\n");
    const preview = await s.preview();
    if (preview.code !== 0) {
        throw new Error(`pulumi preview of ${m} hosts failed:\n${preview.output.slice(-3000)}`);
    }
    // The first up creates every resource (all hosts unreachable, so nothing runs on any).
    const create = await s.up({ PULUMI_SKIP_CHECKPOINTS: "true" });
    // The no-op is made possible by marking every host up to date, in the ledger (the
    // stack's own outputs) and in each version record, with stack export/import: then
    // no resource input changes.
    const file = path.join(s.dir, "..", "state.json");
    s.cli("stack", "export", "--file", file);
    const stateBytes = fs.statSync(file).size;
    const d = JSON.parse(fs.readFileSync(file, "utf8"));
    const stackRes = (d.deployment?.resources ?? []).find((r: any) => r.type === "pulumi:pulumi:Stack");
    if (!stackRes?.outputs?.fleet) {
        throw new Error(`the first up of ${m} hosts left no fleet output (exit ${create.code}):\n${create.output.slice(-3000)}`);
    }
    for (const h of hosts) {
        Object.assign(stackRes.outputs.fleet[h.name], { updateStatus: "success", currentVersion: target, targetVersion: target });
    }
    stackRes.outputs.rollout.halted = false;
    for (const r of d.deployment.resources.filter((x: any) => x.type === "pulumi-nodejs:dynamic/rachel-fleet:VpsVersion")) {
        Object.assign(r.outputs, { updateStatus: "success", currentVersion: target, error: "" });
    }
    fs.writeFileSync(file, JSON.stringify(d));
    s.cli("stack", "import", "--file", file);
    // The first up after the import is set-up, not measured: it creates the stage gate, and
    // every host goes from "updating" to "held", which changes each resource's dependencies
    // (a checkpoint write per resource). From then on an up changes nothing.
    const ups = [await s.up({ PULUMI_SKIP_CHECKPOINTS: "true" }), await s.up(), await s.up({ PULUMI_SKIP_CHECKPOINTS: "true" })];
    const failed = ups.find((u) => u.code !== 0);
    if (failed) {
        throw new Error(`a no-op pulumi up of ${m} hosts failed:\n${failed.output.slice(-3000)}`);
    }
    const [, noop, noopSkip] = ups;
    // A changing stage: a new commit for every host. All are unreachable, so each fails fast
    // and nothing runs on any, but every probe and version record changes, and the file
    // backend rewrites the whole checkpoint around each of those steps: the cost that
    // PULUMI_SKIP_CHECKPOINTS removes (a no-op writes almost none). failureThreshold 1: no halt.
    // Above --checkpointed-max hosts the checkpointed run is left out: each of its writes is
    // the whole state file (tens of MiB per 100 hosts), thousands of times.
    s.configure({ targetCommit: "2".repeat(40), failureThreshold: "1" });
    const change = m <= checkpointedMax ? await s.up() : undefined;
    s.configure({ targetCommit: "3".repeat(40) });
    const changeSkip = await s.up({ PULUMI_SKIP_CHECKPOINTS: "true" });
    for (const [what, u] of [["with", change], ["without", changeSkip]] as const) {
        if (u && u.code !== 0) {
            throw new Error(`the changing stage of ${m} hosts ${what} checkpoints failed:\n${u.output.slice(-3000)}`);
        }
    }
    const changed = /(\d+) (updated|created|deleted|replaced)/.exec(noop.output.split("Resources:")[1] ?? "");
    results.scale.push({
        hosts: m, resources: m * 9 + 3, stateMiB: stateBytes / 2 ** 20,
        previewSeconds: preview.seconds, previewPeakRssMb: preview.peakRssMb,
        firstUpSeconds: create.seconds,
        noopSeconds: noop.seconds, noopPeakRssMb: noop.peakRssMb,
        noopSkipCheckpointsSeconds: noopSkip.seconds, noopSkipCheckpointsPeakRssMb: noopSkip.peakRssMb,
        changeSeconds: change?.seconds ?? null, changeSkipCheckpointsSeconds: changeSkip.seconds,
        noopChanges: changed ? changed[0] : "none",
        noopChangedResources: noop.output.split("\n").filter((l) => /^ [~+-] .*(updated|created|deleted)/.test(l)).map((l) => l.trim()).slice(0, 20),
    });
    log(`scale ${m}: preview ${preview.seconds.toFixed(1)}s ${preview.peakRssMb.toFixed(0)}MB, no-op up ${noop.seconds.toFixed(1)}s (skipping checkpoints ${noopSkip.seconds.toFixed(1)}s), ` +
        `changing stage ${change ? `${change.seconds.toFixed(1)}s` : "(not run)"} (skipping checkpoints ${changeSkip.seconds.toFixed(1)}s), state ${(stateBytes / 2 ** 20).toFixed(1)} MiB`);
    s.remove();
}

async function main() {
    const results: any = { when: new Date().toISOString(), smoke, machine: { cores: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30) }, settleSeconds: SETTLE, stage: [], verify: [], scale: [], parallel: [] };
    for (const n of sizes) {
        lab("up", "--hosts", String(n));
        try {
            await stageCost(n, readLabStatus(), results);
        } finally {
            lab("down");
        }
    }
    for (const m of scale) {
        await scaling(m, results);
    }
    const sc = results.scale;
    const growth = (k: string) => growthExponent(sc.map((x: any) => x.hosts), sc.map((x: any) => x[k]));
    results.growth = sc.length > 1 ? {
        previewTime: growth("previewSeconds"),
        previewMemory: growth("previewPeakRssMb"),
        noopTime: growth("noopSeconds"),
        noopTimeSkipCheckpoints: growth("noopSkipCheckpointsSeconds"),
        changeTime: growth("changeSeconds"),
        changeTimeSkipCheckpoints: growth("changeSkipCheckpointsSeconds"),
        state: growth("stateMiB"),
    } : {};
    fs.mkdirSync(outDir, { recursive: true });
    const stamp = results.when.replace(/[:.]/g, "-");
    fs.writeFileSync(path.join(outDir, `bench-${stamp}.json`), JSON.stringify(results, null, 2));
    fs.writeFileSync(path.join(outDir, "latest.json"), JSON.stringify(results, null, 2));
    fs.writeFileSync(path.join(outDir, "latest.svg"), barChartSvg(
        "pulumi up stage time ÷ floor (same sequence over plain SSH)",
        [...results.stage.map((x: any) => `${x.hosts} hosts`), ...results.parallel.map((x: any) => `${x.hosts}h p=${x.maxParallel}`)],
        [
            { name: "pulumi up ÷ floor", values: [...results.stage.map((x: any) => x.ratio), ...results.parallel.map((x: any) => x.ratio)] },
            { name: "… skip checkpoints", values: [...results.stage.map(() => 0), ...results.parallel.map((x: any) => x.skipCheckpointsRatio)] },
        ],
        "×"));
    if (sc.length > 0) {
        const rel = (k: string) => sc.map((x: any) => x[k] / sc[0][k]);
        fs.writeFileSync(path.join(outDir, "latest-scale.svg"), barChartSvg(
            `time and memory ÷ the ${sc[0].hosts}-host value, static inventories`,
            sc.map((x: any) => `${x.hosts} hosts`),
            [
                { name: "preview time", values: rel("previewSeconds") },
                { name: "preview memory", values: rel("previewPeakRssMb") },
                { name: "no-op up", values: rel("noopSeconds") },
                { name: "changing stage", values: rel("changeSeconds").map((v: number) => (Number.isFinite(v) ? v : 0)) },
                { name: "… skip checkpoints", values: rel("changeSkipCheckpointsSeconds") },
            ],
            "×"));
    }
    const rows = [
        ...results.stage.map((x: any) => `stage    ${x.hosts} hosts: pulumi ${x.pulumiSeconds.toFixed(1)}s / floor ${x.floorSeconds.toFixed(1)}s = ${x.ratio.toFixed(2)}×`),
        ...results.verify.map((x: any) => `verify   ${x.hosts} hosts: restart→verified ${x.restartToVerifiedSeconds.toFixed(2)}s / settle ${x.settleSeconds}s = ${x.ratio.toFixed(2)}×`),
        ...results.parallel.map((x: any) => `parallel ${x.maxParallel}: pulumi ${x.pulumiSeconds.toFixed(1)}s / floor ${x.floorSeconds.toFixed(1)}s = ${x.ratio.toFixed(2)}×; skipping checkpoints ${x.skipCheckpointsSeconds.toFixed(1)}s = ${x.skipCheckpointsRatio.toFixed(2)}×`),
        ...sc.map((x: any) => `scale    ${x.hosts} hosts: preview ${x.previewSeconds.toFixed(1)}s ${x.previewPeakRssMb.toFixed(0)}MB; no-op up ${x.noopSeconds.toFixed(1)}s (${(x.noopSeconds / sc[0].noopSeconds).toFixed(1)}× the ${sc[0].hosts}-host no-op), skip-checkpoints ${x.noopSkipCheckpointsSeconds.toFixed(1)}s (${(x.noopSkipCheckpointsSeconds / x.noopSeconds).toFixed(2)}×)`),
        ...sc.map((x: any) => `change   ${x.hosts} hosts: every host to a new commit ${x.changeSeconds === null ? "(checkpointed run left out)" : `${x.changeSeconds.toFixed(1)}s`}, skip-checkpoints ${x.changeSkipCheckpointsSeconds.toFixed(1)}s${x.changeSeconds === null ? "" : ` (${(x.changeSkipCheckpointsSeconds / x.changeSeconds).toFixed(2)}×)`}; state ${x.stateMiB.toFixed(1)} MiB`),
        ...(results.growth.previewTime !== undefined ? [`growth   preview time ∝ N^${results.growth.previewTime.toFixed(2)}, memory ∝ N^${results.growth.previewMemory.toFixed(2)}, no-op ∝ N^${results.growth.noopTime.toFixed(2)} (N^${results.growth.noopTimeSkipCheckpoints.toFixed(2)} skipping checkpoints), changing stage ∝ N^${results.growth.changeTime?.toFixed(2) ?? "?"} (N^${results.growth.changeTimeSkipCheckpoints.toFixed(2)} skipping checkpoints), state ∝ N^${results.growth.state.toFixed(2)}`] : []),
    ];
    process.stdout.write(`${rows.join("\n")}\nresults: ${path.join(outDir, "latest.json")}, charts: ${path.join(outDir, "latest.svg")}${sc.length > 0 ? `, ${path.join(outDir, "latest-scale.svg")}` : ""}\n`);
}

main().catch((e) => {
    process.stderr.write(`bench failed: ${e.stack ?? e}\n`);
    process.exit(1);
});
