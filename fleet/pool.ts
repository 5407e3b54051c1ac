/**
 * Runs `fn` over `items` with at most `limit` calls in flight, taking the next item as
 * soon as any call finishes: a pool, not fixed lanes, so one slow item holds back
 * nothing but its own slot. Results keep the items' order.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
    const results = new Array<R>(items.length);
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const i = next++;
            results[i] = await fn(items[i], i);
        }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
    return results;
}

/**
 * Like mapLimit, but hands back one promise per item at once, each settling when its own
 * call does (so a consumer can wait for each item separately).
 */
export function poolEach<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R>[] {
    const settlers = items.map(() => {
        let resolve!: (r: R) => void;
        let reject!: (e: unknown) => void;
        const promise = new Promise<R>((res, rej) => ((resolve = res), (reject = rej)));
        return { promise, resolve, reject };
    });
    void mapLimit(items, limit, (item, i) => fn(item).then(settlers[i].resolve, settlers[i].reject));
    return settlers.map((s) => s.promise);
}
