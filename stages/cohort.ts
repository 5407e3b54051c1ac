import { createHash } from "crypto";

/**
 * The rollout order of a release: hosts sorted by sha256(commit, name).
 *
 * Keyed on the commit so canaries differ per release, and on nothing else so the
 * order is stable across every `pulumi up` of one release.
 */
export function rolloutOrder(hostNames: readonly string[], commit: string): string[] {
    const rank = (name: string) => createHash("sha256").update(`${commit}\0${name}`).digest("hex");
    return [...hostNames]
        .map((name) => ({ name, key: rank(name) }))
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.name < b.name ? -1 : 1))
        .map((h) => h.name);
}

/** How many of `total` hosts a stage at integer `percent` covers: ceil, and at least one for p > 0. */
export function cohortSize(percent: number, total: number): number {
    if (percent <= 0 || total === 0) {
        return 0;
    }
    // Integer arithmetic: (7 / 100) * 100 is 7.000000000000001 in floating point.
    return Math.min(total, Math.max(1, Math.floor((percent * total + 99) / 100)));
}

/**
 * The cumulative cohort at `percent`: a prefix of the release's rollout order, so
 * 10% ⊂ 50% ⊂ 100% for one release.
 */
export function cohortFor(percent: number, hostNames: readonly string[], commit: string): string[] {
    return rolloutOrder(hostNames, commit).slice(0, cohortSize(percent, hostNames.length));
}
