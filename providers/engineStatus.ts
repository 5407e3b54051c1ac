/**
 * Ephemeral status lines about one resource, sent to the engine the way remote.Command
 * streams its output: Pulumi's progress display shows the latest on the resource's row,
 * so an operator sees which step each updating host is on. The dynamic provider process
 * is started with the engine's address as its first argument.
 */
let client: { log(req: unknown, cb: () => void): void } | undefined;
/** Lines are sent one after another: concurrent calls would reach the display out of order. */
let queue: Promise<void> = Promise.resolve();

export function sendStatus(urn: string, message: string): void {
    const addr = process.argv[2];
    if (!urn || !addr || !message.trim()) {
        return;
    }
    try {
        // Required lazily: only the provider process talks to the engine.
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        const engineProto = require("@pulumi/pulumi/proto/engine_pb");
        if (!client) {
            // eslint-disable-next-line @typescript-eslint/no-var-requires
            const grpc = require("@grpc/grpc-js");
            // eslint-disable-next-line @typescript-eslint/no-var-requires
            const { EngineClient } = require("@pulumi/pulumi/proto/engine_grpc_pb");
            client = new EngineClient(addr, grpc.credentials.createInsecure());
        }
        const req = new engineProto.LogRequest();
        req.setSeverity(engineProto.LogSeverity.INFO);
        req.setMessage(message.trim());
        req.setUrn(urn);
        req.setEphemeral(true);
        queue = queue.then(() => new Promise<void>((done) => client!.log(req, () => done())));
    } catch {
        // Progress is a courtesy: never let it fail a step.
    }
}

/** Splits streamed output into whole lines and passes each on. */
export function lineSplitter(onLine: (line: string) => void): (chunk: string) => void {
    let pending = "";
    return (chunk) => {
        pending += chunk;
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        lines.forEach(onLine);
    };
}
