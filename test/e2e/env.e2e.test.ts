// End to end: each subscriber's own env under the real Pulumi engine on a 3-host lab. Set
// with `pulumi config set --secret --path 'hosts[i].env.NAME'` (one plain value beside two
// secrets), delivered into each VPS's environment file, found nowhere else (state files,
// pulumi's output, npm run status, processes' command lines); a rotation of one token
// changes that host alone, and a value the app refuses is rolled back.
import * as assert from "assert";
import * as path from "path";
import { randomBytes } from "crypto";
import { spawnSync } from "child_process";
import { EngineEvent } from "@pulumi/pulumi/automation";
import { LabStatus } from "../../lab/labStatus";
import { REPO_ROOT } from "../../lab/paths";
import { inHost } from "../../lab/container";
import { runOnHost } from "../../lab/sshExec";
import { envNamesOf } from "../../lab/hostLifecycle";
import { hostTruth } from "../lab/hostTruth";
import { TestStack, labStackSuite, opsByHost, runLog } from "./stackHarness";

const ENV_FILE = "/home/rachel/.rachel-fleet/env";
const value = (what: string) => `${what}-${randomBytes(8).toString("hex")}`;

describe("a subscriber's env under the real Pulumi engine (3-host lab)", function () {
    this.timeout(1800000);
    let status: LabStatus;
    let t: TestStack;
    const names = () => status.hosts.map((h) => h.name);
    // Per host: two secrets and one plain value, each its own.
    const tokens = [0, 1, 2].map((i) => ({ TELEGRAM_BOT_TOKEN: value(`tg${i}`), ANTHROPIC_API_KEY: value(`ak${i}`), OWNER_ID: String(1000 + i) }));
    const secrets = () => tokens.flatMap((e) => [e.TELEGRAM_BOT_TOKEN, e.ANTHROPIC_API_KEY]);
    const rotated = value("tg1-rotated");
    const cli = (args: string[], input?: string) => {
        const r = spawnSync("pulumi", [...args, "--stack", "env"], { cwd: t.dir, env: { ...process.env, ...t.env }, input, encoding: "utf8" });
        runLog.write(r.stdout + r.stderr);
        return r;
    };
    const setEnv = (i: number, name: string, v: string, secret: boolean) => {
        // The value on stdin: never on this machine's command lines either.
        const r = cli(["config", "set", "--path", ...(secret ? ["--secret"] : []), `rachel-fleet:hosts[${i}].env.${name}`], v);
        assert.strictEqual(r.status, 0, r.stderr);
    };
    /** Every place a value must not be: the backend's files, the given outputs, and each host's processes. */
    const assertNowhere = async (vals: string[], outputs: string[]) => {
        const backend = t.env.PULUMI_BACKEND_URL.replace(/^file:\/\//, "");
        const files = spawnSync("grep", ["-r", "-l", "-F", ...vals.flatMap((v) => ["-e", v]), backend, t.home], { encoding: "utf8" });
        assert.strictEqual(files.stdout.trim(), "", `a value is in plaintext in ${files.stdout}`);
        for (const [k, o] of outputs.entries()) {
            for (const v of vals) assert.ok(!o.includes(v), `output #${k} shows a value`);
        }
        for (const h of status.hosts) {
            const found = await inHost(status.labDir, h.name, ["/bin/sh", "-c",
                "p=$(mktemp /run/pattern.XXXXXX) && cat > \"$p\" && grep -a -l -F -f \"$p\" /proc/[0-9]*/cmdline 2>/dev/null; " +
                "grep -r -l -F -f \"$p\" /home/rachel/.rachel-fleet/attempts /home/rachel/releases /tmp /var/log 2>/dev/null; rm -f \"$p\"; true"], vals.join("\n") + "\n");
            assert.strictEqual(found.trim(), "", `${h.name}: a value is outside its environment file: ${found}`);
        }
    };
    const envFile = (i: number) => runOnHost(status.hosts[i], `cat ${ENV_FILE}; stat -c '%a %U' ${ENV_FILE}`).then((r) => r.stdout.trim());
    const statusTable = () => {
        const r = spawnSync(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", path.join(REPO_ROOT, "operator", "statusCli.ts"), "--stack", "env", "--dir", t.dir, "--repo", status.repoUrl],
            { cwd: REPO_ROOT, env: { ...process.env, ...t.env }, encoding: "utf8" });
        assert.strictEqual(r.status, 0, r.stderr);
        return r.stdout + r.stderr;
    };

    labStackSuite("env", 3, (st) => ({ targetCommit: st.releases.v2, rolloutPercent: 100 }), (st, ts) => ((status = st), (t = ts)));

    it("each VPS's environment file holds exactly its own values (0600, the service user's); no value anywhere else", async () => {
        tokens.forEach((e, i) => {
            setEnv(i, "TELEGRAM_BOT_TOKEN", e.TELEGRAM_BOT_TOKEN, true);
            setEnv(i, "ANTHROPIC_API_KEY", e.ANTHROPIC_API_KEY, true);
            setEnv(i, "OWNER_ID", e.OWNER_ID, false);
        });
        const preview = await t.stack.preview({ onOutput: runLog.write });
        const res = await t.stack.up({ onOutput: runLog.write });
        assert.strictEqual(res.outputs.rollout.value.succeeded, 3, JSON.stringify(res.outputs.rollout.value));
        assert.strictEqual(res.outputs.envDigests.secret, true, "envDigests must be a secret output");
        for (const [i, e] of tokens.entries()) {
            assert.strictEqual(await envFile(i),
                `ANTHROPIC_API_KEY="${e.ANTHROPIC_API_KEY}"\nOWNER_ID="${e.OWNER_ID}"\nTELEGRAM_BOT_TOKEN="${e.TELEGRAM_BOT_TOKEN}"\n600 rachel`, `${status.hosts[i].name}'s environment file`);
            const seen = await envNamesOf(status.hosts[i].host);
            for (const n of Object.keys(e)) assert.ok(seen.includes(n), `${status.hosts[i].name}'s service does not see ${n}: ${seen}`);
        }
        await assertNowhere(secrets(), [preview.stdout + preview.stderr, res.stdout + res.stderr, statusTable(), cli(["stack", "output", "--json"]).stdout]);
    });

    it("rotating one host's token: preview shows that host alone; up changes its file and restarts it alone", async () => {
        const before = await Promise.all(status.hosts.map(hostTruth));
        setEnv(1, "TELEGRAM_BOT_TOKEN", rotated, true);
        const events: EngineEvent[] = [];
        const preview = await t.stack.preview({ onEvent: (e) => events.push(e), onOutput: runLog.write });
        const ops = opsByHost(events, names());
        assert.deepStrictEqual(names().filter((n) => ops[n].length > 0), [status.hosts[1].name], `preview: ${JSON.stringify(ops)}`);
        const res = await t.stack.up({ onOutput: runLog.write });
        const after = await Promise.all(status.hosts.map(hostTruth));
        assert.deepStrictEqual(after.map((a, i) => a.pid === before[i].pid), [true, false, true], "only the rotated host restarts");
        assert.ok((await envFile(1)).includes(`TELEGRAM_BOT_TOKEN="${rotated}"`));
        assert.strictEqual(res.outputs.fleet.value[status.hosts[1].name].updateStatus, "success");
        assert.match(res.stdout, new RegExp(`${status.hosts[1].name}: its new environment is in place \\(restarted and verified on [0-9a-f]{12}\\)`));
        await assertNowhere([rotated, ...secrets()], [preview.stdout, res.stdout + res.stderr]);
    });

    it("a token the app refuses: verify fails, the previous file is put back, the host is reported", async () => {
        const good = await envFile(1);
        setEnv(1, "TELEGRAM_BOT_TOKEN", "invalid", true);
        const res = await t.stack.up({ onOutput: runLog.write });
        const rec = res.outputs.fleet.value[status.hosts[1].name];
        assert.strictEqual(rec.updateStatus, "rolled_back", JSON.stringify(rec));
        assert.match(res.stdout + res.stderr, new RegExp(`${status.hosts[1].name}: its new environment was not taken \\(rolled_back\\): .*verify`));
        assert.strictEqual(await envFile(1), good, "the previous environment file is not back");
        const truth = await hostTruth(status.hosts[1]);
        assert.deepStrictEqual([truth.active, truth.health.status], ["active", 200]);
        // The next up tries again (the digest kept is the old one); a fixed value then goes in.
        setEnv(1, "TELEGRAM_BOT_TOKEN", rotated, true);
        const fixed = await t.stack.up({ onOutput: runLog.write });
        assert.strictEqual(fixed.outputs.fleet.value[status.hosts[1].name].updateStatus, "success");
    });
});
