import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import * as pulumi from "../boot/sdk";
import { parseFleetConfig } from "./config";
import { ConfigError } from "./errors";
import { FleetConfig, RawConfig } from "./types";

// Exported by the SDK's runtime but left out of its typings (marked @internal).
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret: (key: string) => boolean };

/**
 * Reads this project's namespace of the stack config and validates it. Runs before
 * any resource is registered, so bad input stops `pulumi preview` with a message
 * and no host is touched.
 */
export function loadFleetConfig(): FleetConfig {
    const ns = pulumi.getProject();
    const raw: RawConfig = {};
    const secretKeys = new Set<string>();
    for (const [full, value] of Object.entries(pulumi.runtime.allConfig())) {
        if (full.startsWith(`${ns}:`)) {
            const key = full.slice(ns.length + 1);
            raw[key] = value;
            if (isConfigSecret(full)) {
                secretKeys.add(key);
            }
        }
    }
    assertHostKeysEncrypted(ns);
    warnIfConfigNearArgLimit(ns);
    const cfg = parseFleetConfig(raw, { ns, secretKeys, stackName: pulumi.getStack(), readInventory: (file) => readInventory(ns, file) });
    warnIfRoot(ns, cfg);
    return cfg;
}

/** Allowed (a fleet may be run so), but never without a word: root needs no sudo rule to do anything. */
function warnIfRoot(ns: string, cfg: FleetConfig): void {
    const root = cfg.hosts.filter((h) => h.user === "root").map((h) => h.name);
    if (root.length > 0 || (cfg.hetzner && cfg.sshUser === "root")) {
        pulumi.log.warn(
            `${root.length ? root.slice(0, 5).join(", ") + (root.length > 5 ? ", …" : "") : "the provisioned VPSs"} ${root.length === 1 ? "is" : "are"} reached as root: every fleet command then runs as root there, ` +
                `and the service's own user and its sudo rule (systemctl restart/is-active ${cfg.app.service} only) no longer limit it. ` +
                `Fix: pulumi config set ${ns}:sshUser rachel (the user the provisioning creates), or a per-host user.`,
        );
    }
}

/** The inventoryFile's text, the path taken relative to the project directory (the program's cwd). */
function readInventory(ns: string, file: string): string {
    const where = path.resolve(process.cwd(), file);
    try {
        return fs.readFileSync(where, "utf8");
    } catch (e) {
        throw new ConfigError(
            `${ns}:inventoryFile ${JSON.stringify(file)} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)} at ${where}). ` +
                `Fix: pulumi config set ${ns}:inventoryFile <path relative to the project directory>`,
        );
    }
}

/** Linux's limit on one environment string (MAX_ARG_STRLEN); the engine passes all config as one. */
const ENV_STRING_LIMIT = 128 * 1024;

/**
 * Past the limit the engine cannot start this program at all ("fork/exec node: argument
 * list too long", pulumi/pulumi#8680), so the warning comes while there is room left.
 */
function warnIfConfigNearArgLimit(ns: string): void {
    const bytes = Buffer.byteLength(`PULUMI_CONFIG=${JSON.stringify(pulumi.runtime.allConfig())}`);
    if (bytes > 0.75 * ENV_STRING_LIMIT) {
        pulumi.log.warn(
            `the stack config is ${Math.round(bytes / 1024)} KiB; the engine hands it to the program in one environment variable, ` +
                `which Linux caps at 128 KiB, and past that every pulumi command fails with "argument list too long" before this program runs. ` +
                `Move the static inventory into a file: pulumi config set ${ns}:inventoryFile hosts.yaml (see README, "Large fleets").`,
        );
    }
}

/**
 * The engine marks `hosts` secret as a whole when any part of it is, so a per-host
 * privateKey set without --secret next to one set with it would pass unnoticed.
 * The stack file says per value: each hosts[i].privateKey there must be `secure:`.
 */
function assertHostKeysEncrypted(ns: string): void {
    const file = path.join(process.cwd(), `Pulumi.${pulumi.getStack()}.yaml`);
    if (!fs.existsSync(file)) {
        return;
    }
    const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | undefined;
    const hosts = doc?.config?.[`${ns}:hosts`];
    if (!Array.isArray(hosts)) {
        return;
    }
    hosts.forEach((h, i) => {
        const key = h && typeof h === "object" ? (h as Record<string, unknown>).privateKey : undefined;
        if (key !== undefined && !(key && typeof key === "object" && "secure" in (key as object))) {
            throw new ConfigError(
                `${ns}:hosts[${i}].privateKey is stored in plaintext in ${path.basename(file)}; a private key must be a secret. ` +
                    `Fix: pulumi config set --secret --path '${ns}:hosts[${i}].privateKey' < key`,
            );
        }
    });
}
