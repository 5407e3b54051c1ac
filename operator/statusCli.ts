// npm run status -- [--stack NAME] [--dir PROJECT_DIR] [--repo APP_GIT_DIR] [--release VPS]
import { StateResource, releaseCommand, resourcesOf } from "../fleet/deprovision";
import { waysForward } from "../stages/plan";
import { FleetView, fleetView, formatFleetView } from "./fleetView";
import { fleetOutputs, shardCount } from "./shardSet";
import { OperatorError, PROJECT_DIR, StackRef, parseOptions, pulumiCli, readStackOutputs, tagsOf } from "./stackAccess";

const USAGE = `usage: npm run status -- [--stack NAME] [--dir PROJECT_DIR] [--repo APP_GIT_DIR] [--release VPS]
  prints one row per VPS (phase of a provisioned one, current / previous / target version,
  status, last update, error) and the rollout's stage and verdict, from the stack's outputs
  --stack    the stack (default: the selected one)
  --dir      the Pulumi project directory (default: this checkout)
  --repo     a clone of the app, to show tags beside SHAs
  --release  prints the one command that releases this provisioned VPS for deletion`;

/** The command that releases exactly one provisioned VPS (its protected resources, from the state). */
function releaseOf(name: string, opts: StackRef): string {
    const state = (JSON.parse(pulumiCli(["stack", "export"], opts)).deployment?.resources ?? []) as StateResource[];
    if (!resourcesOf(name, state).some((r) => r.protect)) {
        throw new OperatorError(`${name} is not a protected VPS of this stack (nothing to release)`);
    }
    return releaseCommand(name, state, opts.stack ?? pulumiCli(["stack", "--show-name"], opts).trim());
}

/** One stack's view; for a sharded fleet, every shard's in one table with one rollout line. */
async function viewOf(opts: StackRef & { repo?: string }): Promise<FleetView> {
    const tags = tagsOf(opts.repo);
    const f = { stack: opts.stack ?? pulumiCli(["stack", "--show-name"], opts).trim(), dir: opts.dir ?? PROJECT_DIR, env: process.env };
    if ((await shardCount(f)) === 1) return fleetView(readStackOutputs(opts), tags);
    const { fleet, rollout, halt } = await fleetOutputs(f);
    const view = fleetView({ fleet, rollout }, tags);
    if (view.rollout && halt) Object.assign(view.rollout, { verdict: halt.reason, refusal: `${halt.reason} ${waysForward(halt.percent)}` });
    return view;
}

(async () => {
    const opts = parseOptions(process.argv.slice(2), USAGE, ["release"]);
    if (opts.release) {
        process.stdout.write(`${releaseOf(opts.release, opts)}\n`);
    } else {
        process.stdout.write(formatFleetView(await viewOf(opts)));
    }
})().catch((e) => {
    process.stderr.write(`status: ${(e as Error).message}\n`);
    process.exit(e instanceof OperatorError ? 2 : 1);
});
