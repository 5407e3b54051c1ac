// npm run status -- [--stack NAME] [--dir PROJECT_DIR] [--repo APP_GIT_DIR] [--release VPS]
import { StateResource, releaseCommand, resourcesOf } from "../fleet/deprovision";
import { fleetView, formatFleetView } from "./fleetView";
import { OperatorError, StackRef, parseOptions, pulumiCli, readStackOutputs, tagsOf } from "./stackAccess";

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

try {
    const opts = parseOptions(process.argv.slice(2), USAGE, ["release"]);
    if (opts.release) {
        process.stdout.write(`${releaseOf(opts.release, opts)}\n`);
    } else {
        process.stdout.write(formatFleetView(fleetView(readStackOutputs(opts), tagsOf(opts.repo))));
    }
} catch (e) {
    process.stderr.write(`status: ${(e as Error).message}\n`);
    process.exit(e instanceof OperatorError ? 2 : 1);
}
