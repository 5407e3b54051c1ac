// End to end: subscribers' VPSs from order to ready and out again, under the real Pulumi
// engine. Four servers of the lab's fake hcloud (each a booted Debian host running Debian's
// real cloud-init on the program's user-data), three with their own env (two secrets and a
// plain value) and one whose cloud-init cannot reach the app's origin; one static lab host.
// Checked on the VPSs themselves, in the outputs, `npm run status` and the console's API.
import * as assert from "assert";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import * as yaml from "js-yaml";
import { randomBytes } from "crypto";
import { spawnSync } from "child_process";
import { EngineEvent } from "@pulumi/pulumi/automation";
import { LabStatus, readLabStatus } from "../../lab/labStatus";
import { REPO_ROOT } from "../../lab/paths";
import { inHost } from "../../lab/container";
import { IMAGE_WITHOUT_ORIGIN, cloudServers } from "../../lab/fakeCloud/vps";
import { envNamesOf } from "../../lab/hostLifecycle";
import { RunningConsole, startConsole } from "../../operator/console";
import { lab } from "../lab/labCli";
import { TestStack, createTestStack, opsByHost, runLog } from "./stackHarness";

const FAKE_CLOUD = path.join(REPO_ROOT, "lab", "fakeCloud", "bin");
const ENV_FILE = "/home/rachel/.rachel-fleet/env";
const SERVERS = ["hz-a", "hz-b", "hz-c"];
const value = (what: string) => `${what}-${randomBytes(8).toString("hex")}`;

describe("subscribers' VPSs from order to ready and out again (real engine, fake hcloud, real cloud-init)", function () {
    this.timeout(1800000);
    let status: LabStatus;
    let t: TestStack;
    let c: RunningConsole | undefined;
    const tokens = SERVERS.map((n) => ({ TELEGRAM_BOT_TOKEN: value(`${n}-tg`), ANTHROPIC_API_KEY: value(`${n}-ak`), OWNER_ID: String(4000 + SERVERS.indexOf(n)) }));
    const secrets = () => tokens.flatMap((e) => [e.TELEGRAM_BOT_TOKEN, e.ANTHROPIC_API_KEY]);
    const sha = (tag: string) => (status.releases as Record<string, string>)[tag];
    const onVps = (name: string, script: string) => inHost(status.labDir, name, ["/bin/sh", "-c", script]);
    const cli = (args: string[], input?: string) => {
        const r = spawnSync("pulumi", [...args, "--stack", "subscribers"], { cwd: t.dir, env: { ...process.env, ...t.env }, input, encoding: "utf8" });
        runLog.write(`$ pulumi ${args.join(" ")}\n${r.stdout}${r.stderr}`);
        return r;
    };
    const statusTable = (...extra: string[]) => {
        const r = spawnSync(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", path.join(REPO_ROOT, "operator", "statusCli.ts"), "--stack", "subscribers", "--dir", t.dir, "--repo", status.repoUrl, ...extra],
            { cwd: REPO_ROOT, env: { ...process.env, ...t.env }, encoding: "utf8" });
        assert.strictEqual(r.status, 0, r.stderr);
        return r.stdout;
    };
    const consoleGet = (p: string) => new Promise<string>((resolve, reject) => {
        http.get(`${c!.origin}${p}`, { headers: { Authorization: `Bearer ${c!.token}` } }, (res) => {
            let body = "";
            res.on("data", (d) => (body += d));
            res.on("end", () => resolve(body));
        }).on("error", reject);
    });
    const running = () => Object.keys(cloudServers(status.labDir)).sort();
    /** No secret value in the backend's files, PULUMI_HOME, the given texts, or any VPS's command lines and logs. */
    const assertNowhere = async (vals: string[], texts: string[]) => {
        const files = spawnSync("grep", ["-r", "-l", "-F", ...vals.flatMap((v) => ["-e", v]), t.env.PULUMI_BACKEND_URL.replace(/^file:\/\//, ""), t.home], { encoding: "utf8" });
        assert.strictEqual(files.stdout.trim(), "", `a value is in plaintext in ${files.stdout}`);
        texts.forEach((x, i) => vals.forEach((v) => assert.ok(!x.includes(v), `text #${i} shows a secret value`)));
        for (const name of [...running(), ...status.hosts.map((h) => h.name)]) {
            const found = await inHost(status.labDir, name, ["/bin/sh", "-c",
                "p=$(mktemp /run/pattern.XXXXXX) && cat > \"$p\" && grep -a -l -F -f \"$p\" /proc/[0-9]*/cmdline 2>/dev/null; " +
                "grep -r -l -F -f \"$p\" /home/rachel/.rachel-fleet/attempts /home/rachel/releases /var/lib/cloud /tmp /var/log 2>/dev/null; rm -f \"$p\"; true"], vals.join("\n") + "\n");
            assert.strictEqual(found.trim(), "", `${name}: a value is outside its environment file: ${found}`);
        }
    };
    const setEnv = (i: number, name: string, v: string, secret: boolean) => {
        const r = cli(["config", "set", "--path", ...(secret ? ["--secret"] : []), `rachel-fleet:hetzner.servers[${i}].env.${name}`], v);
        assert.strictEqual(r.status, 0, r.stderr);
    };

    before(async () => {
        for (const plugin of ["pulumi-resource-hcloud", "pulumi-resource-random"]) {
            assert.ok(fs.existsSync(path.join(FAKE_CLOUD, plugin)), `the lab's fake ${plugin} is missing in ${FAKE_CLOUD}: these tests cannot provision a VPS without it`);
        }
        lab("up", "--hosts", "1");
        status = readLabStatus();
        t = await createTestStack("subscribers", status, {
            targetCommit: sha("v1"),
            rolloutPercent: 10,
            hetzner: { servers: [...SERVERS.map((name) => ({ name })), { name: "hz-bad", image: IMAGE_WITHOUT_ORIGIN }], appPort: 8080 },
        }, { pathPrefix: FAKE_CLOUD });
        tokens.forEach((e, i) => {
            setEnv(i, "TELEGRAM_BOT_TOKEN", e.TELEGRAM_BOT_TOKEN, true);
            setEnv(i, "ANTHROPIC_API_KEY", e.ANTHROPIC_API_KEY, true);
            setEnv(i, "OWNER_ID", e.OWNER_ID, false);
        });
        c = await startConsole({ stackName: "subscribers", workDir: t.dir, envVars: t.env, port: 0, log: () => undefined });
    });
    afterEach(function () {
        runLog.settle(this.currentTest);
    });
    after(async () => {
        await c?.close();
        // The servers are protected: release everything so the lab can go.
        if (t) cli(["state", "unprotect", "--all", "--yes"]);
        await t?.destroy();
        lab("down");
    });

    it("the first up (at 10%) brings every new VPS to ready with exactly its own env, or to failed in cloud-init with its log; no secret anywhere else", async () => {
        const preview = await t.stack.preview({ onOutput: runLog.write });
        const res = await t.stack.up({ onOutput: runLog.write });
        const fleet = res.outputs.fleet.value;
        for (const [i, n] of SERVERS.entries()) {
            assert.strictEqual(fleet[n].provisioning.phase, "ready", `${n}: ${JSON.stringify(fleet[n])}`);
            assert.match(fleet[n].provisioning.provisionedAt, /^\d{4}-\d\d-\d\dT/);
            assert.deepStrictEqual([fleet[n].updateStatus, fleet[n].currentVersion], ["success", sha("v1")]);
            const e = tokens[i];
            assert.strictEqual(await onVps(n, `cat ${ENV_FILE}; stat -c '%a %U' ${ENV_FILE}`),
                `ANTHROPIC_API_KEY="${e.ANTHROPIC_API_KEY}"\nOWNER_ID="${e.OWNER_ID}"\nTELEGRAM_BOT_TOKEN="${e.TELEGRAM_BOT_TOKEN}"\n600 rachel\n`, `${n}'s environment file`);
            const names = await envNamesOf(cloudServers(status.labDir)[n].address);
            assert.ok(["TELEGRAM_BOT_TOKEN", "ANTHROPIC_API_KEY", "OWNER_ID"].every((x) => names.includes(x)), `${n}'s service sees ${names}`);
        }
        const bad = fleet["hz-bad"];
        assert.deepStrictEqual(bad.provisioning, { phase: "failed", failedIn: "cloud-init" }, JSON.stringify(bad));
        // The cause in a sentence: cloud-init's own verdict and the end of the first release's log.
        assert.match(bad.error, /cloud-init failed on this VPS: .*scripts-user.* \(its first release: provision fetch failed: .*commit [0-9a-f]{40} is not in origin/);
        const rollout = res.outputs.rollout.value;
        assert.deepStrictEqual([rollout.failed, rollout.halted], [0, false], `a VPS that never got the release is no failure of it: ${JSON.stringify(rollout)}`);
        assert.match(res.stdout, /hz-a: provisioned and ready: release [0-9a-f]{12}, its environment in place, verified/);
        assert.match(res.stdout + res.stderr, /hz-bad: provisioning failed in cloud-init: /);

        const table = statusTable();
        assert.match(table, /^host\s+phase\s+current/m);
        assert.match(table, /^hz-a\s+ready since \d{4}-\d\d-\d\d \d\d:\d\d\s/m);
        assert.match(table, /^hz-bad\s+failed in cloud-init\s/m);
        assert.match(table, new RegExp(`^${status.hosts[0].name}\\s+static\\s`, "m"));
        const api = JSON.parse(await consoleGet("/api/fleet"));
        const phase = (h: string) => api.rows.find((r: { host: string }) => r.host === h)?.phase;
        assert.deepStrictEqual([phase("hz-a"), phase("hz-bad"), phase(status.hosts[0].name)].map((p) => String(p).replace(/ since .*/, "")), ["ready", "failed in cloud-init", ""]);
        await assertNowhere(secrets(), [preview.stdout + preview.stderr, res.stdout + res.stderr, table, JSON.stringify(api), await consoleGet("/"), cli(["stack", "output", "--json"]).stdout]);
    });

    it("rotating one subscriber's token: preview shows that VPS alone; up restarts it alone; a value its app refuses is rolled back and reported", async () => {
        const pids = async () => Promise.all(SERVERS.map((n) => onVps(n, "systemctl show -p MainPID --value rachel8").then((x) => x.trim())));
        const before = await pids();
        const rotated = value("hz-b-rotated");
        setEnv(1, "TELEGRAM_BOT_TOKEN", rotated, true);
        const events: EngineEvent[] = [];
        await t.stack.preview({ onEvent: (e) => events.push(e), onOutput: runLog.write });
        const ops = opsByHost(events, [...SERVERS, "hz-bad", status.hosts[0].name]);
        assert.deepStrictEqual(Object.keys(ops).filter((n) => ops[n].length > 0).sort(), ["hz-b", "hz-bad"], `preview: ${JSON.stringify(ops)} (hz-bad: its provisioning is tried again)`);
        const res = await t.stack.up({ onOutput: runLog.write });
        assert.deepStrictEqual((await pids()).map((p, i) => p === before[i]), [true, false, true], "only hz-b restarts");
        assert.match(await onVps("hz-b", `cat ${ENV_FILE}`), new RegExp(`TELEGRAM_BOT_TOKEN="${rotated}"`));
        assert.strictEqual(res.outputs.fleet.value["hz-b"].updateStatus, "success");

        const good = await onVps("hz-b", `cat ${ENV_FILE}`);
        setEnv(1, "TELEGRAM_BOT_TOKEN", "invalid", true);
        const refused = await t.stack.up({ onOutput: runLog.write });
        assert.strictEqual(refused.outputs.fleet.value["hz-b"].updateStatus, "rolled_back");
        assert.match(refused.stdout + refused.stderr, /hz-b: its new environment was not taken \(rolled_back\): .*verify/);
        assert.strictEqual(await onVps("hz-b", `cat ${ENV_FILE}`), good);
        assert.strictEqual((await onVps("hz-b", "systemctl is-active rachel8")).trim(), "active");
        await assertNowhere([rotated, ...secrets()], [res.stdout, refused.stdout]);
    });

    it("dropping two servers is refused naming both; releasing one deletes exactly it; pulumi destroy deletes no server", async () => {
        // hz-b and hz-c out of the list; hz-a keeps its env (its secure leaves, as the file holds them).
        const doc = yaml.load(fs.readFileSync(path.join(t.dir, "Pulumi.subscribers.yaml"), "utf8")) as { config: Record<string, { servers: { name: string }[] }> };
        const servers = doc.config["rachel-fleet:hetzner"].servers.filter((s) => s.name === "hz-a" || s.name === "hz-bad");
        t.configure({ hetzner: { servers, appPort: 8080 } });
        const preview = cli(["preview"]);
        assert.notStrictEqual(preview.status, 0, "the preview must refuse");
        assert.match(preview.stdout + preview.stderr, /refusing to delete hz-b, hz-c: they are no longer in hetzner.servers/);
        const command = (preview.stdout + preview.stderr).match(/hz-b: (pulumi state unprotect [^;\n]*?)(?= ; hz-c:)/)?.[1];
        assert.ok(command, `the refusal names no command for hz-b: ${preview.stdout}`);
        assert.deepStrictEqual(running(), ["hz-a", "hz-b", "hz-bad", "hz-c"], "the preview deleted a server");
        // npm run status gives the same command, for exactly that VPS.
        assert.match(statusTable(), /npm run status -- --release <vps> prints the one command that releases it/);
        const urns = (x: string) => (x.match(/'urn:[^']+'/g) ?? []).sort();
        assert.deepStrictEqual(urns(statusTable("--release", "hz-b")), urns(command!));
        assert.strictEqual(urns(command!).length, 6, command);

        const release = spawnSync("sh", ["-c", command!.replace(/\s+$/, "")], { cwd: t.dir, env: { ...process.env, ...t.env }, encoding: "utf8" });
        assert.strictEqual(release.status, 0, release.stdout + release.stderr);
        const up = cli(["up", "--yes", "--skip-preview"]);
        assert.notStrictEqual(up.status, 0, "hz-c is still protected: the up must fail");
        assert.match(up.stdout + up.stderr, /refusing to delete hz-c: it is no longer in hetzner.servers/);
        assert.deepStrictEqual(running(), ["hz-a", "hz-bad", "hz-c"], "exactly hz-b is gone");
        const out = JSON.parse(cli(["stack", "output", "fleet", "--json"]).stdout);
        assert.strictEqual(out["hz-b"].provisioning.phase, "deprovisioned");
        assert.match(out["hz-b"].provisioning.deprovisionedAt, /^\d{4}-\d\d-\d\dT/);
        assert.strictEqual(out["hz-c"].provisioning.phase, "ready");

        const destroy = cli(["destroy", "--yes", "--skip-preview"]);
        assert.notStrictEqual(destroy.status, 0, "destroy must be refused");
        assert.match(destroy.stdout + destroy.stderr, /protected/);
        assert.deepStrictEqual(running(), ["hz-a", "hz-bad", "hz-c"], "pulumi destroy deleted a server");
    });
});
