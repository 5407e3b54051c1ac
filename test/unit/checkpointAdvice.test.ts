import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { labConfig, runProgram } from "./mockFleet";

/** The program advises PULUMI_SKIP_CHECKPOINTS when a stage changes enough hosts for checkpoint writes to dominate. */
async function warningsFor(hosts: number, percent: number, skip?: string): Promise<string[]> {
    const warnings: string[] = [];
    const warn = pulumi.log.warn;
    const saved = process.env.PULUMI_SKIP_CHECKPOINTS;
    (pulumi.log as any).warn = (msg: string) => warnings.push(msg);
    if (skip === undefined) {
        delete process.env.PULUMI_SKIP_CHECKPOINTS;
    } else {
        process.env.PULUMI_SKIP_CHECKPOINTS = skip;
    }
    try {
        await runProgram(labConfig(hosts, { rolloutPercent: String(percent) }));
    } finally {
        (pulumi.log as any).warn = warn;
        if (saved === undefined) {
            delete process.env.PULUMI_SKIP_CHECKPOINTS;
        } else {
            process.env.PULUMI_SKIP_CHECKPOINTS = saved;
        }
    }
    return warnings.filter((w) => w.includes("PULUMI_SKIP_CHECKPOINTS"));
}

describe("checkpoint advice", () => {
    it("advises skipping checkpoints from 20 changing hosts on, naming how many change", async () => {
        const w = await warningsFor(20, 100);
        assert.strictEqual(w.length, 1, `expected one advice, got ${JSON.stringify(w)}`);
        assert.match(w[0], /^20 hosts change in this stage/);
    });

    it("stays quiet for a small stage, or when the variable is already set", async () => {
        assert.deepStrictEqual(await warningsFor(20, 50), []);
        assert.deepStrictEqual(await warningsFor(20, 100, "true"), []);
    });
});
