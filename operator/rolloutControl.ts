import * as fs from "fs";
import * as path from "path";
import { AutopilotState, Request } from "./autopilot";

/**
 * How a running autopilot and the operator's other terminals (and the console) talk: two
 * small files per stack in the project's `.rollout/` directory. The driver writes its state
 * (with its pid: the one driver of the stack while that process lives); the operator writes
 * a request (run, pause, abort), which the driver reads between stages and while it waits.
 */
/** What the state file says: the autopilot's state, its driver's pid and whether it still runs. */
export type DriverState = AutopilotState & { pid: number; at: string; alive: boolean };

export class RolloutControl {
    private readonly stateFile: string;
    private readonly requestFile: string;

    constructor(projectDir: string, stack: string) {
        const dir = path.join(projectDir, ".rollout");
        const base = stack.replace(/[^A-Za-z0-9._-]/g, "_");
        this.stateFile = path.join(dir, `${base}.state.json`);
        this.requestFile = path.join(dir, `${base}.request`);
    }

    /** The driver's last state, and whether its process still runs. */
    read(): DriverState | undefined {
        try {
            const s = JSON.parse(fs.readFileSync(this.stateFile, "utf8"));
            return { ...s, alive: s.state !== "stopped" && s.state !== "complete" && isAlive(s.pid) };
        } catch {
            return undefined;
        }
    }

    /** Claims the stack for this process; refuses while another driver of it lives. */
    claim(): void {
        const other = this.read();
        if (other?.alive && other.pid !== process.pid) {
            throw new Error(`another rollout driver (pid ${other.pid}) is ${other.state} on this stack (release ${other.release.slice(0, 12)}, since ${other.at}): ` +
                `npm run rollout -- --pause | --resume | --abort talks to it`);
        }
        this.request("run");
    }

    write(s: AutopilotState): void {
        writeAtomically(this.stateFile, JSON.stringify({ ...s, pid: process.pid, at: new Date().toISOString() }) + "\n");
    }

    request(r?: Request): Request {
        if (r) {
            writeAtomically(this.requestFile, r + "\n");
            return r;
        }
        try {
            const v = fs.readFileSync(this.requestFile, "utf8").trim();
            return v === "pause" || v === "abort" ? v : "run";
        } catch {
            return "run";
        }
    }
}

/** Whether a process of this machine still runs. */
export function isAlive(pid: unknown): boolean {
    if (typeof pid !== "number" || pid <= 0) return false;
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}

function writeAtomically(file: string, text: string): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
}
