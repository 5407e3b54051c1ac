import * as yaml from "js-yaml";
import { ConfigError, Fail, redacted } from "./errors";
import { parseEnv } from "./env";
import { checkKeys, parseJson } from "./structured";
import { HostSpec, ParseContext } from "./types";

const HOST_KEYS = ["name", "host", "port", "user", "hostKey", "privateKey", "env"];

/** Where a list of hosts came from: stack config or an inventory file, each with its own wording of a fix. */
interface HostSource {
    fail: Fail;
    /** secret: per-host keys allowed (config marked secret); plaintext: refused as unencrypted; forbidden: an inventory file. */
    privateKey: "secret" | "plaintext" | "forbidden";
    /** Whether hosts may carry their own env here (not in a plaintext inventory file). */
    env: boolean;
    label: (key: string) => string;
    fix: (key: string) => string;
}

/** The static inventory in stack config (`hosts`); `fail` words the fix for a top-level key. */
export function parseConfigHosts(raw: string | undefined, defaultUser: string, ctx: ParseContext, fail: Fail): HostSpec[] {
    const ns = ctx.ns;
    return parseHosts(parseJson(raw, "hosts", fail), defaultUser, {
        fail: (key, value, why, example) => {
            throw new ConfigError(`${ns}:${key} ${why}; got ${redacted(value)}. Fix: pulumi config set --path '${ns}:${key}' ${example}`);
        },
        privateKey: ctx.secretKeys.has("hosts") ? "secret" : "plaintext",
        env: true,
        label: (key) => `${ns}:${key}`,
        fix: (key) => `pulumi config set --secret --path '${ns}:${key}' < key`,
    });
}

/**
 * The static inventory kept in a file (YAML or JSON: a list of hosts, or {hosts: [...]}),
 * for fleets too large for stack config: the engine hands the whole config to the
 * program in one environment variable, which Linux caps at 128 KiB (about 850 hosts).
 * Same fields as `hosts` except privateKey: the file is plaintext.
 */
export function readInventoryFile(file: string, defaultUser: string, ctx: ParseContext): HostSpec[] {
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
        env: false,
        label: (key) => `${file}: ${key}`,
        fix: () => `edit ${file}`,
    });
}

function parseHosts(list: unknown, defaultUser: string, src: HostSource): HostSpec[] {
    if (list === undefined) {
        return [];
    }
    if (!Array.isArray(list)) {
        return src.fail("hosts", list, "must be a list of hosts", "[{name: web-1, host: 203.0.113.7, hostKey: ...}]");
    }
    return list.map((entry, i) => parseHost(entry, `hosts[${i}]`, defaultUser, src));
}

function parseHost(entry: unknown, key: string, defaultUser: string, src: HostSource): HostSpec {
    const fail = src.fail;
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
    checkHostPrivateKey(e.privateKey, `${key}.privateKey`, src);
    if (e.env !== undefined && !src.env) {
        throw new ConfigError(
            `${src.label(`${key}.env`)}: an inventory file is plaintext and may not hold a subscriber's env. ` +
                `Fix: remove it there and set it in stack config: pulumi config set --secret --path '<project>:hosts[<i>].env.<NAME>' <value> (that host listed in hosts)`,
        );
    }
    const env = parseEnv(e.env, src.label(`${key}.env`), (n) => `pulumi config set --secret --path '${src.label(`${key}.env.${n}`)}' <value>`);
    return {
        name: name as string,
        host: host as string,
        port,
        user: user as string,
        hostKey: hostKey as string,
        privateKey: e.privateKey as string | undefined,
        ...(Object.keys(env).length > 0 ? { env } : {}),
    };
}

/** A per-host key is only accepted where it is stored encrypted, and is never echoed back. */
function checkHostPrivateKey(privateKey: unknown, key: string, src: HostSource): void {
    if (privateKey === undefined) {
        return;
    }
    if (src.privateKey === "forbidden") {
        throw new ConfigError(
            `${src.label(key)}: an inventory file is plaintext and may not hold a private key. ` +
                `Fix: remove it there and use the fleet key (pulumi config set --secret sshPrivateKey < key) or list this host in hosts with a secret privateKey`,
        );
    }
    if (src.privateKey === "plaintext") {
        throw new ConfigError(`${src.label(key)} is stored in plaintext; a private key must be a secret. Fix: ${src.fix(key)}`);
    }
    if (typeof privateKey !== "string" || !privateKey.includes("PRIVATE KEY")) {
        throw new ConfigError(`${src.label(key)} is not a private key (PEM or OpenSSH). Fix: ${src.fix(key)}`);
    }
}
