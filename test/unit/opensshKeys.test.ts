import * as assert from "assert";
import { execFileSync } from "child_process";
import { mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { utils } from "ssh2";
import { generateOpenSshKeyPair } from "../../providers/opensshKeys";

describe("generated ed25519 keys", () => {
    it("parse as OpenSSH keys whose public half matches", () => {
        const k = generateOpenSshKeyPair("t");
        const parsed = utils.parseKey(k.privateKey);
        assert.ok(!(parsed instanceof Error), String(parsed));
        const key = Array.isArray(parsed) ? parsed[0] : parsed;
        assert.strictEqual(key.type, "ssh-ed25519");
        assert.strictEqual(`ssh-ed25519 ${key.getPublicSSH().toString("base64")}`, k.publicKey);
    });

    it("are accepted by OpenSSH's own ssh-keygen", () => {
        const dir = mkdtempSync(join(tmpdir(), "rf-key-"));
        const k = generateOpenSshKeyPair("t");
        writeFileSync(join(dir, "id"), k.privateKey, { mode: 0o600 });
        let out: string;
        try {
            out = execFileSync("ssh-keygen", ["-y", "-f", join(dir, "id")], { encoding: "utf8" });
        } catch (e) {
            throw new Error(`ssh-keygen (Debian's openssh-client) is needed for this test and failed: ${e}`);
        }
        assert.strictEqual(out.trim().split(" ").slice(0, 2).join(" "), k.publicKey);
    });

    it("differ every time", () => {
        assert.notStrictEqual(generateOpenSshKeyPair("a").privateKey, generateOpenSshKeyPair("a").privateKey);
    });
});
