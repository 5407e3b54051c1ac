// End to end: a one-stack fleet of 20 lab hosts moved to 4 shard stacks with
// `npm run fleet -- split` (pulumi state move) under the real engine, without touching a VPS:
// the fleet's own stack then refuses to run, a preview over the shards shows no change, the
// same stage updates nothing (no service restarted), and the next release goes out per shard.
import * as assert from "assert";
import * as path from "path";
import { spawnSync } from "child_process";
import { LabStatus } from "../../lab/labStatus";
import { REPO_ROOT } from "../../lab/paths";
import { shardOf } from "../../config/shards";
import { hostTruth } from "../lab/hostTruth";
import { TestStack, labStackSuite, runLog } from "./stackHarness";

const TS_NODE = require.resolve("ts-node/dist/bin.js");
const SHARDS = ["solo-s00", "solo-s01", "solo-s02", "solo-s03"];

describe("moving a one-stack fleet to shards without touching a VPS (20-host lab, real engine)", function () {
    this.timeout(1800000);
    let status: LabStatus;
    let t: TestStack;
    const sha = (tag: string) => (status.releases as Record<string, string>)[tag];
    const fleet = (...args: string[]) => {
        const r = spawnSync(process.execPath, [TS_NODE, "--transpile-only", path.join(REPO_ROOT, "operator", "fleetCli.ts"), ...args, "--stack", "solo", "--dir", t.dir], { cwd: REPO_ROOT, env: { ...process.env, ...t.env }, encoding: "utf8" });
        runLog.write(`$ npm run fleet -- ${args.join(" ")}\n${r.stdout}${r.stderr}`);
        return { code: r.status ?? -1, out: r.stdout + r.stderr };
    };
    const pulumi = (...args: string[]) => spawnSync("pulumi", [...args, "--non-interactive"], { cwd: t.dir, env: { ...process.env, ...t.env }, encoding: "utf8" });

    labStackSuite("solo", 20, (st) => ({ targetCommit: st.releases.v2, rolloutPercent: 100 }), (st, ts) => ((status = st), (t = ts)));

    it("splits into 4 shards: each VPS's resources in the shard its name picks; the same stage then changes nothing and restarts no service", async () => {
        const first = await t.stack.up({ onOutput: runLog.write });
        assert.strictEqual(first.outputs.rollout.value.succeeded, 20);
        const before = await Promise.all(status.hosts.map(hostTruth));
        const split = fleet("split", "--shards", "4");
        assert.strictEqual(split.code, 0, split.out);
        assert.match(split.out, /fleet: stack solo now runs as solo-s00, solo-s01, solo-s02, solo-s03; /);
        for (const [i, s] of SHARDS.entries()) {
            const state = JSON.parse(pulumi("stack", "export", "--stack", s).stdout).deployment.resources as { urn: string; type: string }[];
            const vpss = state.filter((r) => r.type === "rachel-fleet:fleet:Vps").map((r) => r.urn.split("::").pop()!).sort();
            assert.deepStrictEqual(vpss, status.hosts.map((h) => h.name).filter((n) => shardOf(n, 4) === i).sort(), `${s}'s VPSs`);
        }
        const left = JSON.parse(pulumi("stack", "export", "--stack", "solo").stdout).deployment.resources as { type: string }[];
        assert.ok(!left.some((r) => r.type.includes("rachel-fleet")), "a VPS's resource stayed in the one stack");
        // The fleet's own stack no longer runs: its VPSs live in the shards.
        const own = pulumi("preview", "--stack", "solo");
        assert.notStrictEqual(own.status, 0);
        assert.match(own.stdout + own.stderr, /rachel-fleet:shards is 4: this fleet runs as the stacks solo-s00 … solo-s03, and stack solo is none of them/);
        const preview = fleet("preview");
        assert.strictEqual(preview.code, 0, preview.out);
        assert.match(preview.out, /would change 0 host\(s\) across 4 shards\n/);
        const same = fleet("up");
        assert.strictEqual(same.code, 0, same.out);
        assert.match(same.out, /release \w{12} at 100% across 4 shards: every host of the stage already runs it; nothing to update\./);
        const after = await Promise.all(status.hosts.map(hostTruth));
        assert.deepStrictEqual(after.map((x) => [x.head, x.pid]), before.map((x) => [x.head, x.pid]), "a VPS was touched by the split");
    });

    it("the next release goes out over the shards, a canary in each, from the same records", async () => {
        const r = fleet("up", "--commit", sha("v3"), "--percent", "10");
        assert.strictEqual(r.code, 0, r.out);
        assert.match(r.out, new RegExp(`release ${sha("v3").slice(0, 12)} at 10% across 4 shards: (\\d+)/\\1 hosts succeeded\\.`));
        for (const s of SHARDS) {
            const fleetOut = JSON.parse(pulumi("stack", "output", "--json", "--stack", s).stdout).fleet as Record<string, { currentVersion: string; previousVersion: string }>;
            const onV3 = Object.entries(fleetOut).filter(([, rec]) => rec.currentVersion === sha("v3"));
            assert.ok(onV3.length >= 1, `${s} has no canary`);
            for (const [name, rec] of onV3) {
                assert.strictEqual(rec.previousVersion, sha("v2"), `${name}'s previous version`);
                assert.strictEqual((await hostTruth(status.hosts.find((h) => h.name === name)!)).head, sha("v3"));
            }
        }
    });
});
