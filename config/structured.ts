import { ConfigError, Fail } from "./errors";

/** A structured config value (`--path`), which the engine hands over as a JSON string. */
export function parseJson(raw: string | undefined, key: string, fail: Fail): unknown {
    if (raw === undefined) {
        return undefined;
    }
    try {
        return JSON.parse(raw);
    } catch {
        return fail(key, raw, "must be structured config (a list or object), not a plain string", "--path ...");
    }
}

/** Refuses fields of a structured value other than `allowed`; `where` names the value in the message. */
export function checkKeys(obj: Record<string, unknown>, allowed: string[], where: string) {
    const extra = Object.keys(obj).filter((k) => !allowed.includes(k));
    if (extra.length > 0) {
        throw new ConfigError(
            `${where} has unknown field${extra.length > 1 ? "s" : ""} ${extra.join(", ")} (allowed: ${allowed.join(", ")}). Fix: remove ${extra.join(", ")}`,
        );
    }
}
