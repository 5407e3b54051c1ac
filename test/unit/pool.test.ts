import * as assert from "assert";
import { mapLimit, poolEach } from "../../fleet/pool";

/** A promise the test settles by hand, so the pool's behaviour is checked by order, not by timing. */
function gate() {
    let open!: () => void;
    const opened = new Promise<void>((r) => (open = r));
    return { opened, open };
}
const tick = () => new Promise((r) => setImmediate(r));

describe("the update pool", () => {
    it("keeps at most `limit` calls in flight and starts the next as soon as one finishes: a slow item holds back only its own slot", async () => {
        const gates = Array.from({ length: 6 }, gate);
        const events: string[] = [];
        let inFlight = 0;
        let peak = 0;
        const run = mapLimit([0, 1, 2, 3, 4, 5], 2, async (i) => {
            events.push(`start ${i}`);
            peak = Math.max(peak, ++inFlight);
            await gates[i].opened;
            inFlight--;
            events.push(`end ${i}`);
        });
        // Item 0 stays slow; items 1..5 finish one after another in the other slot.
        for (const i of [1, 2, 3, 4, 5]) {
            await tick();
            gates[i].open();
        }
        await tick();
        assert.ok(!events.includes("end 0"), "the slow item is still running");
        for (const i of [1, 2, 3, 4, 5]) {
            assert.ok(events.includes(`end ${i}`), `item ${i} waited for the slow one (fixed lanes would chain it behind item 0): ${events.join(", ")}`);
        }
        gates[0].open();
        await run;
        assert.strictEqual(peak, 2, `${peak} calls ran at once with limit 2`);
    });

    it("hands back one promise per item that settles with that item, errors included", async () => {
        const gates = [gate(), gate(), gate()];
        const done: number[] = [];
        const each = poolEach([0, 1, 2], 3, async (i) => {
            await gates[i].opened;
            if (i === 2) {
                throw new Error("item 2 failed");
            }
            done.push(i);
            return i * 10;
        });
        gates[1].open();
        assert.strictEqual(await each[1], 10);
        assert.deepStrictEqual(done, [1], "item 1 resolved while the others were still running");
        gates[2].open();
        await assert.rejects(each[2], /item 2 failed/);
        gates[0].open();
        assert.strictEqual(await each[0], 0);
    });
});
