import * as assert from "assert";
import { createHash } from "crypto";
import { cohortFor, cohortSize, rolloutOrder } from "../../stages/cohort";

const commits = Array.from({ length: 40 }, (_, i) => createHash("sha1").update(`release-${i}`).digest("hex"));
const hosts = (n: number) => Array.from({ length: n }, (_, i) => `vps-${i}`);

describe("cohort rule", () => {
    it("covers ceil(p/100 × N), at least one host, for every N from 1 to 500", () => {
        for (let n = 1; n <= 500; n++) {
            for (const p of [1, 7, 10, 29, 33, 50, 99, 100]) {
                const expected = Math.max(1, Math.ceil((p * n) / 100 - 1e-12));
                assert.strictEqual(cohortSize(p, n), Math.min(n, expected), `N=${n} p=${p}`);
            }
        }
        assert.strictEqual(cohortSize(7, 100), 7, "floating point must not round 7% of 100 up to 8");
        assert.strictEqual(cohortSize(10, 20), 2);
        assert.strictEqual(cohortSize(50, 3), 2);
    });

    it("is nested: 10% ⊂ 50% ⊂ 100%, and never shrinks as p grows", () => {
        for (const commit of commits) {
            for (const n of [1, 2, 3, 10, 20, 57, 500]) {
                let prev: string[] = [];
                for (let p = 1; p <= 100; p++) {
                    const c = cohortFor(p, hosts(n), commit);
                    assert.ok(c.length >= prev.length, `shrank at p=${p}`);
                    assert.deepStrictEqual(c.slice(0, prev.length), prev, `not nested at N=${n} p=${p}`);
                    prev = c;
                }
                assert.deepStrictEqual([...prev].sort(), [...hosts(n)].sort(), "100% is the whole fleet");
            }
        }
    });

    it("is deterministic for one release, whatever order the inventory lists hosts in", () => {
        for (const commit of commits) {
            const h = hosts(50);
            const shuffled = [...h].reverse();
            assert.deepStrictEqual(rolloutOrder(h, commit), rolloutOrder(shuffled, commit));
            assert.deepStrictEqual(cohortFor(10, h, commit), cohortFor(10, h, commit));
        }
    });

    it("picks different canaries for different releases", () => {
        const h = hosts(100);
        const canaries = new Set(commits.map((c) => cohortFor(10, h, c).join(",")));
        assert.ok(canaries.size >= commits.length - 1, `only ${canaries.size} distinct 10% cohorts for ${commits.length} commits`);
        const firsts = new Set(commits.map((c) => rolloutOrder(h, c)[0]));
        assert.ok(firsts.size > 20, `first canary repeats too often: ${firsts.size} distinct of ${commits.length}`);
    });

    it("is empty at 0% and for an empty fleet", () => {
        assert.deepStrictEqual(cohortFor(0, hosts(10), commits[0]), []);
        assert.deepStrictEqual(cohortFor(50, [], commits[0]), []);
    });
});
