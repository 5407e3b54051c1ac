import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { execFileSync } from "child_process";
import { LocalWorkspace, Stack, EngineEvent } from "@pulumi/pulumi/automation";
import { LabStatus, readLabStatus } from "../../lab/labStatus";
import { lab } from "../lab/labCli";
import { REPO_ROOT } from "../../lab/paths";
import { commandPluginReady, endStackProcesses, labStackConfig, linkProject, throwawayPulumiEnv, writeStackConfig } from "../../lab/labProject";

/** Makes the pinned engine available (building it if needed) and returns its bin dir. */
export function engineBin(pulumiHome: string): string {
    try {
        return execFileSync("bash", [path.join(REPO_ROOT, "scripts", "engine.sh"), "--print-path", "--without-command"], {
            encoding: "utf8",
            env: { ...process.env, PULUMI_HOME: pulumiHome },
            stdio: ["ignore", "pipe", "inherit"],
        }).trim();
    } catch (e) {
        throw new Error(`the end-to-end tests need the pinned Pulumi engine; scripts/engine.sh failed: ${e}`);
    }
}

export interface TestStack {
    stack: Stack;
    /** command when the engine has the command plugin, else ssh2. */
    stepRunner: "command" | "ssh2";
    dir: string;
    env: Record<string, string>;
    /** The stack's own PULUMI_HOME: every process its commands start inherits it. */
    home: string;
    /** Writes the stack's plain config (merged into Pulumi.<stack>.yaml, keeping its encryption salt). */
    configure(values: Record<string, unknown>): void;
    destroy(): Promise<void>;
}

/**
 * A real stack of this program on a throwaway file:// backend with its own
 * PULUMI_HOME and passphrase, configured for the lab's hosts. Teardown removes
 * everything it made; call destroy() in `finally`/`after`.
 */
export async function createTestStack(name: string, lab: LabStatus, config: Record<string, unknown>, opts: { pathPrefix?: string; backendUrl?: string } = {}): Promise<TestStack> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `rachel-fleet-e2e-${name}-`));
    const dir = path.join(root, "project");
    // providers/ is a copy, so a test can change the provider's code (see scenario 4b).
    linkProject(dir, ["providers"]);
    const pulumiEnv = throwawayPulumiEnv(root, "rachel-fleet-e2e");
    const home = pulumiEnv.PULUMI_HOME;
    const bin = engineBin(home);
    const env: Record<string, string> = {
        ...pulumiEnv,
        PATH: `${opts.pathPrefix ? opts.pathPrefix + ":" : ""}${bin}:${process.env.PATH}`,
        PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
        ...(opts.backendUrl ? { PULUMI_BACKEND_URL: opts.backendUrl } : {}),
    };
    // The Automation API finds `pulumi` on this process's PATH.
    process.env.PATH = env.PATH;
    const stack = await LocalWorkspace.createOrSelectStack({ stackName: name, workDir: dir }, { envVars: env });
    const configure = (values: Record<string, unknown>) => writeStackConfig(dir, name, values);
    const stepRunner = commandPluginReady(home, env.PATH) ? "command" : "ssh2";
    if (stepRunner === "ssh2") {
        process.stdout.write("NOTE: the command provider plugin v1.2.1 is not available to this engine (see scripts/engine.sh); " +
            "these tests run the same step commands with stepRunner ssh2.\n");
    }
    configure({
        stepRunner,
        ...labStackConfig(lab),
        settleSeconds: 3,
        // Verify's crash-loop watch at the defaults is proven on its own (test/lab/crashLoop.test.ts).
        minUptimeSeconds: 0,
        connectTimeout: 5,
        // The promotion gates' bake is tested on its own (test/e2e/promotion.e2e.test.ts).
        bakeSeconds: 0,
        ...config,
    });
    await stack.setConfig("rachel-fleet:sshPrivateKey", { value: fs.readFileSync(lab.privateKeyPath, "utf8"), secret: true });
    return {
        stack,
        stepRunner,
        dir,
        env,
        home,
        configure,
        async destroy() {
            endStackProcesses(home);
            fs.rmSync(root, { recursive: true, force: true });
        },
    };
}

/** Per VPS, the operations a preview or up reported for its resources (empty: no change). */
export function opsByHost(events: EngineEvent[], hostNames: string[]): Record<string, string[]> {
    const out: Record<string, string[]> = Object.fromEntries(hostNames.map((h) => [h, [] as string[]]));
    for (const e of events) {
        const meta = e.resourcePreEvent?.metadata;
        if (!meta || meta.op === "same" || meta.op === "read") {
            continue;
        }
        const name = meta.urn.split("::").pop()!;
        const host = hostNames.find((h) => name === h || name.startsWith(`${h}-`));
        if (host) {
            out[host].push(`${meta.op} ${name}`);
        }
    }
    return out;
}

/**
 * The engine's output of the runs in one test, kept and shown only when the test failed:
 * a passing suite's log stays a list of test names, and a failing test's log shows every
 * pulumi run it made. Use `runLog.write` as onOutput and `runLog.settle` in afterEach.
 */
export const runLog = {
    chunks: [] as string[],
    write(o: string): void {
        runLog.chunks.push(o);
    },
    settle(test: Mocha.Test | undefined): void {
        if (test?.state === "failed" && runLog.chunks.length) {
            process.stdout.write(`\n----- pulumi output of the failed test "${test.title}" -----\n${runLog.chunks.join("")}\n----- end of pulumi output -----\n`);
        }
        runLog.chunks = [];
    },
};

/**
 * The hooks of a suite that runs against its own lab: `hosts` lab hosts and a test stack
 * up before its tests (handed over through `ready`), each test's pulumi output kept and
 * shown only when it failed, and stack and lab gone after.
 */
export function labStackSuite(name: string, hosts: number, config: (status: LabStatus) => Record<string, unknown>, ready: (status: LabStatus, t: TestStack) => void): void {
    let t: TestStack | undefined;
    before(async () => {
        lab("up", "--hosts", String(hosts));
        const status = readLabStatus();
        t = await createTestStack(name, status, config(status));
        ready(status, t);
    });
    afterEach(function () {
        runLog.settle(this.currentTest);
    });
    after(async () => {
        await t?.destroy();
        lab("down");
    });
}
