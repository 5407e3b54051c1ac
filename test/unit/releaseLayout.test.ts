// The keys and messages that come with release directories: their config, the defaults
// Pulumi.yaml documents, and what the next up says about a run a kill left behind.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { DEFAULTS, KNOWN_KEYS } from "../../config/config";
import { unfinishedRun } from "../../fleet/deploy";
import { labConfig, runProgram } from "./mockFleet";

describe("release directories: config and operator messages", () => {
    it("Pulumi.yaml documents every default the program uses, the same value, and every key the program knows", () => {
        const schema = (yaml.load(fs.readFileSync(path.join(__dirname, "../../Pulumi.yaml"), "utf8")) as any).config;
        for (const [key, value] of Object.entries(DEFAULTS)) {
            assert.strictEqual(String(schema[key]?.default), String(value), `Pulumi.yaml's default for ${key}`);
            // Numbers are declared as strings: Pulumi's own type check would refuse 10.5 or "abc"
            // before the program could name the value and the fix.
            assert.strictEqual(schema[key]?.type, typeof value === "boolean" ? "boolean" : "string", `the type of ${key}`);
        }
        assert.strictEqual(schema.rolloutPercent.type, "string");
        assert.deepStrictEqual(Object.keys(schema).sort(), [...KNOWN_KEYS].sort(), "a key the program reads and Pulumi.yaml does not declare (or the reverse)");
    });

    it("Pulumi.dev.yaml is the lab's stack: its salt for the lab-only passphrase said so, every key one the program knows", () => {
        const text = fs.readFileSync(path.join(__dirname, "../../Pulumi.dev.yaml"), "utf8");
        assert.match(text, /lab-only passphrase\s+(#\s*)?"rachel-fleet-lab"/);
        assert.match(text, /never use it, or this stack, for real VPSs/);
        const doc = yaml.load(text) as { encryptionsalt?: string; config: Record<string, unknown> };
        assert.match(String(doc.encryptionsalt), /^v1:/);
        for (const k of Object.keys(doc.config)) assert.ok(KNOWN_KEYS.includes(k.replace(/^rachel-fleet:/, "")), `Pulumi.dev.yaml sets ${k}, which the program does not know`);
        assert.match(fs.readFileSync(path.join(__dirname, "../../scripts/demo.ts"), "utf8"), /copyFileSync\(path\.join\(REPO_ROOT, "Pulumi\.dev\.yaml"\)/, "the demo must copy Pulumi.dev.yaml, never write the checkout's");
    });

    it("refuses keepReleases below 2 (the current and the previous release are always kept) and a bad prepareParallel, naming the fix", async () => {
        for (const [key, value, why] of [["keepReleases", "1", "from 2 to 100"], ["prepareParallel", "-3", "from 0 to 4000"], ["prepareParallel", "many", "whole number"]]) {
            await assert.rejects(runProgram(labConfig(2, { [key]: value })), (e: Error) => {
                assert.ok(e.message.includes(`rachel-fleet:${key}`) && e.message.includes(why) && e.message.includes(`Fix: pulumi config set rachel-fleet:${key}`), e.message);
                return true;
            });
        }
    });

    it("names a run a kill left unfinished, and whether this up resumes it or runs its own", () => {
        const marker = JSON.stringify({ since: "2026-11-30T04:00:00Z", epoch: 1, staleAfterEpoch: 2, target: "a".repeat(40), attempt: "aaaaaaaaaaaa-1-5eed1d00" });
        assert.strictEqual(unfinishedRun("vps-01", "", "x"), undefined);
        assert.match(unfinishedRun("vps-01", marker, "aaaaaaaaaaaa-1-5eed1d00")!,
            /^vps-01: an earlier run \(a killed pulumi up, or one cut off from the VPS\) left its update to aaaaaaaaaaaa unfinished \(attempt aaaaaaaaaaaa-1-5eed1d00, since 2026-11-30T04:00:00Z\); this up resumes that attempt: the steps it finished are not run again/);
        assert.match(unfinishedRun("vps-01", marker, "bbbbbbbbbbbb-1-5eed1d00")!, /; this up runs attempt bbbbbbbbbbbb-1-5eed1d00 instead, which waits for any part of that run still going on the VPS\.$/);
        assert.match(unfinishedRun("vps-01", "{not json", "x")!, /unreadable update marker/);
    });
});
