// npm run bench -- [--sizes 10,50] [--scale 10,100,1000] [--sharded 1000,10000 [--shard-size 250]] [--parallel 1,5,10,20] [--reps 1] [--smoke] [--out results]
// Every figure is a ratio against a baseline measured in the same run on the same lab.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { execFileSync, spawnSync } from "child_process";
import { readLabStatus } from "../lab/labStatus";
import { REPO_ROOT } from "../lab/paths";
import { barChartSvg } from "./chart";
import { scaling } from "./scale";
import { shardedScaling } from "./shards";
import { SETTLE, otherRunnerState, stageCost } from "./stage";
import { rollbackCost, slowInstallStage } from "./releases";

const arg = (name: string, dflt: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : dflt;
};
const smoke = process.argv.includes("--smoke");
const list = (s: string) => s.split(",").map(Number).filter((n) => n > 0);
const sizes = list(arg("sizes", smoke ? "3" : "10,50"));
const scale = list(arg("scale", smoke ? "5,10" : "10,100,1000"));
const parallel = list(arg("parallel", smoke ? "1,3" : "1,5,10,20"));
// Fleets split into shard stacks (npm run fleet), of unreachable hosts like the scale rows.
const sharded = list(arg("sharded", ""));
const shardSize = Number(arg("shard-size", "250"));
const reps = Number(arg("reps", "1"));
// Release directories: the rollback and interruption rows (on the smallest lab) and the slow-install stage (on the largest).
const releaseRows = !process.argv.includes("--no-releases");
const outDir = path.resolve(arg("out", path.join(REPO_ROOT, "results")));

const bin = execFileSync("bash", [path.join(REPO_ROOT, "scripts", "engine.sh"), "--print-path", "--without-command"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
process.env.PATH = `${bin}:${process.env.PATH}`;
const lab = (...a: string[]) => {
    const r = spawnSync(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", path.join(REPO_ROOT, "lab", "cli.ts"), ...a], { cwd: REPO_ROOT, encoding: "utf8" });
    if (r.status !== 0) {
        throw new Error(`lab ${a.join(" ")} failed: ${r.stderr}`);
    }
};

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

function writeCharts(results: any) {
    fs.writeFileSync(path.join(outDir, "latest.svg"), barChartSvg(
        "pulumi up stage time ÷ floor (same lifecycle over plain SSH)",
        [...results.stage.map((x: any) => `${x.hosts} hosts`), ...results.parallel.map((x: any) => `${x.hosts}h p=${x.maxParallel}`)],
        [{ name: "pulumi up ÷ floor", values: [...results.stage.map((x: any) => x.ratio), ...results.parallel.map((x: any) => x.ratio)] }],
        "×"));
    const sc = results.scale;
    if (sc.length > 0) {
        const rel = (k: string) => sc.map((x: any) => x[k] / sc[0][k]);
        fs.writeFileSync(path.join(outDir, "latest-scale.svg"), barChartSvg(
            `time and memory ÷ the ${sc[0].hosts}-host value, static inventories`,
            sc.map((x: any) => `${x.hosts} hosts`),
            [
                { name: "preview time", values: rel("previewSeconds") },
                { name: "preview memory", values: rel("previewPeakRssMb") },
                { name: "no-op up", values: rel("noopSeconds") },
                { name: "changing stage", values: rel("changeSeconds") },
                { name: "state", values: rel("stateBytes") },
            ],
            "×"));
    }
}

function summaryRows(results: any): string[] {
    const sc = results.scale;
    const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
    return [
        ...results.stage.map((x: any) => `stage    ${x.hosts} hosts (${x.runner}): pulumi ${x.pulumiSeconds.toFixed(1)}s / floor ${x.floorSeconds.toFixed(1)}s = ${x.ratio.toFixed(2)}×; state ${kib(x.bytesPerHost)} per host (${kib(x.exportBytesPerHost)} as exported), provider code ≤ ${x.maxProviderCodeBytes} B, ${x.loginsPerHost.toFixed(1)} SSH logins per host`),
        ...results.stage.map((x: any) => `start    ${x.hosts} hosts: pulumi up to the first host's first step ${x.firstContactSeconds.toFixed(1)}s; CPU per updated host: pulumi ${x.pulumiCpuSecondsPerHost.toFixed(2)}s, floor ${x.floorCpuSecondsPerHost.toFixed(2)}s`),
        ...(results.rollback ? [`rollback ${results.rollback.hosts} hosts: ${results.rollback.rollbackSeconds.toFixed(2)}s / one switch+restart+verify ${results.rollback.restartVerifySeconds.toFixed(2)}s = ${(results.rollback.rollbackSeconds / results.rollback.restartVerifySeconds).toFixed(2)}×; in place (checkout and install added) ${results.rollback.rollbackInPlaceSeconds.toFixed(2)}s; service interruption in a switch ${results.rollback.interruptionSeconds.toFixed(2)}s (max ${results.rollback.maxInterruptionSeconds.toFixed(2)}s)`] : []),
        ...(results.slowInstall ? [`install10 ${results.slowInstall.hosts} hosts, maxParallel 5: pulumi ${results.slowInstall.pulumiSeconds.toFixed(1)}s / floor with prepares ahead ${results.slowInstall.floorAheadSeconds.toFixed(1)}s = ${results.slowInstall.ratioToFloorAhead.toFixed(2)}×; the old shape's floor (prepared in each slot) ${results.slowInstall.floorInSlotsSeconds.toFixed(1)}s, pulumi ÷ that ${results.slowInstall.ratioToInSlots.toFixed(2)}×`] : []),
        ...results.verify.map((x: any) => `verify   ${x.hosts} hosts: restart→verified ${x.restartToVerifiedSeconds.toFixed(2)}s / settle ${x.settleSeconds}s = ${x.ratio.toFixed(2)}×`),
        ...(results.recheck ?? []).map((x: any) => `recheck  ${x.hosts} hosts: the stage repeated (each host re-checked, none updated) ${x.pulumiSeconds.toFixed(1)}s / the same readings over plain SSH ${x.floorSeconds.toFixed(2)}s = ${x.ratio.toFixed(1)}×`),
        ...results.parallel.map((x: any) => `parallel ${x.maxParallel}: pulumi ${x.pulumiSeconds.toFixed(1)}s / floor ${x.floorSeconds.toFixed(1)}s = ${x.ratio.toFixed(2)}×; ${x.observedPeak} hosts updating at once`),
        ...results.runnerState.map((x: any) => (x.skipped ? `runner   ${x.runner}: not measured (${x.skipped})` : `runner   ${x.runner}: state ${kib(x.bytesPerHost)} per host (${x.hosts} hosts), provider code ≤ ${x.maxProviderCodeBytes} B`)),
        ...sc.map((x: any) => `scale    ${x.hosts} hosts: preview ${x.previewSeconds.toFixed(1)}s ${x.previewPeakRssMb.toFixed(0)}MB (a config mistake: ${x.mistakeSeconds.toFixed(1)}s = ${(x.mistakeSeconds / x.previewSeconds).toFixed(2)}×); no-op up ${x.noopSeconds.toFixed(1)}s; changing stage ${x.changeSeconds.toFixed(1)}s; state ${x.stateMiB.toFixed(2)} MiB (${kib(x.bytesPerHost)} per host)`),
        ...(results.sharded ?? []).map((x: any) => `sharded  ${x.hosts} hosts as ${x.shards} shards of ≤${x.perShard} (${x.shardsParallel} at once): preview ${x.previewSeconds.toFixed(1)}s; plan ${x.planSeconds?.toFixed(1) ?? "-"}s; first creation ${x.createSeconds.toFixed(1)}s; changing stage ${x.changeSeconds.toFixed(1)}s; peak memory ${Math.max(x.previewPeakRssMb, x.planPeakRssMb ?? 0, x.createPeakRssMb, x.changePeakRssMb).toFixed(0)} MB; state ${kib(x.bytesPerHost)} per host`),
        ...(results.growth.previewTime != null ? [`growth   preview time ∝ N^${results.growth.previewTime.toFixed(2)}, memory ∝ N^${results.growth.previewMemory.toFixed(2)}, no-op ∝ N^${results.growth.noopTime.toFixed(2)}, changing stage ∝ N^${results.growth.changeTime.toFixed(2)}, state ∝ N^${results.growth.state.toFixed(2)}`] : []),
    ];
}

async function main() {
    const results: any = { when: new Date().toISOString(), smoke, machine: { cores: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30) }, settleSeconds: SETTLE, stage: [], verify: [], recheck: [], scale: [], sharded: [], parallel: [], runnerState: [] };
    for (const n of sizes) {
        lab("up", "--hosts", String(n));
        try {
            const status = readLabStatus();
            await stageCost(n, status, results, { reps, parallel, largest: n === Math.max(...sizes) });
            if (releaseRows && n === Math.min(...sizes)) {
                await rollbackCost(status, results, Math.min(5, n));
            }
            if (n === Math.max(...sizes)) {
                if (releaseRows) await slowInstallStage(status, results);
                await otherRunnerState(status, results);
            }
        } finally {
            lab("down");
        }
    }
    for (const m of scale) {
        await scaling(m, results);
    }
    for (const m of sharded) {
        await shardedScaling(m, shardSize, results);
    }
    const sc = results.scale;
    const growth = (k: string) => growthExponent(sc.map((x: any) => x.hosts), sc.map((x: any) => x[k]));
    results.growth = sc.length > 1 ? {
        previewTime: growth("previewSeconds"), previewMemory: growth("previewPeakRssMb"), noopTime: growth("noopSeconds"), changeTime: growth("changeSeconds"), state: growth("stateBytes"),
    } : {};
    fs.mkdirSync(outDir, { recursive: true });
    const stamp = results.when.replace(/[:.]/g, "-");
    fs.writeFileSync(path.join(outDir, `bench-${stamp}.json`), JSON.stringify(results, null, 2));
    fs.writeFileSync(path.join(outDir, "latest.json"), JSON.stringify(results, null, 2));
    writeCharts(results);
    process.stdout.write(`${summaryRows(results).join("\n")}\nresults: ${path.join(outDir, "latest.json")}, charts: ${path.join(outDir, "latest.svg")}${sc.length > 0 ? `, ${path.join(outDir, "latest-scale.svg")}` : ""}\n`);
}

main().catch((e) => {
    process.stderr.write(`bench failed: ${e.stack ?? e}\n`);
    process.exit(1);
});
