import { VPS_TYPE } from "../config/resourceTypes";
import { shardOf, shardStackName } from "../config/shards";
import { Fleet, shardCount, shardStacks, syncShardConfig } from "./shardSet";
import { OperatorError, plainConfig, pulumiCliAsync } from "./stackAccess";
import { CONFIG_NS } from "../config/types";

/**
 * Moves a one-stack fleet to shard stacks without touching a VPS: each VPS's resources (its
 * component and what it holds) move with `pulumi state move` into the shard its name picks,
 * and the fleet's stack says where they came from (`splitFrom`), so each shard's first run
 * starts from that stack's record of its VPSs: same versions, same attempts, same stack id,
 * nothing to update. Run again after an interruption, it moves what is left.
 */

const NS = CONFIG_NS;

interface StateResource { urn: string; type: string; parent?: string }

export async function splitFleet(f: Fleet, shards: number, say: (line: string) => void): Promise<void> {
    const ref = { stack: f.stack, dir: f.dir, env: f.env };
    if (!Number.isInteger(shards) || shards < 2 || shards > 1000) throw new OperatorError(`--shards must be a whole number from 2 to 1000 (got ${shards})`);
    const now = await shardCount(f);
    const splitFrom = (await plainConfig(ref))[`${NS}:splitFrom`];
    if (now !== 1 && !(now === shards && splitFrom === f.stack)) {
        throw new OperatorError(`stack ${f.stack} is already split into ${now} shards; splitting it again (resharding) moves VPSs between shards and is not supported`);
    }
    const state = (JSON.parse(await pulumiCliAsync(["stack", "export"], ref)).deployment?.resources ?? []) as StateResource[];
    if (state.some((r) => r.type.startsWith("rachel-fleet:hetzner:"))) {
        throw new OperatorError(`stack ${f.stack} provisions VPSs on Hetzner: they share one login key and provider, which cannot be in several stacks; splitting such a fleet is not supported yet (split the static inventory into its own stack first)`);
    }
    const byShard = resourcesByShard(state, shards);
    await pulumiCliAsync(["config", "set", `${NS}:shards`, String(shards)], ref);
    await pulumiCliAsync(["config", "set", `${NS}:splitFrom`, f.stack], ref);
    const stacks = await shardStacks(f);
    await syncShardConfig(f, stacks);
    for (const [i, urns] of byShard.entries()) {
        const dest = shardStackName(f.stack, i);
        if (urns.vpss === 0) {
            say(`${dest}: nothing left to move`);
            continue;
        }
        await pulumiCliAsync(["state", "move", "--source", f.stack, "--dest", dest, "--yes", ...urns.urns], { dir: f.dir, env: f.env });
        say(`${dest}: moved ${urns.vpss} VPS(s), ${urns.urns.length} resources`);
    }
    say(`stack ${f.stack} now runs as ${stacks.map((s) => s.name).join(", ")}; npm run fleet -- preview --stack ${f.stack} should show no change`);
}

/** Each VPS's component and everything under it, grouped by the shard its name picks. */
function resourcesByShard(state: StateResource[], shards: number): { vpss: number; urns: string[] }[] {
    const out = Array.from({ length: shards }, () => ({ vpss: 0, urns: [] as string[] }));
    const under = (urn: string): string[] => state.filter((r) => r.parent === urn).flatMap((r) => [r.urn, ...under(r.urn)]);
    for (const vps of state.filter((r) => r.type === VPS_TYPE)) {
        const name = vps.urn.split("::").pop()!;
        const group = out[shardOf(name, shards)];
        group.vpss++;
        group.urns.push(vps.urn, ...under(vps.urn));
    }
    return out;
}
