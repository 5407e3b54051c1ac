/**
 * The type tokens of the program's resources as they appear in a stack's state and the
 * engine's events: one place for the program that creates them and for the operator tools,
 * the bench and the tests that find them again.
 */

/** A VPS's component (components/fleetVps.ts). */
export const VPS_TYPE = "rachel-fleet:fleet:Vps";
/** Its update step with stepRunner ssh2 (providers/remoteStepProvider.ts). */
export const STEP_TYPE = "pulumi-nodejs:dynamic/rachel-fleet:RemoteStep";
/** Its version record (providers/versionProvider.ts). */
export const VERSION_TYPE = "pulumi-nodejs:dynamic/rachel-fleet:VpsVersion";
