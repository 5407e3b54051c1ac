import * as pulumi from "@pulumi/pulumi";
import * as sshSession from "../lifecycle/ssh";
import { SshTarget } from "../lifecycle/ssh";

/**
 * One update step run over the fleet's own SSH client (ssh2, pinned host key), for
 * engines without the command provider plugin (`stepRunner: ssh2`). It mirrors
 * remote.Command's semantics for what the program relies on: the command runs on
 * create and when the attempt changes; no command means nothing runs or is dialled;
 * a non-zero exit or a dropped connection fails the resource, so state keeps the
 * old command and the next `up` runs it again.
 */
export interface StepInputs {
    hostName: string;
    step: string;
    target: SshTarget;
    command?: string;
    /** The attempt id: the step runs again only when it changes (remote.Command's trigger). */
    runKey: string;
}

async function runStep(inputs: StepInputs) {
    let stdout = "";
    let stderr = "";
    if (inputs.command !== undefined) {
        const r = await sshSession.withSsh(inputs.target, (exec) => exec(inputs.command!));
        if (r.code !== 0) {
            throw new Error(`${inputs.hostName} ${inputs.step}: exit ${r.code}: ${(r.stdout + r.stderr).trim().split("\n").slice(-5).join(" ")}`);
        }
        ({ stdout, stderr } = r);
    }
    return { ...inputs, stdout, stderr };
}

const stepProvider: pulumi.dynamic.ResourceProvider<StepInputs, StepInputs & { stdout: string; stderr: string }> = {
    async diff(_id, olds, news) {
        // Like remote.Command with `triggers: [attemptId]` and a no-op `update`: only a new
        // attempt (or a new address) runs the step again.
        return { changes: olds.runKey !== news.runKey || olds.target.host !== news.target.host || olds.target.port !== news.target.port };
    },
    async create(inputs) {
        return { id: `${inputs.hostName}-${inputs.step}`, outs: await runStep(inputs) };
    },
    async update(_id, _olds, news) {
        return { outs: await runStep(news) };
    },
};

export class RemoteStep extends pulumi.dynamic.Resource {
    declare readonly stdout: pulumi.Output<string>;

    constructor(name: string, args: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
        super(stepProvider, name, { ...args, stdout: undefined, stderr: undefined },
            { ...opts, additionalSecretOutputs: ["target"] }, "rachel-fleet", "RemoteStep");
    }
}
