import { SshError, withSsh } from "../lifecycle/ssh";
import { describeError, STEP_INTERRUPTED } from "../lifecycle/hostOps";
import { FleetProviderConfig, readProviderConfig, sshTarget } from "./providerConfig";
import { lineSplitter, sendStatus } from "./engineStatus";
import { STEP_TYPE, VPS_TYPE } from "../config/resourceTypes";
import { StepSpec } from "./types";

/**
 * The fleet's own update step over ssh2 with the pinned host key (stepRunner ssh2), for
 * engines without the command provider plugin. It behaves as remote.Command does for
 * what the program relies on: the command runs on create and on any change of the spec;
 * no command means nothing runs or is dialled; each output line is shown on the
 * resource's row while it runs. One deliberate difference: the step never fails its
 * resource. A connection that cannot be made or drops while the step runs (the VPS
 * rebooted or went away, the network broke) and a non-zero exit are recorded in its
 * output, so the host's version record judges what the VPS did (waiting a while for one
 * that is rebooting) and the engine goes on with the other hosts and writes the stage's
 * verdict; the host then ends as rolled back or failed, with the cause as its error.
 */
const OUTPUT_KEPT = 600;
const NOT_RUN = "the update step could not reach the VPS";
let config: FleetProviderConfig | undefined;

async function runStep(spec: StepSpec): Promise<string> {
    if (spec.command === undefined) {
        return "";
    }
    const urn = config ? `${config.urnPrefix}${VPS_TYPE}$${STEP_TYPE}::${spec.hostName}-update` : "";
    // Kept open a moment: the version record's judgement, next, runs over it.
    const r = await withSsh(sshTarget(config, spec.endpoint), (exec) =>
        exec(spec.command!, { onStdout: lineSplitter((line) => sendStatus(urn, line)) }), { keep: true },
    ).catch((e) => ({ code: 0, stdout: `${e instanceof SshError && e.kind === "dropped" ? STEP_INTERRUPTED : NOT_RUN}: ${describeError(e)}`, stderr: "" }));
    if (r.code !== 0) {
        // Recorded, not raised: the version record judges what the VPS did and says why.
        return `${spec.hostName}: update step exited ${r.code}: ${(r.stdout + r.stderr).trim().split("\n").slice(-5).join(" ")}`.slice(-OUTPUT_KEPT);
    }
    return r.stdout.trim().slice(-OUTPUT_KEPT);
}

export const provider = {
    async configure(req: { config: { get(key: string): unknown } }) {
        config = readProviderConfig(req);
    },
    async create(inputs: { spec: StepSpec }) {
        return { id: `${inputs.spec.hostName}-update`, outs: { spec: inputs.spec, stdout: await runStep(inputs.spec) } };
    },
    async update(_id: string, _olds: unknown, news: { spec: StepSpec }) {
        return { outs: { spec: news.spec, stdout: await runStep(news.spec) } };
    },
};
