import { HostRecord, Provisioning, RolloutSummary, ledgerFromOutputs } from "../stages/ledger";
import { waysForward } from "../stages/plan";
import { describeVerdict } from "../stages/verdict";

/**
 * What an operator sees of a stack: one row per VPS and the rollout's summary, built from
 * the stack's `fleet` and `rollout` outputs. One home for the view, so the status CLI,
 * the console and the demo show the same thing. Pure; no secret is ever in these outputs.
 */

export interface HostRow {
    host: string;
    current: string;
    previous: string;
    target: string;
    status: string;
    lastUpdate: string;
    error: string;
    /** The update marker as the last refresh found it: "updating since …", "stale marker since …", or empty. */
    marker: string;
    /** A VPS this stack provisions: its phase ("ready since …", "cloud-init", "failed in cloud-init"); empty for a static host. */
    phase: string;
}

export interface RolloutView {
    release: string;
    percent: number;
    cohortSize: number;
    succeeded: number;
    rolledBack: number;
    failed: number;
    halted: boolean;
    /** One line: the stage's verdict. */
    verdict: string;
    /** When halted: why, and the ways forward. */
    refusal: string;
}

export interface FleetView {
    rows: HostRow[];
    rollout?: RolloutView;
}

/** A commit as an operator reads it: the tag when the app's git has one, and the short SHA. */
export function versionLabel(sha: string, tags: Record<string, string> = {}): string {
    if (!sha) {
        return "";
    }
    return tags[sha] ? `${tags[sha]} ${sha.slice(0, 12)}` : sha.slice(0, 12);
}

function rolloutView(r: RolloutSummary, tags: Record<string, string>): RolloutView {
    const refusal = r.halted ? `${r.refusal ?? describeVerdict(r)} ${waysForward(r.percent)}` : "";
    const verdict = r.refusal ? `release ${r.release.slice(0, 12)} at ${r.percent}%: advance refused by the re-check` : describeVerdict(r);
    // The release as the operator reads it: its tag beside the short SHA when the app has one.
    const named = tags[r.release] ? verdict.replace(`release ${r.release.slice(0, 12)}`, `release ${versionLabel(r.release, tags)}`) : verdict;
    return {
        release: r.release, percent: r.percent, cohortSize: r.cohortSize, succeeded: r.succeeded, rolledBack: r.rolledBack, failed: r.failed,
        halted: r.halted, verdict: named, refusal,
    };
}

/**
 * An update marker (lifecycle/steps.ts, prepare) as an operator reads it: fresh while its
 * staleAfterEpoch lies ahead (an update runs), stale after (an update was interrupted).
 */
export function markerLabel(markerJson: string | undefined, nowEpoch: number): string {
    if (!markerJson) {
        return "";
    }
    try {
        const m = JSON.parse(markerJson) as { since?: string; staleAfterEpoch?: number };
        const since = (m.since ?? "?").replace("T", " ").replace(/Z$/, " UTC");
        return typeof m.staleAfterEpoch === "number" && m.staleAfterEpoch > nowEpoch ? `updating since ${since}` : `stale marker since ${since}`;
    } catch {
        return "unreadable marker";
    }
}

/**
 * The view of a stack's outputs (whatever they hold: nothing, on a new stack), with the
 * markers the last refresh found (host → marker JSON) when given.
 */
export function fleetView(outputs: { fleet?: unknown; rollout?: unknown }, tags: Record<string, string> = {}, markers: Record<string, string> = {}, nowEpoch = Date.now() / 1000): FleetView {
    const ledger = ledgerFromOutputs(outputs.fleet, outputs.rollout);
    const rows = Object.keys(ledger.hosts).sort().map((host) => {
        const r: HostRecord = ledger.hosts[host];
        return {
            host,
            current: versionLabel(r.currentVersion, tags),
            previous: versionLabel(r.previousVersion, tags),
            target: versionLabel(r.targetVersion, tags),
            status: r.managed ? r.updateStatus : "not managed yet",
            lastUpdate: r.lastUpdateAt ? r.lastUpdateAt.replace("T", " ").slice(0, 19) : "",
            error: r.error,
            marker: markerLabel(markers[host], nowEpoch),
            phase: phaseLabel(r.provisioning),
        };
    });
    return { rows, rollout: ledger.rollout ? rolloutView(ledger.rollout, tags) : undefined };
}

/** A provisioned VPS's phase as an operator reads it. */
export function phaseLabel(p: Provisioning | undefined): string {
    if (!p) return "";
    if (p.phase === "ready") return p.provisionedAt ? `ready since ${p.provisionedAt.replace("T", " ").slice(0, 16)}` : "ready";
    if (p.phase === "deprovisioned") return p.deprovisionedAt ? `deprovisioned ${p.deprovisionedAt.replace("T", " ").slice(0, 16)}` : "deprovisioned";
    return p.phase === "failed" ? `failed in ${p.failedIn ?? "?"}` : p.phase;
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** The view as plain text: an aligned table and the rollout's lines. */
export function formatFleetView(view: FleetView, errorWidth = 80): string {
    // The phase column only where the stack provisions VPSs.
    const phases = view.rows.some((r) => r.phase);
    const head = ["host", ...(phases ? ["phase"] : []), "current", "previous", "target", "status", "last update", "error"];
    const cells = view.rows.map((r) => [r.host, ...(phases ? [r.phase || "static"] : []), r.current, r.previous, r.target, r.status, r.lastUpdate, clip(r.error, errorWidth)]);
    const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
    const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i])).join("  ").trimEnd();
    const out = [line(head), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)];
    const r = view.rollout;
    if (phases) {
        out.push("", "Provisioned VPSs are protected: neither a change of hetzner.servers nor pulumi destroy deletes one until it is released;",
            "npm run status -- --release <vps> prints the one command that releases it.");
    }
    out.push("");
    if (!r) {
        out.push("rollout: no stage has run on this stack yet");
    } else {
        out.push(`rollout: ${r.verdict}`);
        out.push(`  stage ${r.percent}%, cohort ${r.cohortSize}: ${r.succeeded} succeeded, ${r.rolledBack} rolled back, ${r.failed} failed${r.halted ? "; HALTED" : ""}`);
        if (r.halted) {
            out.push(`  ${r.refusal}`);
        }
    }
    return out.join("\n") + "\n";
}
