import { execFile } from "child_process";
import * as pulumi from "../boot/sdk";
import { HostRecord, Ledger } from "../stages/ledger";
import { FleetMember } from "./members";

/**
 * The way out for a VPS this stack provisioned. Every resource of such a VPS (its server,
 * its host key pair, its update step and version record) is registered `protect`ed, so
 * neither a mistaken edit of `hetzner.servers` nor `pulumi destroy` can delete a
 * subscriber's machine: the engine refuses. Deleting one takes a confirmation for exactly
 * that VPS: `pulumi state unprotect` of its resources (the command is given in full), then
 * an `up` without it in the list.
 */

/** The VPSs this stack provisioned (per the ledger) that the config no longer lists. */
export function goingServers(ledger: Ledger, members: FleetMember[]): string[] {
    const kept = new Set(members.map((m) => m.name));
    return Object.keys(ledger.hosts)
        .filter((n) => !kept.has(n) && ledger.hosts[n].provisioning && ledger.hosts[n].provisioning!.phase !== "deprovisioned")
        .sort();
}

/** The resources of VPS `name` among the stack's (URN → protected): its components and their children. */
export function resourcesOf(name: string, state: StateResource[]): StateResource[] {
    return state.filter((r) => /::rachel-fleet:(hetzner|fleet):Vps(\$[^:]+(:[^:]+)*)?::/.test(r.urn) && (r.urn.endsWith(`::${name}`) || r.urn.match(new RegExp(`::${name}-(hostkey|server|update|version)$`))));
}

export interface StateResource {
    urn: string;
    protect?: boolean;
}

/** The one command that releases exactly this VPS's resources. */
export function releaseCommand(name: string, state: StateResource[], stack: string): string {
    const urns = resourcesOf(name, state).filter((r) => r.protect).map((r) => `'${r.urn}'`);
    return `pulumi state unprotect --stack ${stack} --yes ${urns.join(" ")}`;
}

/**
 * The stack's resources as its state records them (`pulumi stack export`, which decrypts
 * nothing): read only when a provisioned VPS is going, to tell a released one from one
 * still protected. The program's own CLI runs it, with the environment it was given.
 */
function readState(stack: string): Promise<StateResource[]> {
    return new Promise((resolve, reject) => {
        execFile("pulumi", ["stack", "export", "--stack", stack], { maxBuffer: 1 << 30, env: process.env }, (err, stdout, stderr) => {
            if (err) return reject(new Error(`pulumi stack export failed: ${(stderr || err.message).trim().split("\n").pop()}`));
            try {
                resolve((JSON.parse(stdout).deployment?.resources ?? []) as StateResource[]);
            } catch (e) {
                reject(new Error(`pulumi stack export printed no state: ${(e as Error).message}`));
            }
        });
    });
}

/** How the program reads its stack's state: a seam for the mocked-engine unit tests. */
export const stackState = { read: readState };

/**
 * What becomes of each going VPS in this run: a released one is deleted by the engine and
 * recorded as deprovisioned (kept in `fleet` until the next release); one still protected
 * is refused, named with the command that releases it, and keeps its record.
 */
export async function deprovision(ledger: Ledger, members: FleetMember[], release: string, now: string): Promise<Record<string, HostRecord>> {
    const going = goingServers(ledger, members);
    const records: Record<string, HostRecord> = {};
    // Kept until a new release starts: the outputs say when a subscriber's VPS went.
    const sameRelease = ledger.rollout?.release === release;
    for (const [n, r] of Object.entries(ledger.hosts)) {
        if (sameRelease && r.provisioning?.phase === "deprovisioned" && !members.some((m) => m.name === n)) records[n] = r;
    }
    if (going.length === 0) return records;
    const stack = `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
    let state: StateResource[];
    try {
        state = await stackState.read(stack);
    } catch (e) {
        pulumi.log.error(`${going.join(", ")} ${going.length > 1 ? "are" : "is"} no longer in hetzner.servers, and whether released or not could not be read (${(e as Error).message}): nothing of ${going.length > 1 ? "them" : "it"} is deleted; the engine refuses a protected one.`);
        going.forEach((n) => (records[n] = ledger.hosts[n]));
        return records;
    }
    const held = going.filter((n) => resourcesOf(n, state).some((r) => r.protect));
    for (const n of going) {
        records[n] = held.includes(n) ? ledger.hosts[n] : { ...ledger.hosts[n], provisioning: { ...ledger.hosts[n].provisioning!, phase: "deprovisioned", deprovisionedAt: now } };
    }
    if (held.length > 0) {
        pulumi.log.error(
            `refusing to delete ${held.join(", ")}: ${held.length > 1 ? "they are" : "it is"} no longer in hetzner.servers, but a provisioned VPS is a subscriber's machine and is deleted only once released. ` +
                `Nothing of ${held.length > 1 ? "them" : "it"} changes. To keep one, put it back in hetzner.servers. To delete exactly one, release it, then run pulumi up again: ` +
                held.map((n) => `${n}: ${releaseCommand(n, state, stack)}`).join(" ; "),
        );
    }
    const released = going.filter((n) => !held.includes(n));
    if (released.length > 0) pulumi.log.info(`deprovisioning ${released.join(", ")} (released): the server, its host key pair and its record are deleted`);
    return records;
}
