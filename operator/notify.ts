import * as http from "http";
import * as https from "https";
import { AutopilotEvent } from "./autopilot";

/**
 * Tells the operator's own endpoint (`notifyUrl`, a secret: its URL may carry a token) how a
 * release goes: one JSON POST per event, retried with back-off, in the background. A
 * receiver that is down never blocks or fails the rollout; `settle` waits a bounded time
 * for what is still being sent.
 */
export class Notifier {
    private pending = new Set<Promise<void>>();

    constructor(private readonly url: string | undefined, private readonly say: (line: string) => void, private readonly delaysMs = [1000, 3000, 9000]) {}

    send(e: AutopilotEvent): void {
        if (!this.url) return;
        const p = this.deliver(JSON.stringify({ ...e, at: new Date().toISOString() })).finally(() => this.pending.delete(p));
        this.pending.add(p);
    }

    private async deliver(body: string): Promise<void> {
        let why = "";
        for (let attempt = 0; attempt <= this.delaysMs.length; attempt++) {
            if (attempt > 0) await new Promise((r) => setTimeout(r, this.delaysMs[attempt - 1]));
            try {
                const status = await post(this.url!, body);
                if (status >= 200 && status < 300) return;
                why = `answered ${status}`;
            } catch (err) {
                why = (err as Error).message;
            }
        }
        // The URL is a secret: named by its host only.
        this.say(`notifyUrl (${hostOf(this.url!)}) did not take a notification after ${this.delaysMs.length + 1} tries (${why}); the rollout goes on`);
    }

    /** Waits up to `ms` for notifications still being sent. */
    async settle(ms: number): Promise<void> {
        await Promise.race([Promise.allSettled([...this.pending]), new Promise((r) => setTimeout(r, ms).unref())]);
    }
}

function post(url: string, body: string): Promise<number> {
    return new Promise((resolve, reject) => {
        const lib = url.startsWith("https:") ? https : http;
        const req = lib.request(url, { method: "POST", headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) }, timeout: 5000 }, (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
        });
        req.on("timeout", () => req.destroy(new Error("timed out after 5 s")));
        req.on("error", reject);
        req.end(body);
    });
}

function hostOf(url: string): string {
    try {
        return new URL(url).host;
    } catch {
        return "an invalid URL";
    }
}
