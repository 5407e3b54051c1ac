import { generateKeyPairSync, randomBytes } from "crypto";

/** An ed25519 key pair in the forms OpenSSH and cloud-init take. */
export interface OpenSshKeyPair {
    /** authorized_keys form: "ssh-ed25519 AAAA..." */
    publicKey: string;
    /** "-----BEGIN OPENSSH PRIVATE KEY-----" form, unencrypted. */
    privateKey: string;
}

const sshString = (b: Buffer | string) => {
    const buf = Buffer.isBuffer(b) ? b : Buffer.from(b);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(buf.length);
    return Buffer.concat([len, buf]);
};
const uint32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n >>> 0);
    return b;
};

/**
 * Generates an ed25519 key pair and encodes it in OpenSSH's own private key format
 * (PROTOCOL.key: "openssh-key-v1", cipher none), which sshd needs for a host key
 * and which cloud-init's `ssh_keys` installs as is. Node's crypto gives only PKCS#8.
 */
export function generateOpenSshKeyPair(comment: string): OpenSshKeyPair {
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    const pub = Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url");
    const seed = Buffer.from(privateKey.export({ format: "jwk" }).d!, "base64url");
    const keyType = "ssh-ed25519";
    const pubBlob = Buffer.concat([sshString(keyType), sshString(pub)]);
    const check = randomBytes(4).readUInt32BE();
    let section = Buffer.concat([
        uint32(check),
        uint32(check),
        sshString(keyType),
        sshString(pub),
        sshString(Buffer.concat([seed, pub])),
        sshString(comment),
    ]);
    const pad = (8 - (section.length % 8)) % 8;
    section = Buffer.concat([section, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
    const body = Buffer.concat([
        Buffer.from("openssh-key-v1\0"),
        sshString("none"),
        sshString("none"),
        sshString(""),
        uint32(1),
        sshString(pubBlob),
        sshString(section),
    ]).toString("base64");
    const lines = body.match(/.{1,70}/g)!.join("\n");
    return {
        publicKey: `${keyType} ${pubBlob.toString("base64")}`,
        privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines}\n-----END OPENSSH PRIVATE KEY-----\n`,
    };
}
