import { parseEnv } from "./env";
import { Fail } from "./errors";
import { checkKeys, parseJson } from "./structured";
import { HetznerServerSpec, HetznerSettings } from "./types";

const SERVER_KEYS = ["name", "serverType", "location", "image", "env"];
const HETZNER_KEYS = ["servers", "appPort", "sshSourceIps"];

/** The VPSs to provision (`hetzner`); undefined when there are none. */
export function parseHetzner(raw: string | undefined, ns: string, fail: Fail): HetznerSettings | undefined {
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
    const servers = h.servers.map((s: unknown, i: number) => parseServer(s, `hetzner.servers[${i}]`, ns, fail));
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

function parseServer(s: unknown, key: string, ns: string, fail: Fail): HetznerServerSpec {
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
    const env = parseEnv(e.env, `${ns}:${key}.env`, (n) => `pulumi config set --secret --path '${ns}:${key}.env.${n}' <value>`);
    return {
        name: field("name", "", /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/),
        serverType: field("serverType", "cx22", /^[a-z0-9-]+$/),
        location: field("location", "nbg1", /^[a-z0-9-]+$/),
        image: field("image", "debian-12", /^[a-z0-9.-]+$/),
        ...(Object.keys(env).length > 0 ? { env } : {}),
    };
}
