// A throwaway Pulumi project directory for this program, pointed at the lab:
// used by the demo and the end-to-end tests so no stack file lands in the repo.
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { LabStatus } from "./labStatus";
import { REPO_ROOT } from "./paths";

/** The files that make the Pulumi project, linked (not copied) into the project directory. */
const PROJECT_FILES = ["Pulumi.yaml", "index.ts", "components", "config", "lifecycle", "providers", "fleet", "provisioning", "stages", "package.json", "tsconfig.json", "boot", "node_modules"];

/**
 * Links the project's files into `dir`; the folders named in `copies` are copied instead,
 * so a test can change them without touching the repository.
 */
export function linkProject(dir: string, copies: string[] = []): void {
    fs.mkdirSync(dir, { recursive: true });
    for (const f of PROJECT_FILES) {
        if (copies.includes(f)) {
            fs.cpSync(path.join(REPO_ROOT, f), path.join(dir, f), { recursive: true });
        } else {
            fs.symlinkSync(path.join(REPO_ROOT, f), path.join(dir, f));
        }
    }
}

/**
 * Ends every process a stack's commands started: the CLI, its language host and program,
 * and the provider plugins (a killed `pulumi up` leaves these behind, holding SSH
 * sessions). They are found by the PULUMI_HOME they all inherit.
 */
export function endStackProcesses(pulumiHome: string): number {
    let ended = 0;
    for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
        try {
            if (fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`PULUMI_HOME=${pulumiHome}`) && Number(pid) !== process.pid) {
                process.kill(Number(pid), "SIGKILL");
                ended++;
            }
        } catch {
            // gone already, or not ours to read
        }
    }
    return ended;
}

/**
 * Merges plain `rachel-fleet:` config into Pulumi.<stack>.yaml, keeping what the CLI
 * wrote there (the encryption salt, secrets). `undefined` removes a key.
 */
export function writeStackConfig(dir: string, stack: string, values: Record<string, unknown>): void {
    const file = path.join(dir, `Pulumi.${stack}.yaml`);
    const doc = ((fs.existsSync(file) ? yaml.load(fs.readFileSync(file, "utf8")) : {}) ?? {}) as { config?: Record<string, unknown> };
    doc.config = doc.config ?? {};
    for (const [k, v] of Object.entries(values)) {
        if (v === undefined) {
            delete doc.config[`rachel-fleet:${k}`];
        } else {
            doc.config[`rachel-fleet:${k}`] = v;
        }
    }
    fs.writeFileSync(file, yaml.dump(doc));
}

/** The lab's inventory and app settings, as stack config. */
export function labStackConfig(status: LabStatus): Record<string, unknown> {
    return { hosts: status.hosts, healthUrl: status.healthUrlTemplate, repoUrl: status.repoUrl };
}

/**
 * Whether the engine can run remote.Command: the command provider plugin v1.2.1 is
 * installed in PULUMI_HOME or on PATH. Without it the program runs the same step
 * commands with stepRunner ssh2.
 */
export function commandPluginReady(pulumiHome: string, pathVar: string): boolean {
    const installed = fs.existsSync(path.join(pulumiHome, "plugins", "resource-command-v1.2.1"));
    const onPath = pathVar.split(":").some((d) => d && fs.existsSync(path.join(d, "pulumi-resource-command")));
    return installed || onPath;
}

/**
 * The environment for a throwaway stack under `root`: its own PULUMI_HOME, a file://
 * backend, a passphrase for secrets, and no update checks or plugin downloads.
 */
export function throwawayPulumiEnv(root: string, passphrase: string): Record<string, string> {
    const home = path.join(root, "pulumi-home");
    const state = path.join(root, "state");
    fs.mkdirSync(home, { recursive: true });
    fs.mkdirSync(state, { recursive: true });
    return {
        PULUMI_HOME: home,
        PULUMI_BACKEND_URL: `file://${state}`,
        PULUMI_CONFIG_PASSPHRASE: passphrase,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    };
}
