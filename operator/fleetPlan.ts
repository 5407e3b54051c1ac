import { DEFAULTS, FleetHalt } from "../config/config";
import { mapLimit } from "../fleet/pool";
import { assertBaked } from "../stages/gate";
import { ledgerFromOutputs } from "../stages/ledger";
import { RolloutRefused, planStage } from "../stages/plan";
import { Fleet, ShardStack, configuredMembers, fleetHaltIn, provisionedNames, shardOutputs } from "./shardSet";
import { plainConfig } from "./stackAccess";
import { CONFIG_NS } from "../config/types";

/**
 * What a stage would do over a sharded fleet, read from each shard's record (its `fleet`
 * and `rollout` outputs) and the fleet's stack config, decided by the program's own plan
 * (stages/plan.ts: cohort, holds, the halts) and bake gate. No engine runs and no VPS is
 * read: seconds for 10,000 hosts where the engine's preview of every shard takes minutes.
 * What only the engine's preview sees: the re-check of the hosts already on the release
 * (over SSH), drift, and changes of the subscribers' environments (secrets, not read here).
 */

const NS = CONFIG_NS;

export interface ShardPlan {
    name: string;
    /** The shard's VPSs the stage would update, in rollout order. */
    hosts: string[];
    /** The sentence the shard's program would refuse the stage with. */
    refused?: string;
}

export interface Stage { targetCommit: string; rolloutPercent: number }

export async function planFleetStage(f: Fleet, shards: ShardStack[], stage: Stage, parallel: number, now = Date.now()): Promise<ShardPlan[]> {
    const c = await plainConfig({ stack: f.stack, dir: f.dir, env: f.env });
    const members = await configuredMembers(f, shards.length);
    // A fleet whose hosts are all in secret config lists none here: its shards' records do.
    const listed = members.some((m) => m.length > 0);
    const rules = {
        overrideHalt: c[`${NS}:overrideHalt`] === "true",
        bakeSeconds: Number(c[`${NS}:bakeSeconds`] ?? DEFAULTS.bakeSeconds),
        fleetHalt: fleetHaltIn(c),
        provisioned: provisionedNames(c),
    };
    return mapLimit(shards, parallel, async (s, i) => {
        const out = await shardOutputs(s);
        return planShard(s.name, ledgerFromOutputs(out.fleet, out.rollout), listed ? members[i] : undefined, stage, rules, now);
    });
}

export function planShard(
    name: string,
    ledger: ReturnType<typeof ledgerFromOutputs>,
    members: string[] | undefined,
    stage: Stage,
    rules: { overrideHalt: boolean; bakeSeconds: number; fleetHalt?: FleetHalt; provisioned?: string[] },
    now: number,
): ShardPlan {
    const input = { hostNames: members ?? Object.keys(ledger.hosts), target: stage.targetCommit, percent: stage.rolloutPercent, ledger, overrideHalt: rules.overrideHalt, fleetHalt: rules.fleetHalt, provisioned: rules.provisioned };
    try {
        assertBaked({ ledger, release: input.target, percent: input.percent, bakeSeconds: rules.bakeSeconds, now });
        const plan = planStage(input);
        return { name, hosts: plan.order.filter((n) => plan.hosts[n].mode !== "untracked" && plan.hosts[n].fresh) };
    } catch (e) {
        if (e instanceof RolloutRefused) return { name, hosts: [], refused: e.message };
        throw e;
    }
}
