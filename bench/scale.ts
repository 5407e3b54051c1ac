// Static inventories of 10 to 1000 hosts that need not exist (127.0.3.1:22 refuses at
// once): preview, a no-op up and a stage that changes every host, with the default
// settings (checkpoints on), and the state they leave.
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { VERSION_TYPE } from "../config/resourceTypes";
import { newStack, stateFigures } from "./stacks";

const log = (s: string) => process.stderr.write(`bench: ${s}\n`);
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq7Yf8z0ffhC4mGzI4OaJbqYcA2dmF1k8Rk1y3Cj1bM";

/** Marks every host as on `target`, in the ledger (the stack's own outputs) and in each version record. */
function markAllOnTarget(stateFile: string, hosts: string[], target: string): void {
    const d = JSON.parse(fs.readFileSync(stateFile, "utf8"));
    const stackRes = (d.deployment?.resources ?? []).find((r: any) => r.type === "pulumi:pulumi:Stack");
    if (!stackRes?.outputs?.fleet) {
        throw new Error("the first up left no fleet output");
    }
    for (const h of hosts) {
        Object.assign(stackRes.outputs.fleet[h], { updateStatus: "success", currentVersion: target, targetVersion: target, error: "" });
    }
    stackRes.outputs.rollout.halted = false;
    for (const r of d.deployment.resources.filter((x: any) => x.type === VERSION_TYPE)) {
        Object.assign(r.outputs, { updateStatus: "success", currentVersion: target, error: "" });
    }
    fs.writeFileSync(stateFile, JSON.stringify(d));
}

/** m hosts that need not exist: 127.0.3.1:22 refuses at once. */
export function unreachableHosts(m: number) {
    return Array.from({ length: m }, (_, i) => ({ name: `f-${String(i).padStart(5, "0")}`, host: "127.0.3.1", port: 22, user: "rachel", hostKey: HOST_KEY }));
}

export async function scaling(m: number, results: any) {
    const hosts = unreachableHosts(m);
    const s = newStack(`scale${m}`);
    try {
        const target = "1".repeat(40);
        // The inventory is a file at every size: past ~850 hosts stack config no longer fits
        // the one environment variable the engine passes it in (Linux caps it at 128 KiB).
        fs.writeFileSync(path.join(s.dir, "inventory.yaml"), yaml.dump({ hosts }));
        s.configure({ inventoryFile: "inventory.yaml", targetCommit: target, rolloutPercent: 100, stepRunner: s.runner, connectTimeout: 2, failureThreshold: "1" });
        s.setSecret("sshPrivateKey", "-----BEGIN OPENSSH PRIVATE KEY-----\nbench\n-----END OPENSSH PRIVATE KEY-----\n");
        const preview = await s.preview();
        if (preview.code !== 0) {
            throw new Error(`pulumi preview of ${m} hosts failed:\n${preview.output.slice(-3000)}`);
        }
        // A config mistake must be reported as fast as a clean preview finishes.
        s.configure({ rolloutPercent: 101 });
        const mistake = await s.preview();
        s.configure({ rolloutPercent: 100 });
        if (mistake.code === 0 || !mistake.output.includes("rachel-fleet:rolloutPercent must be a whole number from 1 to 100")) {
            throw new Error(`a preview with rolloutPercent 101 was not refused with its message:\n${mistake.output.slice(-3000)}`);
        }
        // The first up creates every resource (all hosts unreachable, so nothing runs on any).
        const create = await s.up();
        if (create.code !== 0) {
            throw new Error(`the first up of ${m} hosts failed:\n${create.output.slice(-3000)}`);
        }
        // The no-op is made possible by marking every host up to date with export/import:
        // then every host is held and no resource input changes.
        const exported = s.exportState();
        markAllOnTarget(exported.file, hosts.map((h) => h.name), target);
        s.cli("stack", "import", "--file", exported.file);
        const ups = [await s.up(), await s.up()];
        const failed = ups.find((u) => u.code !== 0);
        if (failed) {
            throw new Error(`a no-op pulumi up of ${m} hosts failed:\n${failed.output.slice(-3000)}`);
        }
        const noop = ups[1];
        // A stage that changes every host: a new commit. All are unreachable, so each fails
        // fast and nothing runs on any, but every version record changes, and the file backend
        // rewrites the whole state around each of those steps (checkpoints on, the default).
        s.configure({ targetCommit: "2".repeat(40) });
        const change = await s.up();
        if (change.code !== 0) {
            throw new Error(`the changing stage of ${m} hosts failed:\n${change.output.slice(-3000)}`);
        }
        const state = stateFigures(s.exportState().text, m);
        const changed = /(\d+) (updated|created|deleted|replaced)/.exec(noop.output.split("Resources:")[1] ?? "");
        results.scale.push({
            hosts: m, ...state, stateMiB: state.stateBytes / 2 ** 20,
            previewSeconds: preview.seconds, previewPeakRssMb: preview.peakRssMb, mistakeSeconds: mistake.seconds,
            firstUpSeconds: create.seconds,
            noopSeconds: noop.seconds, noopPeakRssMb: noop.peakRssMb,
            changeSeconds: change.seconds, changePeakRssMb: change.peakRssMb,
            noopChanges: changed ? changed[0] : "none",
            noopChangedResources: noop.output.split("\n").filter((l) => /^ [~+-] .*(updated|created|deleted)/.test(l)).map((l) => l.trim()).slice(0, 20),
        });
        log(`scale ${m}: preview ${preview.seconds.toFixed(1)}s ${preview.peakRssMb.toFixed(0)}MB, no-op up ${noop.seconds.toFixed(1)}s, ` +
            `changing stage ${change.seconds.toFixed(1)}s, state ${(state.stateBytes / 2 ** 20).toFixed(2)} MiB (${(state.bytesPerHost / 1024).toFixed(1)} KiB per host)`);
    } finally {
        s.remove();
    }
}
