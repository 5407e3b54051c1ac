// A fake of the hcloud (and random) resource provider plugins, for the lab only:
// those plugins cannot be had on this machine, and Hetzner cannot be reached. The
// engine runs it as `pulumi-resource-hcloud` / `pulumi-resource-random` from
// lab/fakeCloud/bin when a test puts that directory on PATH. A Server is a lab host
// booted with nothing but the server's user-data (see vps.ts); everything that VPS
// then does with it (cloud-init, sshd with the pinned key, the app) is real.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { createServer, deleteServer, cloudServers } from "./vps";
import { resolveLabDir } from "../paths";

const kind = process.argv[2];
const labDir = resolveLabDir();
// The URN's type part is the parent chain, "parent$child"; the resource's own type is last.
const typeOf = (urn: string) => urn.split("::")[2].split("$").pop()!;
const numericId = () => String(crypto.randomInt(1_000_000, 9_999_999));
/** A secret input (the user-data holds a private key) arrives wrapped; the fake needs its value. */
const plain = (v: unknown): string => String(pulumi.runtime.isRpcSecret(v) ? pulumi.runtime.unwrapRpcSecret(v) : v);

async function create(urn: string, inputs: any): Promise<pulumi.provider.CreateResult> {
  switch (typeOf(urn)) {
    case "random:index/randomId:RandomId": {
      const bytes = crypto.randomBytes(Number(inputs.byteLength));
      const hex = bytes.toString("hex");
      return { id: bytes.toString("base64url"), outs: { ...inputs, hex, b64Std: bytes.toString("base64"), b64Url: bytes.toString("base64url"), dec: BigInt(`0x${hex}`).toString() } };
    }
    case "hcloud:index/sshKey:SshKey":
      return { id: numericId(), outs: { ...inputs, fingerprint: crypto.createHash("md5").update(String(inputs.publicKey)).digest("hex") } };
    case "hcloud:index/firewall:Firewall":
      return { id: numericId(), outs: { ...inputs } };
    case "hcloud:index/server:Server": {
      const server = await createServer(labDir, plain(inputs.name), plain(inputs.userData), plain(inputs.image));
      return { id: numericId(), outs: { ...inputs, ipv4Address: server.address, status: "running" } };
    }
    default:
      throw new Error(`the lab's fake ${kind} provider has no resource type ${typeOf(urn)}`);
  }
}

const provider: pulumi.provider.Provider = {
  version: kind === "random" ? "4.21.2" : "1.41.0",
  async check(_urn, _olds, news) {
    return { inputs: news };
  },
  async diff(_id, _urn, olds, news) {
    const changed = Object.keys(news).filter((k) => JSON.stringify(news[k]) !== JSON.stringify(olds[k]));
    return { changes: changed.length > 0, replaces: changed.filter((k) => k === "name" || k === "byteLength") };
  },
  create,
  async read(id, urn, props) {
    // A server the lab no longer runs is gone, as a deleted cloud server would be.
    if (typeOf(urn) === "hcloud:index/server:Server" && !cloudServers(labDir)[props?.name]) return { id: "", props: {} };
    return { id, props };
  },
  async update(_id, _urn, olds, news) {
    return { outs: { ...olds, ...news } };
  },
  async delete(_id, urn, props) {
    if (typeOf(urn) === "hcloud:index/server:Server") await deleteServer(labDir, String(props.name));
  },
};

pulumi.provider.main(provider, process.argv.slice(3)).catch((e) => {
  process.stderr.write(`fake ${kind} provider: ${e?.stack ?? e}\n`);
  process.exit(1);
});
