// npm run console -- [--stack NAME] [--port P] [--host ADDR] [--tls-cert PEM --tls-key PEM] [--dir PROJECT_DIR] [--repo APP_GIT_DIR]
import { TOKEN_ENV, startConsole } from "./console";
import { OperatorError, PROJECT_DIR, parseOptions, pulumiCli, tagsOf } from "./stackAccess";

const USAGE = `usage: npm run console -- [--stack NAME] [--port P] [--host ADDR] [--tls-cert PEM --tls-key PEM] [--dir PROJECT_DIR] [--repo APP_GIT_DIR]
  serves the fleet console for a stack of this project (default: the selected stack) on
  http://127.0.0.1:8090; every request needs the token printed at start (or set ${TOKEN_ENV},
  at least 32 characters). On an address other than loopback, give --tls-cert/--tls-key.
  pulumi must be on PATH, logged in to the stack's backend, with PULUMI_CONFIG_PASSPHRASE set.`;

async function main() {
    const opts = parseOptions(process.argv.slice(2), USAGE, ["port", "host", "tls-cert", "tls-key"]);
    const dir = opts.dir ?? PROJECT_DIR;
    const stackName = opts.stack ?? pulumiCli(["stack", "--show-name"], { dir }).trim();
    const port = opts.port === undefined ? 8090 : Number(opts.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new OperatorError(`--port must be a port number; got "${opts.port}"`);
    }
    const c = await startConsole({ stackName, workDir: dir, host: opts.host, port, tags: tagsOf(opts.repo), tlsCert: opts["tls-cert"], tlsKey: opts["tls-key"] });
    process.stdout.write(`rachel-fleet console for stack ${stackName}: open ${c.url}\n(the token is printed this once; Ctrl-C stops the console)\n`);
}

main().catch((e) => {
    process.stderr.write(`console: ${(e as Error).message}\n`);
    process.exit(e instanceof OperatorError ? 2 : 1);
});
