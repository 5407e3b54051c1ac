// The way out for a provisioned VPS (mocked engine): every resource of it is protected; one
// dropped from hetzner.servers is refused (named, with the command that releases exactly it)
// until released, then recorded as deprovisioned until the next release.
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { Registered, SHA_B, labConfig, runProgram } from "./mockFleet";
import { StateResource, goingServers, releaseCommand, resourcesOf, stackState } from "../../fleet/deprovision";

const asPrevious = (o: any) => ({ fleet: o.fleet, rollout: o.rollout, stackId: o.stackId, envDigests: o.envDigests });
const SECRETS = ["sshPrivateKey", "hetzner"];
const P = "urn:pulumi:dev::rachel-fleet::";

function withServers(names: string[], extra: Record<string, string> = {}) {
    return { ...labConfig(2, { rolloutPercent: "100", repoUrl: "https://git.example.org/rachel8.git", ...extra }), hetzner: JSON.stringify({ servers: names.map((name) => ({ name })) }) };
}

/** The state a stack with these servers has: each VPS's six resources, protected unless released. */
function stateOf(names: string[], released: string[] = []): StateResource[] {
    return names.flatMap((n) => [
        `rachel-fleet:hetzner:Vps::${n}`, `rachel-fleet:hetzner:Vps$pulumi-nodejs:dynamic/rachel-fleet:SshKeyPair::${n}-hostkey`,
        `rachel-fleet:hetzner:Vps$hcloud:index/server:Server::${n}-server`, `rachel-fleet:fleet:Vps::${n}`,
        `rachel-fleet:fleet:Vps$pulumi-nodejs:dynamic/rachel-fleet:RemoteStep::${n}-update`, `rachel-fleet:fleet:Vps$pulumi-nodejs:dynamic/rachel-fleet:VpsVersion::${n}-version`,
    ].map((u) => ({ urn: P + u, protect: !released.includes(n) })));
}

/** Runs the program, collecting what it logs as errors. */
async function run(config: Record<string, string>, fake: object, state: StateResource[]) {
    const errors: string[] = [];
    const error = pulumi.log.error;
    const read = stackState.read;
    (pulumi.log as any).error = (m: string) => errors.push(m);
    stackState.read = async () => state;
    try {
        return { ...(await runProgram(config, fake, SECRETS)), errors };
    } finally {
        (pulumi.log as any).error = error;
        stackState.read = read;
    }
}

describe("the way out for a provisioned VPS", function () {
    this.timeout(120000);
    afterEach(() => (process.exitCode = 0));

    it("every resource of a provisioned VPS is protected; a static host's are not", async () => {
        const fake = { registered: [] as Registered[] };
        await runProgram(withServers(["hz-1"]), fake, SECRETS);
        const of = (pattern: RegExp) => fake.registered.filter((r) => pattern.test(r.name));
        assert.deepStrictEqual(of(/^hz-1/).map((r) => [r.name, r.protected()]).filter(([, p]) => !p), [], "an unprotected resource of hz-1");
        assert.ok(of(/^hz-1/).length >= 5, of(/^hz-1/).map((r) => r.name).join(", "));
        assert.ok(of(/^vps-01/).every((r) => !r.protected()), "a static host's resources are not protected");
    });

    it("names the release command for exactly one VPS's protected resources (never a name that merely starts the same)", () => {
        const state = stateOf(["hz-2", "hz-20"]);
        assert.strictEqual(resourcesOf("hz-2", state).length, 6);
        const cmd = releaseCommand("hz-2", state, "org/rachel-fleet/dev");
        assert.match(cmd, /^pulumi state unprotect --stack org\/rachel-fleet\/dev --yes '/);
        assert.strictEqual(cmd.match(/'urn:/g)!.length, 6);
        assert.ok(!cmd.includes("hz-20"), cmd);
    });

    it("dropping two servers is refused naming both, each with its command, their records kept; releasing one deletes exactly that one", async () => {
        const first = await runProgram(withServers(["hz-1", "hz-2", "hz-3"]), {}, SECRETS);
        assert.deepStrictEqual(goingServers({ hosts: first.outputs.fleet }, []).length, 3);
        const refused = await run(withServers(["hz-1"]), { previousOutputs: asPrevious(first.outputs) }, stateOf(["hz-1", "hz-2", "hz-3"]));
        assert.strictEqual(refused.errors.length, 1, refused.errors.join("\n"));
        assert.match(refused.errors[0], /^refusing to delete hz-2, hz-3: they are no longer in hetzner.servers/);
        assert.match(refused.errors[0], /hz-2: pulumi state unprotect .*'urn:pulumi:dev::rachel-fleet::rachel-fleet:hetzner:Vps\$hcloud:index\/server:Server::hz-2-server'/);
        assert.match(refused.errors[0], /hz-3: pulumi state unprotect /);
        assert.deepStrictEqual(refused.outputs.fleet["hz-2"], first.outputs.fleet["hz-2"], "a refused VPS keeps its record");

        const one = await run(withServers(["hz-1"]), { previousOutputs: asPrevious(refused.outputs) }, stateOf(["hz-1", "hz-2", "hz-3"], ["hz-2"]));
        assert.strictEqual(one.errors.length, 1);
        assert.match(one.errors[0], /^refusing to delete hz-3: it is no longer/);
        assert.doesNotMatch(one.errors[0], /hz-2/);
        assert.strictEqual(one.outputs.fleet["hz-2"].provisioning.phase, "deprovisioned");
        assert.match(one.outputs.fleet["hz-2"].provisioning.deprovisionedAt, /^\d{4}-\d\d-\d\dT/);
        assert.strictEqual(one.outputs.fleet["hz-3"].provisioning.phase, "ready");

        // Kept while the release is the same; gone with the next release.
        const same = await run(withServers(["hz-1", "hz-3"]), { previousOutputs: asPrevious(one.outputs) }, stateOf(["hz-1", "hz-3"]));
        assert.deepStrictEqual([same.errors, same.outputs.fleet["hz-2"]?.provisioning.phase], [[], "deprovisioned"]);
        const next = await run(withServers(["hz-1", "hz-3"], { targetCommit: SHA_B }), { previousOutputs: asPrevious(same.outputs) }, stateOf(["hz-1", "hz-3"]));
        assert.strictEqual(next.outputs.fleet["hz-2"], undefined);
    });

    it("a server name used again after deprovisioning is a new VPS: provisioned to ready", async () => {
        const first = await runProgram(withServers(["hz-1", "hz-2"]), {}, SECRETS);
        const gone = await run(withServers(["hz-1"]), { previousOutputs: asPrevious(first.outputs) }, stateOf(["hz-1", "hz-2"], ["hz-2"]));
        const fake = { registered: [] as Registered[], previousOutputs: asPrevious(gone.outputs) };
        const again = await run(withServers(["hz-1", "hz-2"]), fake, []);
        assert.strictEqual(again.outputs.fleet["hz-2"].provisioning.phase, "ready");
        assert.notStrictEqual(again.outputs.fleet["hz-2"].provisioning.provisionedAt, undefined);
    });
});
