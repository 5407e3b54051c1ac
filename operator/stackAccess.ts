import * as path from "path";
import { execFile, spawnSync } from "child_process";
import type { Stack } from "@pulumi/pulumi/automation";

/**
 * How the operator tools (status CLI, console) reach a stack: the `pulumi` CLI on PATH,
 * run in the project directory, with the operator's backend login and passphrase from
 * the environment. Every failure is a sentence that says what to do.
 */

export const PROJECT_DIR = path.resolve(__dirname, "..");

export class OperatorError extends Error {}

/** Options shared by the operator commands: --stack NAME, --dir DIR, --repo DIR. */
export function parseOptions(argv: string[], usage: string, extra: string[] = []): Record<string, string> {
    const out: Record<string, string> = {};
    for (let i = 0; i < argv.length; i++) {
        const name = argv[i].replace(/^--/, "");
        if (!argv[i].startsWith("--") || !["stack", "dir", "repo", ...extra].includes(name)) {
            throw new OperatorError(`unknown argument '${argv[i]}'\n${usage}`);
        }
        const value = argv[++i];
        if (value === undefined || value.startsWith("--")) {
            throw new OperatorError(`--${name} needs a value\n${usage}`);
        }
        out[name] = value;
    }
    return out;
}

/** Runs the pulumi CLI for a stack; throws an OperatorError with pulumi's own message when it fails. */
export interface StackRef {
    stack?: string;
    dir?: string;
    /** The environment pulumi runs with (default: this process's). */
    env?: NodeJS.ProcessEnv;
}

export function pulumiCli(args: string[], opts: StackRef): string {
    const r = spawnSync("pulumi", [...args, ...(opts.stack ? ["--stack", opts.stack] : []), "--non-interactive"], {
        cwd: opts.dir ?? PROJECT_DIR,
        encoding: "utf8",
        env: { ...(opts.env ?? process.env), PULUMI_SKIP_UPDATE_CHECK: "true" },
    });
    if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT") {
        throw new OperatorError(`pulumi is not on PATH. Put the project's engine there: export PATH="$(bash scripts/engine.sh --print-path --without-command):$PATH"`);
    }
    if (r.status !== 0) {
        throw new OperatorError(`pulumi ${args.join(" ")} failed: ${(r.stderr || r.stdout).trim()}`);
    }
    return r.stdout;
}

/** pulumiCli without blocking this process (the console serves while pulumi runs). */
export function pulumiCliAsync(args: string[], opts: StackRef): Promise<string> {
    return new Promise((resolve, reject) => {
        execFile("pulumi", [...args, ...(opts.stack ? ["--stack", opts.stack] : []), "--non-interactive"], {
            cwd: opts.dir ?? PROJECT_DIR, encoding: "utf8", maxBuffer: 1 << 30,
            env: { ...(opts.env ?? process.env), PULUMI_SKIP_UPDATE_CHECK: "true" },
        }, (err, stdout, stderr) => {
            if (err && (err as NodeJS.ErrnoException).code === "ENOENT") return reject(new OperatorError("pulumi is not on PATH"));
            if (err) return reject(new OperatorError(`pulumi ${args.join(" ")} failed: ${(stderr || stdout || err.message).trim()}`));
            resolve(stdout);
        });
    });
}

/** The stack's `fleet` and `rollout` outputs (empty on a stack that never ran); a secret output reads "[secret]". */
export function readStackOutputs(opts: StackRef): { fleet?: unknown; rollout?: unknown } {
    return JSON.parse(pulumiCli(["stack", "output", "--json"], opts) || "{}");
}

/** readStackOutputs without blocking this process. */
export async function stackOutputs(opts: StackRef): Promise<Record<string, unknown> & { fleet?: unknown; rollout?: unknown }> {
    return JSON.parse((await pulumiCliAsync(["stack", "output", "--json"], opts)) || "{}");
}

/** sha → tag of a git repository (the app's), so versions read as v42 rather than a SHA alone. */
export function tagsOf(repo: string | undefined): Record<string, string> {
    if (!repo) {
        return {};
    }
    const r = spawnSync("git", ["-C", repo, "show-ref", "--tags", "--dereference"], { encoding: "utf8" });
    if (r.status !== 0 && r.stdout.trim() === "") {
        throw new OperatorError(`--repo ${repo}: cannot read its tags: ${r.stderr.trim() || "no tags"}`);
    }
    const tags: Record<string, string> = {};
    for (const line of r.stdout.trim().split("\n")) {
        const [sha, ref] = line.split(" ");
        // An annotated tag's commit is the dereferenced line (^{}), which wins.
        if (sha && ref) {
            const name = ref.replace(/^refs\/tags\//, "").replace(/\^\{\}$/, "");
            if (ref.endsWith("^{}") || !tags[sha]) {
                tags[sha] = name;
            }
        }
    }
    return tags;
}

/** Every key the stack's config sets, secret ones included (named, not decrypted). */
export async function configKeys(ref: StackRef): Promise<string[]> {
    return Object.keys(JSON.parse((await pulumiCliAsync(["config", "--json"], ref)) || "{}"));
}

/** The stack's plain config values (secret ones are listed without a value and left out: nothing is decrypted). */
export async function plainConfig(ref: StackRef): Promise<Record<string, string>> {
    const all = JSON.parse((await pulumiCliAsync(["config", "--json"], ref)) || "{}") as Record<string, { value?: string; secret?: boolean }>;
    return Object.fromEntries(Object.entries(all).filter(([, v]) => !v.secret && typeof v.value === "string").map(([k, v]) => [k, v.value!]));
}

/**
 * The Automation API's `up` ends by reading the stack's outputs with --show-secrets (and its
 * last history entry, decrypted unless told `showSecrets: false`). The operator tools never
 * need a secret output, so their stacks read outputs masked: a secret one is "[secret]".
 * Every up/preview/refresh they run also passes `showSecrets: false`.
 */
export function withMaskedOutputs(stack: Stack, ref: StackRef): Stack {
    stack.outputs = async () => {
        const masked = await stackOutputs(ref);
        return Object.fromEntries(Object.entries(masked).map(([k, value]) => [k, { value, secret: value === "[secret]" }]));
    };
    return stack;
}
