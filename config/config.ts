import * as yaml from "js-yaml";
import { SHELL_META } from "../lifecycle/shellQuote";

/** Thrown for bad stack config; the message names the key, the bad value and the fix. */
export class ConfigError extends Error {}

/** One VPS of the static inventory (`rachel-fleet:hosts`). */
export interface HostSpec {
    /** Stable name: resource names derive from it, never from list position. */
    name: string;
    host: string;
    port: number;
    user: string;
    /** The pinned host public key, authorized_keys format ("ssh-ed25519 AAAA..."). */
    hostKey: string;
    /** Per-host private key (a config secret); the fleet key is used when absent. */
    privateKey?: string;
}

/** How the app is laid out and run on every VPS. */
export interface AppSettings {
    repoUrl: string;
    appDir: string;
    service: string;
    installCommand: string;
    /** Health URL, `{host}` replaced by the VPS's address; empty disables the health check. */
    healthUrl: string;
    settleSeconds: number;
    connectTimeout: number;
    fetchTimeout: number;
    installTimeout: number;
    restartTimeout: number;
}

export interface HetznerServerSpec {
    name: string;
    serverType: string;
    location: string;
    image: string;
}

export interface HetznerSettings {
    servers: HetznerServerSpec[];
    /** The app's TCP port opened in the firewall. */
    appPort: number;
    /** Source CIDRs allowed to reach SSH. */
    sshSourceIps: string[];
}

/**
 * command: each step is a @pulumi/command remote.Command (the default).
 * ssh2:    each step is a RemoteStep run by the fleet's own dynamic provider, for
 *          engines without the command provider plugin. Same command strings.
 */
export type StepRunner = "command" | "ssh2";

export interface FleetConfig {
    targetCommit: string;
    stepRunner: StepRunner;
    rolloutPercent: number;
    failureThreshold: number;
    maxParallel: number;
    overrideHalt: boolean;
    sshUser: string;
    app: AppSettings;
    hosts: HostSpec[];
    /** The fleet's SSH private key (a config secret), used for hosts without their own. */
    sshPrivateKey?: string;
    hetzner?: HetznerSettings;
}

/** Every key the program reads, with the default the schema in Pulumi.yaml documents. */
export const DEFAULTS = {
    failureThreshold: 0.3,
    maxParallel: 5,
    overrideHalt: false,
    sshUser: "rachel",
    repoUrl: "",
    appDir: "/home/rachel/rachel",
    service: "rachel8",
    installCommand: "bun install",
    healthUrl: "",
    settleSeconds: 5,
    connectTimeout: 30,
    fetchTimeout: 60,
    installTimeout: 120,
    restartTimeout: 30,
    stepRunner: "command",
    inventoryFile: "",
};

export const KNOWN_KEYS = [
    "targetCommit",
    "rolloutPercent",
    "overrideHalt",
    "hosts",
    "sshPrivateKey",
    "hetzner",
    ...Object.keys(DEFAULTS).filter((k) => k !== "overrideHalt"),
];

const HOST_KEYS = ["name", "host", "port", "user", "hostKey", "privateKey"];
const SERVER_KEYS = ["name", "serverType", "location", "image"];
const HETZNER_KEYS = ["servers", "appPort", "sshSourceIps"];

/** A value for an error message, with anything that looks like a key blanked out: errors end up in logs. */
export function redacted(value: unknown): string {
    return JSON.stringify(value, (k, v) =>
        k === "privateKey" || k === "sshPrivateKey" || (typeof v === "string" && /PRIVATE KEY/.test(v)) ? "[secret]" : v) ?? "undefined";
}

/** Raw config as the engine hands it over: key (without namespace) → string. */
export type RawConfig = Record<string, string>;

export interface ParseContext {
    /** Config namespace, the project name. */
    ns: string;
    /** Reads the inventoryFile (the caller resolves the path and owns the I/O); throws ConfigError if it cannot. */
    readInventory?: (file: string) => string;
    /** Keys (without namespace) whose value is a config secret. */
    secretKeys: ReadonlySet<string>;
}

/** Validates the whole stack config; throws ConfigError on the first problem. */
export function parseFleetConfig(raw: RawConfig, ctx: ParseContext): FleetConfig {
    const ns = ctx.ns;
    const fix = (key: string, example: string) => `pulumi config set ${ns}:${key} ${example}`;
    const fail = (key: string, value: unknown, why: string, example: string): never => {
        throw new ConfigError(
            `${ns}:${key} ${why}; got ${redacted(value)}. Fix: ${fix(key, example)}`,
        );
    };

    const unknown = Object.keys(raw).filter((k) => !KNOWN_KEYS.includes(k));
    if (unknown.length > 0) {
        throw new ConfigError(
            `unknown config key${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `${ns}:${k}`).join(", ")}. ` +
                `Known keys: ${KNOWN_KEYS.join(", ")}. Fix: pulumi config rm ${ns}:${unknown[0]}`,
        );
    }

    const str = (key: keyof typeof DEFAULTS) => (raw[key] ?? String(DEFAULTS[key])).trim();
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
    const timeout = (key: keyof typeof DEFAULTS) =>
        int(key, DEFAULTS[key] as number, 1, 3600, String(DEFAULTS[key]));

    const targetCommit = (raw.targetCommit ?? "").trim();
    if (!raw.targetCommit) {
        fail("targetCommit", raw.targetCommit, "is required: the full 40-hex git SHA to roll out", "$(git rev-parse <tag>)");
    }
    if (!/^[0-9a-f]{40}$/.test(targetCommit)) {
        fail("targetCommit", raw.targetCommit, "must be a full 40-character lowercase hex git SHA", "$(git rev-parse <tag>)");
    }
    const rolloutPercent = int("rolloutPercent", undefined, 1, 100, "10");

    const thresholdRaw = raw.failureThreshold;
    const failureThreshold = thresholdRaw === undefined ? DEFAULTS.failureThreshold : Number(thresholdRaw);
    if (thresholdRaw !== undefined && (!/^\s*\d*\.?\d+\s*$/.test(thresholdRaw) || failureThreshold > 1)) {
        fail("failureThreshold", thresholdRaw, "must be a number from 0 to 1 (a fraction of the stage's hosts)", "0.3");
    }
    const maxParallel = int("maxParallel", DEFAULTS.maxParallel, 1, 1000, "5");
    const stepRunner = str("stepRunner");
    if (stepRunner !== "command" && stepRunner !== "ssh2") {
        fail("stepRunner", stepRunner, "must be command (remote.Command steps) or ssh2 (the fleet's own SSH steps)", "command");
    }

    const overrideRaw = raw.overrideHalt;
    if (overrideRaw !== undefined && !["true", "false"].includes(overrideRaw)) {
        fail("overrideHalt", overrideRaw, "must be true or false", "true");
    }

    const sshUser = str("sshUser");
    if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(sshUser)) {
        fail("sshUser", sshUser, "must be a plain Unix user name", "rachel");
    }
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
    const app: AppSettings = {
        repoUrl,
        appDir,
        service,
        installCommand,
        healthUrl,
        settleSeconds: int("settleSeconds", DEFAULTS.settleSeconds, 0, 600, "5"),
        connectTimeout: timeout("connectTimeout"),
        fetchTimeout: timeout("fetchTimeout"),
        installTimeout: timeout("installTimeout"),
        restartTimeout: timeout("restartTimeout"),
    };

    const sshPrivateKey = raw.sshPrivateKey ? raw.sshPrivateKey : undefined;
    if (sshPrivateKey !== undefined && !ctx.secretKeys.has("sshPrivateKey")) {
        throw new ConfigError(
            `${ns}:sshPrivateKey is stored in plaintext; a private key must be a secret. ` +
                `Fix: pulumi config set --secret ${ns}:sshPrivateKey < ~/.ssh/fleet_ed25519`,
        );
    }
    const configHosts = parseHosts(parseJson(raw.hosts, "hosts", fail), sshUser, {
        fail: (key, value, why, example) => {
            throw new ConfigError(`${ns}:${key} ${why}; got ${redacted(value)}. Fix: pulumi config set --path '${ns}:${key}' ${example}`);
        },
        privateKey: ctx.secretKeys.has("hosts") ? "secret" : "plaintext",
        label: (key) => `${ns}:${key}`,
        fix: (key) => `pulumi config set --secret --path '${ns}:${key}' < key`,
    });
    const hosts = [...configHosts, ...readInventoryFile(str("inventoryFile"), sshUser, ctx)];
    const hetzner = parseHetzner(raw.hetzner, ns, fail);
    if (hetzner && repoUrl === "") {
        fail("repoUrl", raw.repoUrl, "is required when VPSs are provisioned (cloud-init clones it)", "https://example.org/rachel8.git");
    }
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
                `Fix: pulumi config set --secret ${ns}:sshPrivateKey < ~/.ssh/fleet_ed25519`,
        );
    }
    return {
        targetCommit,
        stepRunner: stepRunner as StepRunner,
        rolloutPercent,
        failureThreshold,
        maxParallel,
        overrideHalt: overrideRaw === "true",
        sshUser,
        app,
        hosts,
        sshPrivateKey,
        hetzner,
    };
}

type Fail = (key: string, value: unknown, why: string, example: string) => never;

function parseJson(raw: string | undefined, key: string, fail: Fail): unknown {
    if (raw === undefined) {
        return undefined;
    }
    try {
        return JSON.parse(raw);
    } catch {
        return fail(key, raw, "must be structured config (a list or object), not a plain string", "--path ...");
    }
}

function checkKeys(obj: Record<string, unknown>, allowed: string[], where: string) {
    const extra = Object.keys(obj).filter((k) => !allowed.includes(k));
    if (extra.length > 0) {
        throw new ConfigError(
            `${where} has unknown field${extra.length > 1 ? "s" : ""} ${extra.join(", ")} (allowed: ${allowed.join(", ")}). Fix: remove ${extra.join(", ")}`,
        );
    }
}

/** Where a list of hosts came from: stack config or an inventory file, each with its own wording of a fix. */
interface HostSource {
    fail: Fail;
    /** secret: per-host keys allowed (config marked secret); plaintext: refused as unencrypted; forbidden: an inventory file. */
    privateKey: "secret" | "plaintext" | "forbidden";
    label: (key: string) => string;
    fix: (key: string) => string;
}

function parseHosts(list: unknown, defaultUser: string, src: HostSource): HostSpec[] {
    const fail = src.fail;
    if (list === undefined) {
        return [];
    }
    if (!Array.isArray(list)) {
        return fail("hosts", list, "must be a list of hosts", "[{name: web-1, host: 203.0.113.7, hostKey: ...}]");
    }
    return list.map((entry, i): HostSpec => {
        const key = `hosts[${i}]`;
        if (!entry || typeof entry !== "object" || Array.isArray(entry)) {
            return fail(key, entry, "must be an object {name, host, port, user, hostKey}", "{name: web-1, host: 203.0.113.7, hostKey: ...}");
        }
        const e = entry as Record<string, unknown>;
        checkKeys(e, HOST_KEYS, src.label(key));
        const name = e.name;
        if (typeof name !== "string" || !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) {
            fail(`${key}.name`, name, "must be a DNS-style name (lowercase letters, digits, inner -)", "web-1");
        }
        const host = e.host;
        if (typeof host !== "string" || !/^[A-Za-z0-9][A-Za-z0-9.:-]*$/.test(host)) {
            fail(`${key}.host`, host, "must be a host name or IP address", "203.0.113.7");
        }
        const port = e.port === undefined ? 22 : Number(e.port);
        if (!Number.isInteger(port) || port < 1 || port > 65535) {
            fail(`${key}.port`, e.port, "must be a TCP port from 1 to 65535", "22");
        }
        const user = e.user === undefined ? defaultUser : e.user;
        if (typeof user !== "string" || !/^[a-z_][a-z0-9_-]{0,31}$/.test(user)) {
            fail(`${key}.user`, user, "must be a plain Unix user name", "rachel");
        }
        const hostKey = typeof e.hostKey === "string" ? e.hostKey.trim().split(/\s+/).slice(0, 2).join(" ") : e.hostKey;
        if (typeof hostKey !== "string" || !/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+=*$/.test(hostKey)) {
            fail(`${key}.hostKey`, e.hostKey, "must be the host's public key in authorized_keys form (pinned; never trust on first use)", `"$(ssh-keyscan -t ed25519 <host> | cut -d' ' -f2-)"`);
        }
        if (e.privateKey !== undefined) {
            if (src.privateKey === "forbidden") {
                throw new ConfigError(
                    `${src.label(`${key}.privateKey`)}: an inventory file is plaintext and may not hold a private key. ` +
                        `Fix: remove it there and use the fleet key (pulumi config set --secret sshPrivateKey < key) or list this host in hosts with a secret privateKey`,
                );
            }
            if (src.privateKey === "plaintext") {
                throw new ConfigError(`${src.label(`${key}.privateKey`)} is stored in plaintext; a private key must be a secret. Fix: ${src.fix(`${key}.privateKey`)}`);
            }
            if (typeof e.privateKey !== "string" || !e.privateKey.includes("PRIVATE KEY")) {
                throw new ConfigError(`${src.label(`${key}.privateKey`)} is not a private key (PEM or OpenSSH). Fix: ${src.fix(`${key}.privateKey`)}`);
            }
        }
        return {
            name: name as string,
            host: host as string,
            port,
            user: user as string,
            hostKey: hostKey as string,
            privateKey: e.privateKey as string | undefined,
        };
    });
}

/**
 * The static inventory kept in a file (YAML or JSON: a list of hosts, or {hosts: [...]}),
 * for fleets too large for stack config: the engine hands the whole config to the
 * program in one environment variable, which Linux caps at 128 KiB (about 850 hosts).
 * Same fields as `hosts` except privateKey: the file is plaintext.
 */
function readInventoryFile(file: string, defaultUser: string, ctx: ParseContext): HostSpec[] {
    if (file === "") {
        return [];
    }
    if (!ctx.readInventory) {
        throw new ConfigError(`${ctx.ns}:inventoryFile is set but nothing can read files here. Fix: pulumi config rm ${ctx.ns}:inventoryFile`);
    }
    let doc: unknown;
    try {
        doc = yaml.load(ctx.readInventory(file), { filename: file });
    } catch (e) {
        if (e instanceof ConfigError) {
            throw e;
        }
        throw new ConfigError(`${ctx.ns}:inventoryFile ${file} is not valid YAML or JSON: ${(e as Error).message.split("\n")[0]}. Fix: correct ${file}`);
    }
    let list = doc;
    if (doc && typeof doc === "object" && !Array.isArray(doc)) {
        checkKeys(doc as Record<string, unknown>, ["hosts"], file);
        list = (doc as Record<string, unknown>).hosts;
    }
    if (list === undefined || list === null) {
        throw new ConfigError(`${ctx.ns}:inventoryFile ${file} lists no hosts. Fix: write hosts: [{name, host, hostKey}, ...] into ${file}`);
    }
    return parseHosts(list, defaultUser, {
        fail: (key, value, why, example) => {
            throw new ConfigError(`${file}: ${key} ${why}; got ${redacted(value)}. Fix: set ${key} to ${example} in ${file}`);
        },
        privateKey: "forbidden",
        label: (key) => `${file}: ${key}`,
        fix: () => `edit ${file}`,
    });
}

function parseHetzner(raw: string | undefined, ns: string, fail: Fail): HetznerSettings | undefined {
    const obj = parseJson(raw, "hetzner", fail);
    if (obj === undefined) {
        return undefined;
    }
    if (!obj || typeof obj !== "object" || Array.isArray(obj)) {
        return fail("hetzner", obj, "must be an object {servers, appPort, sshSourceIps}", "--path 'hetzner.servers[0].name' web-1");
    }
    const h = obj as Record<string, unknown>;
    checkKeys(h, HETZNER_KEYS, `${ns}:hetzner`);
    if (Object.keys(h).length === 0) {
        return undefined; // the schema's default: nothing to provision
    }
    if (!Array.isArray(h.servers) || h.servers.length === 0) {
        return fail("hetzner.servers", h.servers, "must be a non-empty list of servers", "--path 'hetzner.servers[0].name' web-1");
    }
    const servers = h.servers.map((s: unknown, i: number): HetznerServerSpec => {
        const key = `hetzner.servers[${i}]`;
        if (!s || typeof s !== "object") {
            return fail(key, s, "must be an object {name, serverType, location, image}", `--path '${key}.name' web-1`);
        }
        const e = s as Record<string, unknown>;
        checkKeys(e, SERVER_KEYS, `${ns}:${key}`);
        const field = (f: string, dflt: string, pattern: RegExp) => {
            const v = e[f] === undefined ? dflt : e[f];
            if (typeof v !== "string" || !pattern.test(v)) {
                fail(`${key}.${f}`, v, `is not a valid ${f}`, `--path '${key}.${f}' ${dflt || "web-1"}`);
            }
            return v as string;
        };
        return {
            name: field("name", "", /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/),
            serverType: field("serverType", "cx22", /^[a-z0-9-]+$/),
            location: field("location", "nbg1", /^[a-z0-9-]+$/),
            image: field("image", "debian-12", /^[a-z0-9.-]+$/),
        };
    });
    const appPort = h.appPort === undefined ? 8080 : Number(h.appPort);
    if (!Number.isInteger(appPort) || appPort < 1 || appPort > 65535) {
        fail("hetzner.appPort", h.appPort, "must be a TCP port", "--path 'hetzner.appPort' 8080");
    }
    const sshSourceIps = h.sshSourceIps === undefined ? ["0.0.0.0/0", "::/0"] : h.sshSourceIps;
    if (!Array.isArray(sshSourceIps) || sshSourceIps.some((c) => typeof c !== "string" || !/^[0-9a-fA-F.:]+\/\d{1,3}$/.test(c))) {
        fail("hetzner.sshSourceIps", sshSourceIps, "must be a list of CIDRs", `--path 'hetzner.sshSourceIps[0]' 198.51.100.0/24`);
    }
    return { servers, appPort, sshSourceIps: sshSourceIps as string[] };
}
