import * as pulumi from "../boot/sdk";
import { Ledger, ledgerFromOutputs } from "../stages/ledger";

/**
 * Reads what the previous `pulumi up` of this very stack exported (`fleet`, `rollout` and
 * `stackId`, and the secret `envDigests`): the program's memory between stages. Reading our own stack's outputs
 * goes through the backend, before any host is touched.
 */
export async function readLedger(split?: { from: string; members: readonly string[] }): Promise<Ledger> {
    const own = await ledgerOf("ledger", pulumi.getStack());
    if (!split || own.stackId || Object.keys(own.hosts).length) return own;
    // A shard split off a one-stack fleet (npm run fleet -- split) has that stack's resources
    // for its VPSs but no record of its own yet: it starts from that stack's record of them
    // (versions, attempts, stack id), so nothing is updated again.
    return onlyMembers(await ledgerOf("split-ledger", split.from), split.members);
}

async function ledgerOf(name: string, stack: string): Promise<Ledger> {
    const ref = new pulumi.StackReference(name, { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${stack}` });
    const [fleet, rollout, stackId, envDigests] = await Promise.all(["fleet", "rollout", "stackId", "envDigests"].map((k) => ref.getOutputDetails(k)));
    return ledgerFromOutputs(fleet.value ?? fleet.secretValue, rollout.value ?? rollout.secretValue, stackId.value, envDigests.secretValue ?? envDigests.value);
}

function onlyMembers(l: Ledger, members: readonly string[]): Ledger {
    const keep = <T>(r: Record<string, T> | undefined) => r && Object.fromEntries(Object.entries(r).filter(([n]) => members.includes(n)));
    return { ...l, hosts: keep(l.hosts)!, ...(l.envDigests ? { envDigests: keep(l.envDigests) } : {}) };
}
