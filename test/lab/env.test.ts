// A subscriber's env on real lab hosts (issue 18): delivered on stdin into the environment
// file the unit reads, installed in the switch, put back by a rollback, never on a command
// line, never left in an attempt's directory. Checked on the host itself.
import * as assert from "assert";
import { randomBytes } from "crypto";
import { readLabStatus, LabStatus } from "../../lab/labStatus";
import { inHost } from "../../lab/container";
import { runOnHost } from "../../lab/sshExec";
import { envNamesOf as envNames } from "../../lab/hostLifecycle";
import { envFileText } from "../../config/env";
import { lab } from "./labCli";
import { driveUpdate, labApp, targetFor } from "./driveUpdate";
import { hostTruth } from "./hostTruth";

const ENV_FILE = "/home/rachel/.rachel-fleet/env";

describe("a subscriber's env on real lab hosts", function () {
    this.timeout(600000);
    let status: LabStatus;
    const secret = `lab-secret-${randomBytes(6).toString("hex")}`;
    const rotated = `lab-rotated-${randomBytes(6).toString("hex")}`;
    const sha = (tag: string) => status.releases[tag as keyof typeof status.releases] as string;
    const on = async (i: number, cmd: string) => {
        const r = await runOnHost(status.hosts[i], cmd);
        assert.strictEqual(r.code, 0, `${status.hosts[i].name}: ${cmd}: ${r.stdout}${r.stderr}`);
        return r.stdout.trim();
    };
    /**
     * Nothing on the host but the environment file (and the service's own environment)
     * holds the value: no process's command line, no attempt's directory, no log. The value
     * reaches the check on stdin, into a pattern file, so the check itself never shows it.
     */
    const nowhereElse = async (i: number, value: string) => {
        const found = await inHost(status.labDir, status.hosts[i].name, ["/bin/sh", "-c",
            "p=$(mktemp /run/pattern.XXXXXX) && cat > \"$p\" && " +
            "{ grep -a -l -F -f \"$p\" /proc/[0-9]*/cmdline 2>/dev/null | sed 's/^/command line: /'; " +
            "grep -r -l -F -f \"$p\" /home/rachel/.rachel-fleet/attempts /home/rachel/.rachel-fleet/bin /home/rachel/releases /tmp /var/log 2>/dev/null; " +
            "journalctl --no-pager -q 2>/dev/null | grep -c -F -f \"$p\" | sed -n '/^[1-9]/s/^/journal lines: /p'; rm -f \"$p\"; true; }"], value);
        assert.strictEqual(found.trim(), "", `${status.hosts[i].name}: the value is found outside the environment file: ${found}`);
    };

    before(() => {
        lab("up", "--hosts", "2");
        status = readLabStatus();
    });
    after(() => {
        lab("down");
    });

    it("delivers the env into the file the unit reads (0600, the service user's), which the service sees by name", async () => {
        const app = labApp(status);
        const envText = envFileText({ TELEGRAM_BOT_TOKEN: secret, OWNER_ID: "4242" });
        const r = await driveUpdate(targetFor(status, status.hosts[0], app), app, sha("v2"), 1, { envText });
        assert.strictEqual(r.outcome?.updateStatus, "success", JSON.stringify(r.outcome));
        assert.match(r.stepOutput ?? "", /installed \/home\/rachel\/.rachel-fleet\/env: OWNER_ID TELEGRAM_BOT_TOKEN/);
        assert.ok(!(r.stepOutput ?? "").includes(secret), "the step's output shows the value");
        assert.strictEqual(await on(0, `cat ${ENV_FILE}`), envText.trim());
        assert.strictEqual(await on(0, `stat -c '%a %U' ${ENV_FILE}`), "600 rachel");
        const names = await envNames(status.hosts[0].host);
        assert.ok(names.includes("TELEGRAM_BOT_TOKEN") && names.includes("OWNER_ID"), `the service sees ${names}`);
        await nowhereElse(0, secret);
    });

    it("an env-only change at the same release: the file changes, the service restarts and is verified", async () => {
        const app = labApp(status);
        const before = await hostTruth(status.hosts[0]);
        const envText = envFileText({ TELEGRAM_BOT_TOKEN: rotated, OWNER_ID: "4242" });
        const r = await driveUpdate(targetFor(status, status.hosts[0], app), app, sha("v2"), 2, { envText });
        assert.strictEqual(r.outcome?.updateStatus, "success", JSON.stringify(r.outcome));
        const after = await hostTruth(status.hosts[0]);
        assert.strictEqual(after.head, sha("v2"));
        assert.notStrictEqual(after.pid, before.pid, "the service was not restarted to read its new env");
        assert.strictEqual(await on(0, `cat ${ENV_FILE}`), envText.trim());
        await nowhereElse(0, rotated);
        await nowhereElse(0, secret);
    });

    it("the same env again changes nothing: no restart", async () => {
        const app = labApp(status);
        const before = await hostTruth(status.hosts[0]);
        const r = await driveUpdate(targetFor(status, status.hosts[0], app), app, sha("v2"), 3, { envText: envFileText({ TELEGRAM_BOT_TOKEN: rotated, OWNER_ID: "4242" }) });
        assert.strictEqual(r.outcome?.updateStatus, "success", JSON.stringify(r.outcome));
        assert.match(r.stepOutput ?? "", /nothing to do/);
        assert.strictEqual((await hostTruth(status.hosts[0])).pid, before.pid);
    });

    it("a value the app refuses fails verify and is rolled back to the previous file, the service active on it", async () => {
        const app = labApp(status);
        const good = await on(0, `cat ${ENV_FILE}`);
        const r = await driveUpdate(targetFor(status, status.hosts[0], app), app, sha("v2"), 4, { envText: envFileText({ TELEGRAM_BOT_TOKEN: "invalid", OWNER_ID: "4242" }) });
        assert.strictEqual(r.outcome?.updateStatus, "rolled_back", JSON.stringify(r.outcome));
        assert.match(r.outcome!.error, /verify/);
        assert.strictEqual(await on(0, `cat ${ENV_FILE}`), good, "the previous environment file is not back");
        const t = await hostTruth(status.hosts[0]);
        assert.deepStrictEqual([t.active, t.head, t.health.status], ["active", sha("v2"), 200]);
        await nowhereElse(0, rotated);
    });

    it("a release update keeps delivering the env; removing every variable empties the file", async () => {
        const app = labApp(status);
        const r = await driveUpdate(targetFor(status, status.hosts[0], app), app, sha("v3"), 5, { envText: "" });
        assert.strictEqual(r.outcome?.updateStatus, "success", JSON.stringify(r.outcome));
        assert.strictEqual(await on(0, `wc -c < ${ENV_FILE}`), "0");
        assert.ok(!(await envNames(status.hosts[0].host)).includes("TELEGRAM_BOT_TOKEN"));
    });

    it("a unit that does not read the file: the prepare fails with the fix, the service untouched", async () => {
        const app = labApp(status);
        const name = status.hosts[1].name;
        await inHost(status.labDir, name, ["/bin/sh", "-c", "sed -i '/^EnvironmentFile=/d' /etc/systemd/system/rachel8.service && systemctl daemon-reload"]);
        const before = await hostTruth(status.hosts[1]);
        const r = await driveUpdate(targetFor(status, status.hosts[1], app), app, sha("v2"), 1, { envText: envFileText({ TOKEN: secret }) });
        assert.strictEqual(r.outcome?.updateStatus, "failed", JSON.stringify(r.outcome));
        assert.match(r.outcome!.error, /prepare failed before any switch: .*rachel8 does not read \/home\/rachel\/.rachel-fleet\/env.*add EnvironmentFile=-\/home\/rachel\/.rachel-fleet\/env/);
        assert.ok(!r.outcome!.error.includes(secret));
        const after = await hostTruth(status.hosts[1]);
        assert.deepStrictEqual([after.pid, after.head], [before.pid, before.head], "the service was touched");
        await nowhereElse(1, secret);
    });
});
