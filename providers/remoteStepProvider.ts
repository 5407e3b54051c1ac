import { SshError, withSsh } from "../lifecycle/ssh";
import { describeError, STEP_INTERRUPTED } from "../lifecycle/hostOps";
import { FleetProviderConfig, readProviderConfig, sshTarget } from "./providerConfig";
import { lineSplitter, sendStatus } from "./engineStatus";
import { STEP_TYPE, StepSpec, VPS_TYPE } from "./types";

/**
 * The fleet's own update step over ssh2 with the pinned host key (stepRunner ssh2), for
 * engines without the command provider plugin. It behaves as remote.Command does for
 * what the program relies on: the command runs on create and on any change of the spec;
 * no command means nothing runs or is dialled; a non-zero exit or a failed connection
 * fails the resource (state keeps the old spec, so the next up runs it again); each
 * output line is shown on the resource's row while it runs. One deliberate difference:
 * a connection that drops while the step runs (the VPS rebooted, the network broke) is
 * recorded, not raised, so the host's version record judges what the VPS did and the
 * engine goes on with the other hosts; the host then ends as rolled back or failed, with
 * the drop as its error.
 */
const OUTPUT_KEPT = 600;
let config: FleetProviderConfig | undefined;

async function runStep(spec: StepSpec): Promise<string> {
    if (spec.command === undefined) {
        return "";
    }
    const urn = config ? `${config.urnPrefix}${VPS_TYPE}$${STEP_TYPE}::${spec.hostName}-update` : "";
    const r = await withSsh(sshTarget(config, spec.endpoint), (exec) =>
        exec(spec.command!, { onStdout: lineSplitter((line) => sendStatus(urn, line)) }),
    ).catch((e) => {
        if (e instanceof SshError && e.kind === "dropped") {
            return { code: 0, stdout: `${STEP_INTERRUPTED}: ${describeError(e)}`, stderr: "" };
        }
        throw new Error(`${spec.hostName}: update step: ${describeError(e)}`);
    });
    if (r.code !== 0) {
        throw new Error(`${spec.hostName}: update step exited ${r.code}: ${(r.stdout + r.stderr).trim().split("\n").slice(-5).join(" ")}`);
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
