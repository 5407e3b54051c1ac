import * as pulumi from "../boot/sdk";
import { AppSettings } from "../config/config";
import { APP_CONFIG, PRIVATE_KEY_CONFIG, URN_PREFIX_CONFIG } from "./providerConfig";

/** The kinds of dynamic resource rachel-fleet registers; each names its logic in providers/load.js. */
export type DynamicKind = "VpsVersion" | "RemoteStep" | "SshKeyPair";

/**
 * The serialized provider a dynamic resource carries in state: one line that loads the
 * logic from the project the engine runs (the plugin's working directory, or
 * RACHEL_FLEET_ROOT for inline Automation API programs). The SDK's closure serializer
 * would instead freeze a copy of the logic and every module it touches into each
 * resource (9-50 KiB apiece), and a held host would keep running that old copy.
 */
export function providerShim(kind: DynamicKind): string {
    return `exports.handler = () => require(require("path").resolve(process.env.RACHEL_FLEET_ROOT || "", "providers/load.js"))(${JSON.stringify(kind)});`;
}

/** A dynamic resource whose provider is loaded at run time (see providerShim). */
export abstract class RuntimeDynamicResource extends pulumi.CustomResource {
    protected constructor(kind: DynamicKind, name: string, props: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
        super(`pulumi-nodejs:dynamic/rachel-fleet:${kind}`, name, { ...props, __provider: providerShim(kind) }, opts);
    }
}

/**
 * An instance of the dynamic provider configured with one SSH private key (a secret) and
 * the app settings. The fleet's dynamic resources use it, so the key and the settings are
 * stored once in state, not in every resource; rotating the key or changing a setting
 * updates this provider in place (the engine does not replace a provider whose config
 * diff is unknown) and touches no host.
 */
export class FleetSshProvider extends pulumi.ProviderResource {
    constructor(name: string, privateKey: pulumi.Input<string>, app: AppSettings, opts?: pulumi.ResourceOptions) {
        super("pulumi-nodejs", name, {
            [PRIVATE_KEY_CONFIG]: pulumi.secret(privateKey),
            [APP_CONFIG]: JSON.stringify(app),
            [URN_PREFIX_CONFIG]: `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::`,
        }, opts);
    }
}
