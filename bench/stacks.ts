// Throwaway stacks of this program for the bench, and a timed, memory-sampled pulumi run.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawn, spawnSync } from "child_process";
import { commandPluginReady, endStackProcesses, linkProject, throwawayPulumiEnv, writeStackConfig } from "../lab/labProject";
import { TreeCpu, treeRss } from "./procTree";

export interface Run { seconds: number; peakRssMb: number; cpuSeconds: number; code: number; output: string }

/** Runs the pulumi CLI, timing it and sampling the resident memory and CPU of its whole process tree. */
export function pulumi(dir: string, env: NodeJS.ProcessEnv, args: string[]): Promise<Run> {
    return timedRun("pulumi", args, dir, env);
}

/** Runs a command, timing it and sampling the resident memory and CPU of its whole process tree. */
export function timedRun(cmd: string, args: string[], dir: string, env: NodeJS.ProcessEnv): Promise<Run> {
    return new Promise((resolve) => {
        const started = process.hrtime.bigint();
        const child = spawn(cmd, args, { cwd: dir, env });
        let output = "";
        child.stdout.on("data", (d) => (output += d));
        child.stderr.on("data", (d) => (output += d));
        let peak = 0;
        const cpu = new TreeCpu();
        const timer = setInterval(() => {
            peak = Math.max(peak, treeRss(child.pid!));
            cpu.sample(child.pid!);
        }, 100);
        child.on("close", (code) => {
            clearInterval(timer);
            resolve({ seconds: Number(process.hrtime.bigint() - started) / 1e9, peakRssMb: peak / 2 ** 20, cpuSeconds: cpu.seconds, code: code ?? -1, output });
        });
    });
}

export type BenchStack = ReturnType<typeof newStack>;

/** A throwaway stack of this program: its own backend, PULUMI_HOME and passphrase. */
export function newStack(name: string) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `rachel-fleet-bench-${name}-`));
    const dir = path.join(root, "project");
    linkProject(dir);
    const env: NodeJS.ProcessEnv = { ...process.env, ...throwawayPulumiEnv(root, "bench") };
    const cli = (...a: string[]) => spawnSync("pulumi", [...a, "--stack", name], { cwd: dir, env, encoding: "utf8", maxBuffer: 1 << 30 });
    const init = spawnSync("pulumi", ["stack", "init", name], { cwd: dir, env, encoding: "utf8" });
    if (init.status !== 0) {
        throw new Error(init.stderr);
    }
    const runner: "command" | "ssh2" = commandPluginReady(env.PULUMI_HOME!, env.PATH ?? "") ? "command" : "ssh2";
    return {
        name, dir, env, cli, runner,
        setSecret: (k: string, v: string) => spawnSync("pulumi", ["config", "set", "--secret", k, "--stack", name], { cwd: dir, env, input: v, encoding: "utf8" }),
        configure: (v: Record<string, unknown>) => writeStackConfig(dir, name, v),
        /** `pulumi up` as the README says to run it: --parallel when maxParallel is above the engine's default. */
        up: (parallel = 0, extraEnv: Record<string, string> = {}) =>
            pulumi(dir, { ...env, ...extraEnv }, ["up", "--yes", "--skip-preview", "--stack", name, ...(parallel > 8 ? ["--parallel", String(parallel)] : [])]),
        preview: () => pulumi(dir, env, ["preview", "--stack", name]),
        /** The stack's state as `pulumi stack export` writes it. */
        exportState: () => {
            const file = path.join(root, "state.json");
            const r = spawnSync("pulumi", ["stack", "export", "--file", file, "--stack", name], { cwd: dir, env, encoding: "utf8" });
            if (r.status !== 0) {
                throw new Error(`pulumi stack export failed: ${r.stderr}`);
            }
            return { file, text: fs.readFileSync(file, "utf8") };
        },
        remove: () => {
            endStackProcesses(env.PULUMI_HOME!);
            fs.rmSync(root, { recursive: true, force: true });
        },
    };
}

/**
 * State size per host and the largest serialized provider any resource carries. The
 * backend writes the state as compact JSON (that is what every checkpoint rewrites);
 * `pulumi stack export` indents it, so both are given.
 */
export function stateFigures(exportText: string, hosts: number) {
    const d = JSON.parse(exportText);
    const resources: any[] = d.deployment?.resources ?? [];
    const providerCode = Math.max(0, ...resources.map((r) => Math.max(String(r.inputs?.__provider ?? "").length, String(r.outputs?.__provider ?? "").length)));
    const stateBytes = JSON.stringify(d.deployment).length;
    const n = Math.max(1, hosts);
    return { stateBytes, bytesPerHost: stateBytes / n, exportBytes: exportText.length, exportBytesPerHost: exportText.length / n, resources: resources.length, maxProviderCodeBytes: providerCode };
}
