// The demo: what an operator does, with the real `pulumi` CLI, against a lab fleet.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { commandPluginReady, labStackConfig, linkProject, throwawayPulumiEnv, writeStackConfig } from "../lab/labProject";
import { readLabStatus, LabStatus } from "../lab/labStatus";
import { REPO_ROOT } from "../lab/paths";
import { fleetView, formatFleetView } from "../operator/fleetView";
import { readStackOutputs, tagsOf } from "../operator/stackAccess";

/** The local lab's stack: its settings and salt are Pulumi.dev.yaml (a copy of which the demo fills in). */
const STACK = "dev";
/** The lab-only passphrase Pulumi.dev.yaml's salt was made with. */
const LAB_PASSPHRASE = "rachel-fleet-lab";
/** The demo's bake time, as Pulumi.dev.yaml sets rachel-fleet:bakeSeconds (the default is 300). */
const BAKE = 20;
const root = fs.mkdtempSync(path.join(os.tmpdir(), "rachel-fleet-demo-"));
const dir = path.join(root, "project");
const env: NodeJS.ProcessEnv = { ...process.env, ...throwawayPulumiEnv(root, LAB_PASSPHRASE) };

const say = (s: string) => process.stdout.write(`\n\x1b[1m== ${s}\x1b[0m\n`);
function run(cmd: string, args: string[], opts: { cwd?: string; input?: string; allowFail?: boolean; quiet?: boolean } = {}) {
    const r = spawnSync(cmd, args, {
        cwd: opts.cwd ?? dir,
        env,
        input: opts.input,
        stdio: [opts.input === undefined ? "inherit" : "pipe", opts.quiet ? "pipe" : "inherit", "inherit"],
        encoding: "utf8",
    });
    if (r.status !== 0 && !opts.allowFail) {
        throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}`);
    }
    return r;
}
const lab = (...args: string[]) => run(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", path.join(REPO_ROOT, "lab", "cli.ts"), ...args], { cwd: REPO_ROOT });
// The per-stage table replaces the outputs diff an up would print (hundreds of lines).
const pulumi = (...args: string[]) => run("pulumi", [...args, ...(args[0] === "up" ? ["--suppress-outputs"] : []), "--stack", STACK], { allowFail: true });
/** `npm run demo -- --keep`: leave the lab and the stack up, and say how to open the console on them. */
const KEEP = process.argv.includes("--keep");

/** The operator's table, as `npm run status -- --repo <origin>` prints it. */
function table(status: LabStatus) {
    process.stdout.write(formatFleetView(fleetView(readStackOutputs({ stack: STACK, dir, env }), tagsOf(status.repoUrl)), 70));
}

function sleepSeconds(seconds: number, what: string) {
    process.stdout.write(`(waiting ${seconds} s for ${what})\n`);
    spawnSync("sleep", [String(seconds)]);
}

/** Tries the advance at once (refused by the bake, before any host is touched), then waits it out. */
function bakeThenAdvance(percent: number) {
    say(`advancing to ${percent}% at once: the bake refuses it at preview`);
    const early = pulumi("preview", "--diff=false");
    if (early.status === 0) {
        throw new Error(`the advance to ${percent}% was not refused during the bake`);
    }
    sleepSeconds(BAKE, "the bake");
}

function main() {
    say("booting a 10-host lab fleet (Debian 12 containers with their own systemd and sshd, on 127.0.1.1-10)");
    lab("up", "--hosts", "10");
    const status = readLabStatus();
    try {
        // Pulumi.dev.yaml is copied, never linked: the checkout's file stays as committed.
        linkProject(dir);
        fs.copyFileSync(path.join(REPO_ROOT, "Pulumi.dev.yaml"), path.join(dir, "Pulumi.dev.yaml"));
        run("pulumi", ["stack", "init", STACK]);
        const runner = commandPluginReady(env.PULUMI_HOME!, env.PATH ?? "") ? "command" : "ssh2";
        if (runner === "ssh2") {
            say("note: the command provider plugin v1.2.1 is not available to this engine; steps run with stepRunner ssh2 (same commands)");
        }
        // A short bake, so the demo can show the gate and still finish in a few minutes.
        writeStackConfig(dir, STACK, { ...labStackConfig(status), stepRunner: runner });
        run("pulumi", ["config", "set", "--secret", "sshPrivateKey", "--stack", STACK], { input: fs.readFileSync(status.privateKeyPath, "utf8") });

        for (const percent of [10, 50, 100]) {
            writeStackConfig(dir, STACK, { targetCommit: status.releases.v2, rolloutPercent: percent });
            if (percent === 10) {
                say("pulumi preview: only the canary changes");
                pulumi("preview", "--diff=false");
            } else {
                bakeThenAdvance(percent);
            }
            say(`release v2 at ${percent}%: pulumi config set rolloutPercent ${percent} && pulumi up`);
            if (pulumi("up", "--yes", "--skip-preview").status !== 0) {
                throw new Error(`pulumi up at ${percent}% failed`);
            }
            table(status);
        }

        say("a bad release (crash-start) at 10%: the canary is rolled back and the rollout halts");
        writeStackConfig(dir, STACK, { targetCommit: status.releases["crash-start"], rolloutPercent: 10 });
        const bad = pulumi("up", "--yes", "--skip-preview");
        process.stdout.write(`\npulumi up exited ${bad.status} (non-zero: halted)\n`);
        table(status);
        say("advancing the halted release to 50% is refused before any host is touched");
        writeStackConfig(dir, STACK, { rolloutPercent: 50 });
        const refused = pulumi("preview");
        process.stdout.write(`\npulumi preview exited ${refused.status}\n`);
        if (bad.status === 0 || refused.status === 0) {
            throw new Error("the bad release was not halted");
        }

        say("a release that passes its verify and dies seconds later (crash-late, verify settle 1 s): its canary succeeds");
        writeStackConfig(dir, STACK, { targetCommit: status.releases["crash-late"], rolloutPercent: 10, settleSeconds: 1 });
        if (pulumi("up", "--yes", "--skip-preview").status !== 0) {
            throw new Error("crash-late's canary did not pass its verify");
        }
        table(status);
        writeStackConfig(dir, STACK, { rolloutPercent: 50 });
        sleepSeconds(BAKE + 1, "the bake");
        say("advancing to 50%: the re-check finds the canary regressed and refuses, naming it");
        const regressed = pulumi("up", "--yes", "--skip-preview");
        process.stdout.write(`\npulumi up exited ${regressed.status} (non-zero: refused)\n`);
        table(status);
        if (regressed.status === 0) {
            throw new Error("the regressed canary did not stop the advance");
        }

        for (const percent of [10, 100]) {
            say(`fixing forward: v3 at ${percent}%${percent === 10 ? " (settle back to 3 s)" : ", after the bake: every host, the broken canary included"}`);
            writeStackConfig(dir, STACK, { targetCommit: status.releases.v3, rolloutPercent: percent, settleSeconds: 3 });
            if (percent > 10) {
                sleepSeconds(BAKE + 1, "the bake");
            }
            if (pulumi("up", "--yes", "--skip-preview").status !== 0) {
                throw new Error(`the fix forward failed at ${percent}%`);
            }
            table(status);
        }
        say("done: every host runs v3; neither bad release got past its canary");
    } finally {
        if (KEEP) {
            keepForConsole(status);
        } else {
            say("tearing the lab down");
            lab("down");
            fs.rmSync(root, { recursive: true, force: true });
            process.stdout.write("\nTo keep the lab up and look at it in the console (npm run console), run: npm run demo -- --keep\n");
        }
    }
}

/** Writes the stack's environment to a file only root reads (the passphrase is never printed) and says how to use it. */
function keepForConsole(status: LabStatus) {
    const envFile = path.join(root, "env.sh");
    const vars = ["PATH", "PULUMI_HOME", "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_SKIP_UPDATE_CHECK", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"];
    fs.writeFileSync(envFile, vars.map((v) => `export ${v}='${env[v] ?? ""}'\n`).join(""), { mode: 0o600 });
    say("kept: the lab and the demo stack are still up");
    process.stdout.write(
        `  open the console:  source ${envFile} && npm run console -- --stack ${STACK} --dir ${dir} --repo ${status.repoUrl}\n` +
            `  the status table:  source ${envFile} && npm run status -- --stack ${STACK} --dir ${dir} --repo ${status.repoUrl}\n` +
            `  tear it down:      npm run lab -- down && rm -rf ${root}\n`,
    );
}

try {
    main();
} catch (e) {
    process.stderr.write(`demo failed: ${(e as Error).message}\n`);
    process.exit(1);
}
