/**
 * The parts of @pulumi/pulumi the program and its providers use, loaded module by module.
 * The SDK's index also loads its Automation API and closure serializer (npm's arborist,
 * pacote, sigstore: some 400 modules, ~0.4 s of CPU) that nothing here calls; every
 * `pulumi preview` and `up` paid for them before the first host was touched. The types
 * and classes are the SDK's own, so code importing "@pulumi/pulumi" (tests, the
 * Automation API in the console) mixes freely with this.
 */
import { allConfig } from "@pulumi/pulumi/runtime/config";
import { isDryRun } from "@pulumi/pulumi/runtime/settings";

export * from "@pulumi/pulumi/errors";
export * from "@pulumi/pulumi/metadata";
export * from "@pulumi/pulumi/output";
export * from "@pulumi/pulumi/resource";
export * from "@pulumi/pulumi/stackReference";
export * as log from "@pulumi/pulumi/log";
export const runtime = { allConfig, isDryRun };
