import { createHash } from "crypto";
import { ConfigError } from "./errors";

/**
 * A fleet split into shard stacks of this project: `prod` with `shards: 4` runs as the stacks
 * prod-s00 … prod-s03, each an ordinary stack of this program holding the VPSs whose name
 * hashes to it. One stack checkpoints its whole state after every resource step, so a stage's
 * cost grows with the square of its size; shards keep each stack small (README, "Shards").
 */

/** The shard a VPS belongs to: a hash of its name alone, so adding or removing VPSs never moves another. */
export function shardOf(name: string, shards: number): number {
    return createHash("sha256").update(name).digest().readUInt32BE(0) % shards;
}

/** The name of a fleet's shard stack: prod, 3 → prod-s03. */
export function shardStackName(fleetStack: string, index: number): string {
    return `${fleetStack}-s${String(index).padStart(2, "0")}`;
}

/** What a stack is of a sharded fleet: its fleet's stack name and its index. */
export interface ShardOfStack {
    fleetStack: string;
    index: number;
    shards: number;
}

/**
 * The shard a stack runs, from its name (`<fleet>-sNN`); undefined when the fleet has one
 * stack. A stack of a sharded fleet that is none of its shards is refused: it would hold every
 * VPS beside the shards that hold them too.
 */
export function shardOfStack(stackName: string, shards: number, ns: string): ShardOfStack | undefined {
    if (shards === 1) return undefined;
    const m = /^(.+)-s(\d{2,})$/.exec(stackName);
    if (!m || Number(m[2]) >= shards) {
        const fleet = m ? m[1] : stackName;
        throw new ConfigError(
            `${ns}:shards is ${shards}: this fleet runs as the stacks ${shardStackName(fleet, 0)} … ${shardStackName(fleet, shards - 1)}, and stack ${stackName} is none of them. ` +
                `Fix: npm run fleet -- up --stack ${fleet} (it drives every shard), or pulumi up --stack ${shardStackName(fleet, 0)}; to keep one stack: pulumi config rm ${ns}:shards`,
        );
    }
    return { fleetStack: m[1], index: Number(m[2]), shards };
}

/** The members of one shard, in the order given. */
export function inShard<T extends { name: string }>(members: T[], shard: ShardOfStack | undefined): T[] {
    return shard ? members.filter((m) => shardOf(m.name, shard.shards) === shard.index) : members;
}
