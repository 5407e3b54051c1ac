// npm run status -- [--stack NAME] [--dir PROJECT_DIR] [--repo APP_GIT_DIR]
import { fleetView, formatFleetView } from "./fleetView";
import { OperatorError, parseOptions, readStackOutputs, tagsOf } from "./stackAccess";

const USAGE = `usage: npm run status -- [--stack NAME] [--dir PROJECT_DIR] [--repo APP_GIT_DIR]
  prints one row per VPS (current / previous / target version, status, last update, error)
  and the rollout's stage and verdict, from the stack's outputs
  --stack  the stack (default: the selected one)
  --dir    the Pulumi project directory (default: this checkout)
  --repo   a clone of the app, to show tags beside SHAs`;

try {
    const opts = parseOptions(process.argv.slice(2), USAGE);
    const view = fleetView(readStackOutputs(opts), tagsOf(opts.repo));
    process.stdout.write(formatFleetView(view));
} catch (e) {
    process.stderr.write(`status: ${(e as Error).message}\n`);
    process.exit(e instanceof OperatorError ? 2 : 1);
}
