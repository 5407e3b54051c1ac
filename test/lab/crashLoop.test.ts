// Verify against real systemd crash loops: the provisioning's own unit
// (Restart=on-failure, RestartSec=2) on booted lab hosts, releases that exit 1 at
// 0.5 s to 6 s after each start. Under systemd's restarts such a service can be
// `active` whenever one looks; verify must fail every one of them and the host must
// be rolled back, at the default settle window and at 3 s; a healthy release passes.
import * as assert from "assert";
import { readLabStatus, LabStatus } from "../../lab/labStatus";
import { lab } from "./labCli";
import { CRASH_AFTER } from "../../lab/releases";
import { DEFAULTS } from "../../config/config";
import { mapLimit } from "../../fleet/pool";
import { driveUpdate, labApp, targetFor } from "./driveUpdate";
import { hostTruth } from "./hostTruth";


const SETTLE_WINDOWS = [DEFAULTS.settleSeconds, 3];
const RELEASES = [...CRASH_AFTER.map((t) => `crash-${t}`), "v2"];

describe("verify under systemd's own restarts (Restart=on-failure, RestartSec=2)", function () {
    this.timeout(600000);
    let status: LabStatus;
    const cases = SETTLE_WINDOWS.flatMap((settle) => RELEASES.map((tag) => ({ settle, tag })));
    const results = new Map<string, Awaited<ReturnType<typeof driveUpdate>>>();
    const key = (c: { settle: number; tag: string }) => `${c.tag}@${c.settle}`;

    before(async () => {
        lab("up", "--hosts", String(cases.length));
        status = readLabStatus();
        // One host per case, all at once: each crash rhythm meets verify on its own systemd.
        await mapLimit(cases, cases.length, async (c, i) => {
            const app = labApp(status, { settleSeconds: c.settle, minUptimeSeconds: DEFAULTS.minUptimeSeconds });
            const sha = status.releases[c.tag as keyof LabStatus["releases"]];
            results.set(key(c), await driveUpdate(targetFor(status, status.hosts[i], app), app, sha, 1));
        });
    });
    after(() => lab("down"));

    cases.forEach((c, i) => {
        const crashes = c.tag !== "v2";
        it(`${c.tag}, settle ${c.settle}s (minimum uptime ${DEFAULTS.minUptimeSeconds}s): ${crashes ? "fails verify and is rolled back to v1" : "passes verify"}`, async () => {
            const r = results.get(key(c))!;
            assert.ok(r.outcome, `${status.hosts[i].name} was not updated: its reading says ${r.reading.reason || "nothing"}`);
            const o = r.outcome;
            const v1 = status.releases.v1;
            const t = await hostTruth(status.hosts[i]);
            if (!crashes) {
                assert.strictEqual(o.updateStatus, "success", o.error);
                assert.deepStrictEqual([t.head, t.active], [status.releases.v2, "active"]);
                return;
            }
            assert.strictEqual(o.updateStatus, "rolled_back", JSON.stringify(o));
            // The operator reads what systemd saw: a crash after start or a restart by systemd.
            assert.match(o.error, /^verify failed \(exit 1\): rachel8 (was active but is '(activating|failed)' \d+s later, within the|restarted within the|is crash-looping: systemd restarted it)/, o.error);
            assert.ok(o.error.includes(`rolled back to ${v1}`), o.error);
            assert.deepStrictEqual([t.head, t.active, t.marker], [v1, "active", "no-marker"], `${status.hosts[i].name} after the rollback`);
            assert.ok(t.health.body.includes(v1), t.health.body);
        });
    });
});
