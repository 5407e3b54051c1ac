import { AppSettings } from "../config/config";
import { RecheckReading } from "../stages/gate";
import { describeError, unb64 } from "./hostOps";
import { lifecycleScript, parseKeyValues, readOnlyInvocation } from "./script";
import { SshTarget, withSsh } from "./ssh";

/**
 * Reads what the promotion re-check judges, over the VPS's pinned SSH, changing nothing
 * on it (the script runs from stdin). Never throws: a VPS that cannot be read is a
 * reading too, with the reason as a sentence.
 */
export async function recheckHost(target: SshTarget, app: AppSettings, healthUrl: string): Promise<RecheckReading> {
    try {
        const { command, stdin } = readOnlyInvocation(lifecycleScript(app), healthUrl ? ["recheck", healthUrl] : ["recheck"]);
        const r = await withSsh(target, (exec) => exec(command, { stdin }));
        if (r.code !== 0) {
            throw new Error(`the re-check could not run (exit ${r.code}): ${(r.stdout + r.stderr).trim().split("\n").slice(-2).join(" ")}`);
        }
        const kv = parseKeyValues(r.stdout);
        if (kv.locked !== undefined) {
            throw new Error(`another fleet operation holds this VPS's lock (${unb64(kv.locked) || "holder unknown"}): not read, so not judged`);
        }
        const [vCommit = "", vInvocation = "", vAt = ""] = (kv.verified ?? "").split(" ");
        return {
            reachable: true,
            reason: "",
            head: kv.head ?? "",
            serviceState: kv.active || "unknown",
            invocation: kv.invocation ?? "",
            restarts: kv.restarts ?? "",
            verified: vCommit ? { commit: vCommit, invocation: vInvocation, epoch: Number(vAt) || 0 } : undefined,
            marker: unb64(kv.marker),
            health: healthUrl ? { url: healthUrl, ok: kv.healthrc === "0", body: unb64(kv.health) } : undefined,
        };
    } catch (err) {
        return { reachable: false, reason: describeError(err), head: "", serviceState: "unknown", invocation: "", restarts: "", marker: "" };
    }
}
