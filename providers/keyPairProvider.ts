import { generateOpenSshKeyPair } from "./opensshKeys";

/** Generates an ed25519 key pair once; the pair then lives in stack state (private half secret). */
export const provider = {
    async create(inputs: { comment: string }) {
        const k = generateOpenSshKeyPair(inputs.comment);
        return { id: inputs.comment, outs: { comment: inputs.comment, publicKey: k.publicKey, privateKey: k.privateKey } };
    },
};
