import { randomBytes } from "crypto";

/**
 * A random id made once per stack and then kept in its state: what makes an attempt's name
 * on a VPS this stack's own. A second stack over the same hosts, or this stack re-created
 * after its state was lost, gets another id, so it never takes an attempt it did not make
 * (concluded, on the VPS) for its own.
 */
export const provider = {
    async create() {
        const stackId = randomBytes(4).toString("hex");
        return { id: stackId, outs: { stackId } };
    },
};
