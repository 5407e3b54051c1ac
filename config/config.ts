import { parseEnv } from "./env";
import { ConfigError, Fail, redacted } from "./errors";
import { parseHetzner } from "./hetzner";
import { parseConfigHosts, readInventoryFile } from "./hosts";
import { inShard, shardOfStack } from "./shards";
import { AppSettings, DEFAULTS, FleetConfig, FleetHalt, HetznerSettings, HostSpec, KNOWN_KEYS, ParseContext, RawConfig, StepRunner } from "./types";

/** Characters that make a shell do something other than read a word (lifecycle/shellQuote.ts quotes as well). */
const SHELL_META = /[\s'"`$\\;&|<>(){}*?!#~\[\]]/;

// The rest of the program imports the config's types from here; each lives in the file named.
export { ConfigError, redacted } from "./errors";
export { DEFAULTS, KNOWN_KEYS } from "./types";
export type { AppSettings, FleetConfig, FleetHalt, HetznerServerSpec, HetznerSettings, HostSpec, ParseContext, RawConfig, StepRunner } from "./types";

/** Validates the whole stack config; throws ConfigError on the first problem. */
export function parseFleetConfig(raw: RawConfig, ctx: ParseContext): FleetConfig {
    rejectUnknownKeys(raw, ctx.ns);
    const r = configReader(raw, ctx.ns);
    const rollout = parseRollout(r);
    const sshUser = parseSshUser(r);
    const app = parseAppSettings(r);
    const sshPrivateKey = parseSshPrivateKey(raw, ctx);
    const configHosts = parseConfigHosts(raw.hosts, sshUser, ctx, r.fail);
    const hosts = [...configHosts, ...readInventoryFile(r.str("inventoryFile"), sshUser, ctx)];
    const hetzner = parseHetzner(raw.hetzner, ctx.ns, r.fail);
    if (hetzner && app.repoUrl === "") {
        r.fail("repoUrl", raw.repoUrl, "is required when VPSs are provisioned (cloud-init clones it)", "https://example.org/rachel8.git");
    }
    checkFleetMembers(ctx.ns, hosts, hetzner, sshPrivateKey);
    const env = parseFleetEnv(raw.env, ctx.ns);
    checkNotifyUrl(raw.notifyUrl, ctx);
    // Names are unique across the whole fleet (checked above); this stack keeps its shard's.
    const shard = shardOfStack(ctx.stackName ?? "", r.int("shards", DEFAULTS.shards, 1, 1000, "4"), ctx.ns);
    const sharded = shard && { hosts: inShard(hosts, shard), hetzner: hetzner && { ...hetzner, servers: inShard(hetzner.servers, shard) } };
    const fleetHalt = parseFleetHalt(raw.fleetHalt, ctx.ns);
    const splitFrom = shard ? r.str("splitFrom") : "";
    return { ...rollout, sshUser, app, hosts, sshPrivateKey, hetzner, env, ...sharded, ...(shard ? { shard } : {}), ...(fleetHalt ? { fleetHalt } : {}), ...(splitFrom ? { splitFrom } : {}) };
}

/**
 * The two values an operator changes between stages, checked with the program's own rules
 * and messages (the console refuses bad input with them before any run starts).
 */
export function parseStageRequest(targetCommit: string, rolloutPercent: string, ns: string): { targetCommit: string; rolloutPercent: number } {
    const { targetCommit: commit, rolloutPercent: percent } = parseFleetStage(targetCommit, rolloutPercent, undefined, ns);
    return { targetCommit: commit, rolloutPercent: percent };
}

/** A sharded fleet's stage (npm run fleet): the stage request and the fleet's failure threshold, by the same rules. */
export function parseFleetStage(targetCommit: string, rolloutPercent: string, failureThreshold: string | undefined, ns: string): { targetCommit: string; rolloutPercent: number; threshold: number } {
    const rollout = parseRollout(configReader({ targetCommit, rolloutPercent, ...(failureThreshold === undefined ? {} : { failureThreshold }) }, ns));
    return { targetCommit: rollout.targetCommit, rolloutPercent: rollout.rolloutPercent, threshold: rollout.failureThreshold };
}

function rejectUnknownKeys(raw: RawConfig, ns: string): void {
    const unknown = Object.keys(raw).filter((k) => !KNOWN_KEYS.includes(k));
    if (unknown.length > 0) {
        throw new ConfigError(
            `unknown config key${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `${ns}:${k}`).join(", ")}. ` +
                `Known keys: ${KNOWN_KEYS.join(", ")}. Fix: pulumi config rm ${ns}:${unknown[0]}`,
        );
    }
}

/** The raw config with readers for its plain (non-structured) keys; failures give a `pulumi config set` fix. */
interface ConfigReader {
    raw: RawConfig;
    fail: Fail;
    /** A string key, trimmed; its default when unset. */
    str(key: keyof typeof DEFAULTS): string;
    /** A whole number from min to max; its default when unset, required when there is none. */
    int(key: string, dflt: number | undefined, min: number, max: number, example: string): number;
    /** A timeout in seconds, 1 to 3600; its default when unset. */
    timeout(key: keyof typeof DEFAULTS): number;
}

function configReader(raw: RawConfig, ns: string): ConfigReader {
    const fix = (key: string, example: string) => `pulumi config set ${ns}:${key} ${example}`;
    const fail = (key: string, value: unknown, why: string, example: string): never => {
        throw new ConfigError(
            `${ns}:${key} ${why}; got ${redacted(value)}. Fix: ${fix(key, example)}`,
        );
    };
    const int = (key: string, dflt: number | undefined, min: number, max: number, example: string): number => {
        const v = raw[key];
        if (v === undefined) {
            if (dflt === undefined) {
                return fail(key, v, "is required", example);
            }
            return dflt;
        }
        if (!/^\d+$/.test(v.trim()) || Number(v) < min || Number(v) > max) {
            return fail(key, v, `must be a whole number from ${min} to ${max}`, example);
        }
        return Number(v);
    };
    return {
        raw,
        fail,
        str: (key) => (raw[key] ?? String(DEFAULTS[key])).trim(),
        int,
        timeout: (key) => int(key, DEFAULTS[key] as number, 1, 3600, String(DEFAULTS[key])),
    };
}

type RolloutSettings = Pick<FleetConfig, "targetCommit" | "stepRunner" | "rolloutPercent" | "failureThreshold" | "maxParallel" | "prepareParallel" | "overrideHalt" | "bakeSeconds">;

/** What to roll out, to how much of the fleet, and when to stop. */
function parseRollout(r: ConfigReader): RolloutSettings {
    const { raw, fail } = r;
    const targetCommit = (raw.targetCommit ?? "").trim();
    if (!raw.targetCommit) {
        fail("targetCommit", raw.targetCommit, "is required: the full 40-hex git SHA to roll out", "$(git rev-parse <tag>)");
    }
    if (!/^[0-9a-f]{40}$/.test(targetCommit)) {
        fail("targetCommit", raw.targetCommit, "must be a full 40-character lowercase hex git SHA", "$(git rev-parse <tag>)");
    }
    const rolloutPercent = r.int("rolloutPercent", undefined, 1, 100, "10");

    const thresholdRaw = raw.failureThreshold;
    const failureThreshold = thresholdRaw === undefined ? DEFAULTS.failureThreshold : Number(thresholdRaw);
    if (thresholdRaw !== undefined && (!/^\s*\d*\.?\d+\s*$/.test(thresholdRaw) || failureThreshold > 1)) {
        fail("failureThreshold", thresholdRaw, "must be a number from 0 to 1 (a fraction of the stage's hosts)", "0.3");
    }
    const maxParallel = r.int("maxParallel", DEFAULTS.maxParallel, 1, 1000, "5");
    const prepareParallel = r.int("prepareParallel", DEFAULTS.prepareParallel, 0, 4000, "20") || 4 * maxParallel;
    const bakeSeconds = r.int("bakeSeconds", DEFAULTS.bakeSeconds, 0, 7 * 86400, String(DEFAULTS.bakeSeconds));
    const stepRunner = r.str("stepRunner");
    if (stepRunner !== "command" && stepRunner !== "ssh2") {
        fail("stepRunner", stepRunner, "must be command (remote.Command steps) or ssh2 (the fleet's own SSH steps)", "command");
    }

    const overrideRaw = raw.overrideHalt;
    if (overrideRaw !== undefined && !["true", "false"].includes(overrideRaw)) {
        fail("overrideHalt", overrideRaw, "must be true or false", "true");
    }
    return { targetCommit, stepRunner: stepRunner as StepRunner, rolloutPercent, failureThreshold, maxParallel, prepareParallel, bakeSeconds, overrideHalt: overrideRaw === "true" };
}

function parseSshUser(r: ConfigReader): string {
    const sshUser = r.str("sshUser");
    if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(sshUser)) {
        r.fail("sshUser", sshUser, "must be a plain Unix user name", "rachel");
    }
    return sshUser;
}

/** Each string here reaches a remote shell or a URL, hence the narrow patterns. */
function parseAppSettings(r: ConfigReader): AppSettings {
    const { str, fail } = r;
    const appDir = str("appDir");
    if (!/^\/[A-Za-z0-9._/-]+$/.test(appDir) || appDir.split("/").includes("..")) {
        fail("appDir", appDir, "must be an absolute path of letters, digits and ._-/ only", DEFAULTS.appDir);
    }
    const service = str("service");
    if (!/^[A-Za-z0-9_.@-]+$/.test(service)) {
        fail("service", service, "must be a systemd unit name (letters, digits, _.@-)", DEFAULTS.service);
    }
    const installCommand = str("installCommand").replace(/\s+/g, " ");
    if (installCommand === "" || installCommand.split(" ").some((w) => SHELL_META.test(w) || w === "")) {
        fail("installCommand", installCommand, "must be a plain command and arguments, without shell metacharacters", `"bun install"`);
    }
    const repoUrl = str("repoUrl");
    if (repoUrl !== "" && (SHELL_META.test(repoUrl) || repoUrl.startsWith("-"))) {
        fail("repoUrl", repoUrl, "must be a git URL without spaces or shell metacharacters", "https://example.org/rachel8.git");
    }
    const healthUrl = str("healthUrl");
    if (healthUrl !== "" && !/^https?:\/\/[A-Za-z0-9.:\[\]{}/_%=&?+-]+$/.test(healthUrl)) {
        fail("healthUrl", healthUrl, "must be an http(s) URL (use {host} for the VPS address)", "http://{host}:8080/health");
    }
    return {
        repoUrl,
        appDir,
        service,
        installCommand,
        healthUrl,
        settleSeconds: r.int("settleSeconds", DEFAULTS.settleSeconds, 0, 600, "5"),
        minUptimeSeconds: r.int("minUptimeSeconds", DEFAULTS.minUptimeSeconds, 0, 600, "10"),
        connectTimeout: r.timeout("connectTimeout"),
        fetchTimeout: r.timeout("fetchTimeout"),
        installTimeout: r.timeout("installTimeout"),
        restartTimeout: r.timeout("restartTimeout"),
        keepReleases: r.int("keepReleases", DEFAULTS.keepReleases, 2, 100, "3"),
    };
}

/**
 * The autopilot's receiver (operator/notify.ts; the program itself sends nothing): a secret,
 * since such a URL often carries its token. Never echoed.
 */
function checkNotifyUrl(raw: string | undefined, ctx: ParseContext): void {
    if (raw === undefined || raw === "") return;
    const fix = `pulumi config set --secret ${ctx.ns}:notifyUrl <https://…>`;
    if (!ctx.secretKeys.has("notifyUrl")) {
        throw new ConfigError(`${ctx.ns}:notifyUrl is stored in plaintext; it may carry a token, so it must be a secret (value not shown). Fix: ${fix}`);
    }
    let url: URL | undefined;
    try {
        url = new URL(raw);
    } catch {
        url = undefined;
    }
    if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) {
        throw new ConfigError(`${ctx.ns}:notifyUrl is not an http(s) URL (value not shown). Fix: ${fix}`);
    }
}

/** The fleet-wide `env`: never echoed, even when it is not the map it should be. */
function parseFleetEnv(raw: string | undefined, ns: string) {
    const fix = (n: string) => `pulumi config set --secret --path '${ns}:env.${n}' <value>`;
    let value: unknown;
    try {
        value = raw === undefined ? undefined : JSON.parse(raw);
    } catch {
        throw new ConfigError(`${ns}:env must be a map of variable names to values set with --path, not a plain string (value not shown). Fix: pulumi config rm ${ns}:env, then ${fix("TELEGRAM_BOT_TOKEN")}`);
    }
    return parseEnv(value, `${ns}:env`, fix);
}

/** The fleet driver's halt record (written by npm run fleet, not by hand). */
function parseFleetHalt(raw: string | undefined, ns: string): FleetHalt | undefined {
    if (raw === undefined || raw === "") return undefined;
    let v: Partial<FleetHalt> | undefined;
    try {
        v = JSON.parse(raw);
    } catch {
        v = undefined;
    }
    if (!v || typeof v.release !== "string" || typeof v.percent !== "number" || typeof v.reason !== "string") {
        throw new ConfigError(`${ns}:fleetHalt is not the fleet driver's record ({release, percent, reason}); got ${redacted(raw)}. Fix: npm run fleet writes it; to lift a fleet's halt, pulumi config rm ${ns}:fleetHalt on the fleet's stack and run npm run fleet again`);
    }
    return { release: v.release, percent: v.percent, reason: v.reason };
}

function parseSshPrivateKey(raw: RawConfig, ctx: ParseContext): string | undefined {
    const sshPrivateKey = raw.sshPrivateKey ? raw.sshPrivateKey : undefined;
    if (sshPrivateKey !== undefined && !ctx.secretKeys.has("sshPrivateKey")) {
        throw new ConfigError(
            `${ctx.ns}:sshPrivateKey is stored in plaintext; a private key must be a secret. ` +
                `Fix: pulumi config set --secret ${ctx.ns}:sshPrivateKey < ~/.ssh/rachel_fleet_ed25519`,
        );
    }
    return sshPrivateKey;
}

/** The fleet, from all its sources: not empty, every name unique, every static host with a key to reach it. */
function checkFleetMembers(ns: string, hosts: HostSpec[], hetzner: HetznerSettings | undefined, sshPrivateKey: string | undefined): void {
    if (hosts.length === 0 && !hetzner) {
        throw new ConfigError(
            `the fleet is empty: set ${ns}:hosts or ${ns}:inventoryFile (a static inventory) and/or ${ns}:hetzner (VPSs to provision). ` +
                `Fix: pulumi config set --path '${ns}:hosts[0].name' web-1 (and host, hostKey), see README.`,
        );
    }
    const names = [...hosts.map((h) => h.name), ...(hetzner?.servers ?? []).map((s) => s.name)];
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) {
        throw new ConfigError(
            `duplicate host name ${JSON.stringify(dup)} in ${ns}:hosts/${ns}:inventoryFile/${ns}:hetzner.servers: names must be unique ` +
                `because each VPS's resources are named after it. Fix: rename one of them.`,
        );
    }
    if (hosts.some((h) => h.privateKey === undefined) && sshPrivateKey === undefined) {
        const h = hosts.find((x) => x.privateKey === undefined)!;
        throw new ConfigError(
            `host ${JSON.stringify(h.name)} has no private key and ${ns}:sshPrivateKey is missing. ` +
                `Fix: pulumi config set --secret ${ns}:sshPrivateKey < ~/.ssh/rachel_fleet_ed25519`,
        );
    }
}
