import * as pulumi from "@pulumi/pulumi";
import { Ledger, ledgerFromOutputs } from "../stages/ledger";

/**
 * Reads what the previous `pulumi up` of this very stack exported (`fleet` and
 * `rollout`): the program's memory between stages. Reading our own stack's outputs
 * goes through the backend, before any host is touched.
 */
export async function readLedger(): Promise<Ledger> {
    const self = new pulumi.StackReference("ledger", {
        name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`,
    });
    const [fleet, rollout] = await Promise.all([self.getOutputDetails("fleet"), self.getOutputDetails("rollout")]);
    return ledgerFromOutputs(fleet.value ?? fleet.secretValue, rollout.value ?? rollout.secretValue);
}
