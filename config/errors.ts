/** Thrown for bad stack config; the message names the key, the bad value and the fix. */
export class ConfigError extends Error {}

/**
 * Reports a bad value and throws ConfigError. Each source of config (stack config,
 * an inventory file) brings its own, so the fix is worded for where the value lives.
 */
export type Fail = (key: string, value: unknown, why: string, example: string) => never;

/** A value for an error message, with keys and subscribers' env blanked out: errors end up in logs. */
export function redacted(value: unknown): string {
    return JSON.stringify(value, (k, v) =>
        k === "privateKey" || k === "sshPrivateKey" || k === "env" || (typeof v === "string" && /PRIVATE KEY/.test(v)) ? "[secret]" : v) ?? "undefined";
}
