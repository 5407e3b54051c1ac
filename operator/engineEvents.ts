import { EngineEvent } from "@pulumi/pulumi/automation";
import { VPS_TYPE } from "../config/resourceTypes";
import { UpdateStatus } from "../stages/ledger";
import { FleetView } from "./fleetView";
import type { DriverState } from "./rolloutControl";

/**
 * The page's events, derived from the engine's: only the fields a row needs, never a
 * resource's inputs or outputs as such (so nothing secret can ride along).
 */
export type PageEvent =
    | { kind: "run"; state: "started" | "finished" | "failed" | "refused"; action: string; total?: number; message?: string }
    /** A VPS's row: `updating` when its update step starts, a step line while it runs, its outcome when its record is written. */
    | { kind: "host"; host: string; phase: "updating" | "step" | "done"; text?: string; status?: string; error?: string; current?: string }
    /** A warning or error the program printed (each failed host once, the verdict once). */
    | { kind: "log"; level: "warning" | "error"; text: string }
    | { kind: "view"; view: FleetView }
    /** The autopilot's state (operator/rolloutControl.ts), or a line it said. */
    | { kind: "autopilot"; autopilot?: DriverState; said?: string };

/** The VPS a resource belongs to: the component itself or its `-update` / `-version` child. */
function hostOf(urn: string): { host: string; part: "vps" | "update" | "version" } | undefined {
    const [typeChain = "", name = ""] = urn.split("::").slice(-2);
    if (!typeChain.split("$").includes(VPS_TYPE)) {
        return undefined;
    }
    const m = /^(.*)-(update|version)$/.exec(name);
    return m && !typeChain.endsWith(VPS_TYPE) ? { host: m[1], part: m[2] as "update" | "version" } : { host: name, part: "vps" };
}

const CHANGING = new Set(["create", "update", "replace", "create-replacement"]);
const STATUSES = new Set<string>(["idle", "updating", "success", "failed", "rolled_back"] satisfies UpdateStatus[]);
// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/<\{%[^%]*%\}>/g, "").replace(/\u001b\[[0-9;]*m/g, "").trim();

export function pageEventsOf(e: EngineEvent): PageEvent[] {
    const pre = e.resourcePreEvent?.metadata;
    if (pre && CHANGING.has(pre.op)) {
        const h = hostOf(pre.urn);
        return h?.part === "update" ? [{ kind: "host", host: h.host, phase: "updating" }] : [];
    }
    const outs = e.resOutputsEvent?.metadata;
    if (outs && CHANGING.has(outs.op)) {
        const h = hostOf(outs.urn);
        const o = outs.new?.outputs as Record<string, unknown> | undefined;
        // In a preview a record's outputs are not known yet: nothing is done.
        if (h?.part === "version" && o && typeof o.updateStatus === "string" && STATUSES.has(o.updateStatus)) {
            return [{ kind: "host", host: h.host, phase: "done", status: String(o.updateStatus ?? ""), error: String(o.error ?? ""), current: String(o.currentVersion ?? "") }];
        }
        return [];
    }
    const d = e.diagnosticEvent;
    if (d) {
        const h = d.urn ? hostOf(d.urn) : undefined;
        if (h?.part === "update" && (d.severity === "info" || d.severity === "info#err")) {
            const line = plain(d.message).split("\n").filter(Boolean).pop();
            return line ? [{ kind: "host", host: h.host, phase: "step", text: line }] : [];
        }
        if (d.severity === "warning" || d.severity === "error") {
            return [{ kind: "log", level: d.severity, text: plain(d.message) }];
        }
    }
    return [];
}
