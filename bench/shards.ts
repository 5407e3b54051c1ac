// A fleet of unreachable hosts (as the scale rows) split into shard stacks of at most
// `perShard` hosts and driven by npm run fleet: preview, the first creation of every host's
// resources, and a stage that changes every host, with the whole driver's process tree
// sampled for memory, and the state every shard leaves. Also the stage's plan from the
// shards' records (npm run fleet -- plan: no engine).
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { spawnSync } from "child_process";
import { REPO_ROOT } from "../lab/paths";
import { shardStackName } from "../config/shards";
import { unreachableHosts } from "./scale";
import { newStack, stateFigures, timedRun } from "./stacks";

const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

export async function shardedScaling(m: number, perShard: number, results: any) {
    const shards = Math.ceil(m / perShard);
    const parallel = os.cpus().length;
    const s = newStack(`fleet${m}`);
    try {
        fs.writeFileSync(path.join(s.dir, "inventory.yaml"), yaml.dump({ hosts: unreachableHosts(m) }));
        s.configure({ inventoryFile: "inventory.yaml", targetCommit: "1".repeat(40), rolloutPercent: 100, stepRunner: s.runner, connectTimeout: 2, failureThreshold: "1", shards });
        s.setSecret("sshPrivateKey", "-----BEGIN OPENSSH PRIVATE KEY-----\nbench\n-----END OPENSSH PRIVATE KEY-----\n");
        const fleet = (...args: string[]) => timedRun(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", path.join(REPO_ROOT, "operator", "fleetCli.ts"), ...args, "--stack", s.name, "--dir", s.dir], s.dir, s.env);
        const must = async (what: string, run: ReturnType<typeof fleet>) => {
            const r = await run;
            if (r.code !== 0) throw new Error(`npm run fleet ${what} of ${m} hosts in ${shards} shards failed:\n${r.output.slice(-3000)}`);
            return r;
        };
        // The first preview creates and configures the shard stacks too: the second is the operator's.
        await must("preview (first)", fleet("preview"));
        const preview = await must("preview", fleet("preview"));
        const create = await must("up (creation)", fleet("up"));
        // The stage's plan from the shards' records (no engine), as an operator asks before the up.
        const plan = await must("plan", fleet("plan", "--commit", "2".repeat(40)));
        const change = await must("up (a changing stage)", fleet("up", "--commit", "2".repeat(40)));
        let bytes = 0;
        for (let i = 0; i < shards; i++) {
            const exported = spawnSync("pulumi", ["stack", "export", "--stack", shardStackName(s.name, i)], { cwd: s.dir, env: s.env, encoding: "utf8", maxBuffer: 1 << 30 });
            if (exported.status !== 0) throw new Error(`pulumi stack export of shard ${i} failed: ${exported.stderr}`);
            bytes += stateFigures(exported.stdout, 1).stateBytes;
        }
        const row = {
            hosts: m, shards, perShard, shardsParallel: parallel,
            previewSeconds: preview.seconds, previewPeakRssMb: preview.peakRssMb, planSeconds: plan.seconds, planPeakRssMb: plan.peakRssMb,
            createSeconds: create.seconds, createPeakRssMb: create.peakRssMb,
            changeSeconds: change.seconds, changePeakRssMb: change.peakRssMb,
            stateBytes: bytes, bytesPerHost: bytes / m,
        };
        results.sharded.push(row);
        if (!plan.output.includes(`would change ${m} host(s) across ${shards} shards`)) throw new Error(`npm run fleet plan did not list every host:\n${plan.output.slice(0, 3000)}`);
        log(`sharded ${m} hosts as ${shards} shards: preview ${preview.seconds.toFixed(1)}s, plan ${plan.seconds.toFixed(1)}s, creation ${create.seconds.toFixed(1)}s, changing stage ${change.seconds.toFixed(1)}s, ` +
            `peak ${Math.max(preview.peakRssMb, plan.peakRssMb, create.peakRssMb, change.peakRssMb).toFixed(0)}MB, state ${(bytes / m / 1024).toFixed(1)} KiB per host`);
    } finally {
        s.remove();
    }
}
