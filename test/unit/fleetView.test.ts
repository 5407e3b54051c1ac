import * as assert from "assert";
import { fleetView, formatFleetView, markerLabel, versionLabel } from "../../operator/fleetView";

const A = "a".repeat(40);
const B = "b".repeat(40);
const rec = (over: Record<string, unknown>) => ({
    currentVersion: A, previousVersion: B, targetVersion: A, updateStatus: "success", lastUpdateAt: "2026-11-23T12:00:00.000Z", error: "", attempt: 1, managed: true, ...over,
});
const rollout = { release: A, percent: 10, cohortSize: 2, attempted: 2, succeeded: 1, rolledBack: 1, failed: 1, failedHosts: ["vps-2"], failureRate: 0.5, threshold: 0.3, halted: true };

describe("the operator's fleet view (status table)", () => {
    it("shows one row per VPS with tags beside short SHAs, and the halted rollout with its ways forward", () => {
        const view = fleetView({
            fleet: { "vps-2": rec({ currentVersion: B, updateStatus: "rolled_back", error: "verify failed (exit 1): rachel8 is failed after restart; rolled back to " + B }), "vps-1": rec({}), "vps-3": rec({ managed: false, currentVersion: "", targetVersion: "", previousVersion: "", updateStatus: "idle", lastUpdateAt: "" }) },
            rollout,
        }, { [A]: "v3", [B]: "v2" });
        assert.deepStrictEqual(view.rows.map((r) => [r.host, r.current, r.target, r.status]), [
            ["vps-1", `v3 ${A.slice(0, 12)}`, `v3 ${A.slice(0, 12)}`, "success"],
            ["vps-2", `v2 ${B.slice(0, 12)}`, `v3 ${A.slice(0, 12)}`, "rolled_back"],
            ["vps-3", "", "", "not managed yet"],
        ]);
        const text = formatFleetView(view, 40);
        const lines = text.split("\n");
        assert.match(lines[0], /^host\s+current\s+previous\s+target\s+status\s+last update\s+error$/);
        assert.match(lines[3], /^vps-2\s+v2 bbbbbbbbbbbb\s+v2 bbbbbbbbbbbb\s+v3 aaaaaaaaaaaa\s+rolled_back\s+2026-11-23 12:00:00\s+verify failed \(exit 1\): rachel8 is fail…$/);
        assert.ok(text.includes("rollout: release v3 aaaaaaaaaaaa at 10%: 1/2 hosts succeeded; ROLLOUT HALTED, failed: vps-2"), text);
        assert.ok(text.includes("stage 10%, cohort 2: 1 succeeded, 1 rolled back, 1 failed; HALTED"), text);
        assert.ok(text.includes("retry the 10% stage (pulumi config set rachel-fleet:rolloutPercent 10)"), text);
    });

    it("says so on a stack that never ran, and shows a refused advance with the re-check's words", () => {
        assert.ok(formatFleetView(fleetView({})).includes("rollout: no stage has run on this stack yet"));
        const refused = fleetView({ fleet: {}, rollout: { ...rollout, refusal: "the re-check of release aaaaaaaaaaaa before 50% found: vps-1 rachel8 is inactive." } });
        assert.strictEqual(refused.rollout!.verdict, "release aaaaaaaaaaaa at 10%: advance refused by the re-check");
        assert.match(refused.rollout!.refusal, /^the re-check of release aaaaaaaaaaaa before 50% found: vps-1 rachel8 is inactive\. To go on/);
        assert.strictEqual(versionLabel(""), "");
    });

    it("tells a fresh update marker (an update runs) from a stale one (an update was interrupted)", () => {
        const marker = JSON.stringify({ since: "2026-11-23T12:00:00Z", epoch: 1000, staleAfterEpoch: 2000, target: A, attempt: "aaaaaaaaaaaa-1" });
        assert.strictEqual(markerLabel(marker, 1500), "updating since 2026-11-23 12:00:00 UTC");
        assert.strictEqual(markerLabel(marker, 2500), "stale marker since 2026-11-23 12:00:00 UTC");
        assert.strictEqual(markerLabel(undefined, 1500), "");
        assert.strictEqual(markerLabel("{not json", 1500), "unreadable marker");
        const view = fleetView({ fleet: { "vps-1": rec({}) } }, {}, { "vps-1": marker }, 1500);
        assert.strictEqual(view.rows[0].marker, "updating since 2026-11-23 12:00:00 UTC");
    });

    it("shows each provisioned VPS's phase (only where the stack provisions any); a static host is static", () => {
        const view = fleetView({
            fleet: {
                "hz-1": rec({ provisioning: { phase: "ready", provisionedAt: "2026-11-30T07:10:00.000Z" } }),
                "hz-2": rec({ updateStatus: "failed", error: "prepare failed before any switch: begin failed (exit 1): cloud-init failed on this VPS", provisioning: { phase: "failed", failedIn: "cloud-init" } }),
                "vps-1": rec({}),
            },
        });
        assert.deepStrictEqual(view.rows.map((r) => [r.host, r.phase]), [["hz-1", "ready since 2026-11-30 07:10"], ["hz-2", "failed in cloud-init"], ["vps-1", ""]]);
        const lines = formatFleetView(view, 60).split("\n");
        assert.match(lines[0], /^host\s+phase\s+current/);
        assert.match(lines[3], /^hz-2\s+failed in cloud-init\s+.*failed\s+.*prepare failed before any switch/);
        assert.match(lines[4], /^vps-1\s+static\s+/);
        assert.doesNotMatch(formatFleetView(fleetView({ fleet: { "vps-1": rec({}) } })), /phase/, "no phase column for a fleet of static hosts");
    });

    it("a repeated stage that had nothing to update says so, not \"0/0 hosts succeeded\"", () => {
        const view = fleetView({ fleet: { "vps-1": rec({}) }, rollout: { ...rollout, attempted: 0, succeeded: 0, rolledBack: 0, failed: 0, failedHosts: [], failureRate: 0, halted: false } });
        assert.strictEqual(view.rollout!.verdict, "release aaaaaaaaaaaa at 10%: every host of the stage already runs it; nothing to update.");
        assert.doesNotMatch(formatFleetView(view), /0\/0 hosts/);
    });
});
