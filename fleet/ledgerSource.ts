import * as pulumi from "../boot/sdk";
import { Ledger, ledgerFromOutputs } from "../stages/ledger";

/**
 * Reads what the previous `pulumi up` of this very stack exported (`fleet`, `rollout` and
 * `stackId`, and the secret `envDigests`): the program's memory between stages. Reading our own stack's outputs
 * goes through the backend, before any host is touched.
 */
export async function readLedger(): Promise<Ledger> {
    const self = new pulumi.StackReference("ledger", {
        name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`,
    });
    const [fleet, rollout, stackId, envDigests] = await Promise.all(["fleet", "rollout", "stackId", "envDigests"].map((k) => self.getOutputDetails(k)));
    return ledgerFromOutputs(fleet.value ?? fleet.secretValue, rollout.value ?? rollout.secretValue, stackId.value, envDigests.secretValue ?? envDigests.value);
}
