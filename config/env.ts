import { createHmac } from "crypto";
import { ConfigError } from "./errors";

/**
 * A subscriber's environment for one VPS: variable name → value (bot tokens, account
 * credentials). Every value is treated as a secret wherever it goes, whether or not the
 * operator set it with --secret; no message ever shows one.
 */
export type EnvVars = Record<string, string>;

const NAME = /^[A-Z_][A-Z0-9_]*$/;

/**
 * Validates an `env` map from stack config. `key` names it in messages
 * (`rachel-fleet:hosts[3].env`); `fix` words how to change one variable there. Values may
 * be strings, numbers or booleans (YAML's `on` and `8080` are meant as text); anything an
 * environment file cannot carry (a line break, a NUL) is refused without showing it.
 */
export function parseEnv(value: unknown, key: string, fix: (name: string) => string): EnvVars {
    if (value === undefined || value === null) {
        return {};
    }
    if (typeof value !== "object" || Array.isArray(value)) {
        throw new ConfigError(`${key} must be a map of variable names to values (value not shown). Fix: ${fix("TELEGRAM_BOT_TOKEN")}`);
    }
    const env: EnvVars = {};
    for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
        if (!NAME.test(name)) {
            throw new ConfigError(
                `${key}.${name}: ${JSON.stringify(name)} is not an environment variable name (capital letters, digits and _, not starting with a digit). ` +
                    `Fix: pulumi config rm --path '${key}.${name}', then ${fix(name.toUpperCase().replace(/[^A-Z0-9_]/g, "_").replace(/^([0-9])/, "_$1"))}`,
            );
        }
        if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
            throw new ConfigError(`${key}.${name} must be a single value, not a list or map (value not shown). Fix: ${fix(name)}`);
        }
        const text = String(v);
        if (/[\n\r\0]/.test(text)) {
            throw new ConfigError(`${key}.${name} holds a line break or NUL, which an environment file cannot carry (value not shown). Fix: ${fix(name)}`);
        }
        env[name] = text;
    }
    return env;
}

/** The fleet-wide env with one VPS's own values over it. */
export function mergedEnv(fleet: EnvVars, own: EnvVars | undefined): EnvVars {
    return { ...fleet, ...(own ?? {}) };
}

/**
 * The environment file as the VPS's unit reads it (systemd EnvironmentFile=): one
 * NAME="value" line per variable, sorted, with backslash and double quote escaped. Inside
 * double quotes systemd expands nothing (a `$` stays a `$`), so the value arrives as set.
 */
export function envFileText(env: EnvVars): string {
    return Object.keys(env)
        .sort()
        .map((name) => `${name}="${env[name].replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"\n`)
        .join("");
}

/**
 * Whether a VPS's environment changed, decided without keeping any value: an HMAC of the
 * file's text under a key only this stack has (its stack id and the VPS's name are not
 * secret, so the digest is also kept only as a secret output). Empty for no variables.
 */
export function envDigest(env: EnvVars, stackId: string, host: string): string {
    const text = envFileText(env);
    return text === "" ? "" : createHmac("sha256", `rachel-fleet-env:${stackId}:${host}`).update(text).digest("hex").slice(0, 32);
}
