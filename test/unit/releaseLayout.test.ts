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
            // failureThreshold is a string in the schema (Pulumi's "number" is not a config type).
            assert.strictEqual(String(schema[key]?.default), String(value), `Pulumi.yaml's default for ${key}`);
            assert.strictEqual(typeof schema[key]?.default === "string" ? "string" : typeof schema[key]?.default, key === "failureThreshold" ? "string" : typeof value, `the type of ${key}'s default`);
        }
        assert.deepStrictEqual(Object.keys(schema).sort(), [...KNOWN_KEYS].sort(), "a key the program reads and Pulumi.yaml does not declare (or the reverse)");
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
