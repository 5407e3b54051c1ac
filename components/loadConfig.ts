import * as pulumi from "@pulumi/pulumi";
import { FleetConfig, RawConfig, parseFleetConfig } from "./config";

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
    return parseFleetConfig(raw, { ns, secretKeys });
}
