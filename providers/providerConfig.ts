import { AppSettings } from "../config/config";
import { Endpoint, SshTarget } from "../lifecycle/ssh";

/**
 * What a FleetSshProvider instance is configured with (see runtime.ts), as the dynamic
 * provider process receives it through `configure`.
 */
export interface FleetProviderConfig {
    privateKey: string;
    app: AppSettings;
    /** `urn:pulumi:<stack>::<project>::`, for status lines about a resource. */
    urnPrefix: string;
}

/** Provider config key holding the SSH private key (namespaced so the dynamic provider's Config finds it as is). */
export const PRIVATE_KEY_CONFIG = "rachel-fleet:privateKey";
export const APP_CONFIG = "rachel-fleet:app";
export const URN_PREFIX_CONFIG = "rachel-fleet:urnPrefix";

interface ConfigureRequest {
    config: { get(key: string): unknown };
}

const asObject = <T>(v: unknown): T => (typeof v === "string" ? JSON.parse(v) : v) as T;

/** Reads the provider's config; a provider without a key can still read nothing over SSH, and says so when asked to. */
export function readProviderConfig(req: ConfigureRequest): FleetProviderConfig {
    return {
        privateKey: String(req.config.get(PRIVATE_KEY_CONFIG) ?? ""),
        app: asObject<AppSettings>(req.config.get(APP_CONFIG)),
        urnPrefix: String(req.config.get(URN_PREFIX_CONFIG) ?? ""),
    };
}

export function sshTarget(cfg: FleetProviderConfig | undefined, endpoint: Endpoint): SshTarget {
    if (!cfg?.privateKey) {
        throw new Error(`${endpoint.user}@${endpoint.host}:${endpoint.port}: this resource's provider has no SSH key configured (state written by an older rachel-fleet?); run pulumi up once to configure it`);
    }
    return { ...endpoint, privateKey: cfg.privateKey };
}
