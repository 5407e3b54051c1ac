import * as pulumi from "@pulumi/pulumi";
import { describeVerdict } from "../stages/verdict";
import { RolloutSummary } from "../stages/ledger";

/**
 * The stage's verdict as the last resource of the deployment. When the stage's
 * failure rate is above the threshold it fails, so `pulumi up` exits non-zero
 * naming the failed hosts and the rate; it runs only after every cohort host has
 * been attempted, so one failure never keeps another host from being tried.
 */
function judge(inputs: { summary: RolloutSummary }) {
    if (inputs.summary.halted) {
        throw new Error(describeVerdict(inputs.summary));
    }
    return inputs;
}

export const gateProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: { summary: RolloutSummary }) {
        return { id: "rollout-gate", outs: judge(inputs) };
    },
    async update(_id: string, _olds: unknown, news: { summary: RolloutSummary }) {
        return { outs: judge(news) };
    },
};

export class RolloutGate extends pulumi.dynamic.Resource {
    constructor(name: string, summary: pulumi.Input<RolloutSummary>, opts?: pulumi.CustomResourceOptions) {
        super(gateProvider, name, { summary }, opts, "rachel-fleet", "RolloutGate");
    }
}
