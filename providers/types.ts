import { Endpoint } from "../lifecycle/ssh";
import { HostRecord } from "../stages/ledger";

/**
 * The inputs of the fleet's dynamic resources. Each is one object, `spec`, stored as is
 * in inputs and outputs: `read` hands it back unchanged, any change of it is an update
 * (no provider diff, no list of field names to keep in step with these interfaces), and
 * a held host ignores exactly `spec`.
 */

/** One VPS's update step, as the fleet's own step resource runs it (stepRunner ssh2). */
export interface StepSpec {
    hostName: string;
    endpoint: Endpoint;
    /** The update command (lifecycle/script.ts); absent when the VPS could not be reached, so nothing dials it. */
    command?: string;
}

/** One VPS's attempt, as the version record judges it and reads it back. */
export interface VersionSpec {
    hostName: string;
    endpoint: Endpoint;
    commit: string;
    attempt: number;
    /** The attempt's name on the VPS (lifecycle/script.ts attemptIdFor), this stack's own. */
    attemptId: string;
    healthUrl: string;
    /** From the program's reading just before the update: false when nothing ran on the VPS. */
    reachable: boolean;
    /** Why the VPS could not be reached, as a sentence. */
    unreachableReason: string;
}

/** The version record's outputs: its spec and the VPS's version fields. */
export type VersionState = { spec: VersionSpec; serviceState: string; /** The update marker as `refresh` found it (JSON), when present. */ marker?: string } & Omit<HostRecord, "attempt" | "managed">;
