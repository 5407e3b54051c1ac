import * as assert from "assert";
import { mapLimit, poolEach } from "../../fleet/pool";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the update pool", () => {
    it("keeps at most `limit` calls in flight and starts the next as soon as one finishes", async () => {
        let inFlight = 0;
        let peak = 0;
        const started: number[] = [];
        const t0 = Date.now();
        await mapLimit([300, 20, 20, 20, 20, 20], 2, async (ms, i) => {
            started[i] = Date.now() - t0;
            peak = Math.max(peak, ++inFlight);
            await sleep(ms);
            inFlight--;
        });
        assert.strictEqual(peak, 2, `${peak} calls ran at once with limit 2`);
        // With fixed lanes, items 2 and 4 would queue behind the slow item 0; in a pool they
        // all run in the other slot while item 0 is still going.
        assert.ok(started[5] < 250, `the last quick item started only at ${started[5]} ms: the slow one held it back`);
    });

    it("hands back one promise per item that settles with that item, errors included", async () => {
        const order: number[] = [];
        const each = poolEach([60, 10, 30], 3, async (ms) => {
            await sleep(ms);
            if (ms === 30) {
                throw new Error("item 30 failed");
            }
            order.push(ms);
            return ms * 2;
        });
        assert.strictEqual(await each[1], 20);
        assert.deepStrictEqual(order, [10], "item 1 resolved before the slower ones finished");
        await assert.rejects(each[2], /item 30 failed/);
        assert.strictEqual(await each[0], 120);
    });
});
