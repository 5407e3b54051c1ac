import { ConfigError, parseStageRequest } from "../config/config";
import { StagesError, stagesOf } from "./autopilot";
import { resumeTarget, runRelease } from "./releaseDriver";
import { RolloutControl } from "./rolloutControl";
import { Busy, FleetRuns } from "./runs";
import { plainConfig } from "./stackAccess";
import { CONFIG_NS } from "../config/types";

/**
 * The console's Start release: the autopilot (operator/autopilot.ts) driven from the console
 * process, each stage a FleetRuns stage so the page sees its hosts live. Pause, resume and
 * abort go through the stack's control files, so they reach whichever driver runs the
 * stack: this console's, or an `npm run rollout` in a terminal. The page learns the
 * driver's state by watching that file (a driver elsewhere included).
 */

const NS = CONFIG_NS;

export type RolloutVerb = "start" | "pause" | "resume" | "abort";

export class ConsoleRollout {
    private watcher?: NodeJS.Timeout;
    private lastSeen = "";

    constructor(private readonly runs: FleetRuns, private readonly control: RolloutControl, private readonly log: (line: string) => void) {}

    /** Pushes the driver's state to the pages whenever its file changes (checked each second). */
    watch(): void {
        const check = () => {
            const state = this.control.read();
            const seen = JSON.stringify(state ?? null);
            if (seen !== this.lastSeen) {
                this.lastSeen = seen;
                if (state) this.runs.emit({ kind: "autopilot", autopilot: state });
            }
        };
        check();
        this.watcher = setInterval(check, 1000);
        this.watcher.unref();
    }

    stop(): void {
        clearInterval(this.watcher);
    }

    /** What the operator asked for; resolves with a sentence for the page once it took effect. */
    async act(verb: RolloutVerb, body: { commit?: unknown; stages?: unknown }): Promise<string> {
        const driver = this.control.read();
        const live = driver?.alive ? driver : undefined;
        if (verb === "pause" || verb === "abort") {
            if (!live) throw new Busy(`no release is being driven on this stack; nothing to ${verb}`);
            this.control.request(verb);
            return verb === "pause" ? "pause asked: a running stage finishes, the next waits for resume" : "abort asked: a running stage finishes (no host is left mid-update), no further stage starts";
        }
        if (live) {
            if (verb === "resume") {
                this.control.request("run");
                return `resume asked: the driver (pid ${live.pid}) goes on`;
            }
            throw new Busy(`a release (${live.release.slice(0, 12)}) is already being driven on this stack (pid ${live.pid}, ${live.state}); pause, resume or abort it`);
        }
        if (this.runs.current) throw new Busy(`a ${this.runs.current.action} is still running; start the release when it has finished`);
        const target = verb === "resume" ? await resumeTarget(this.control, this.runs.ref, stagesOf(undefined)) : startTarget(body);
        try {
            this.control.claim();
        } catch (e) {
            throw new Busy((e as Error).message);
        }
        this.drive(target.release, target.stages);
        return `release ${target.release.slice(0, 12)}: the autopilot runs ${target.stages.join(" → ")}%`;
    }

    private drive(release: string, stages: number[]): void {
        const go = async () => {
            const stack = await this.runs.open();
            const fleet = await this.runs.fleet();
            return runRelease({
                stack, ref: this.runs.ref, control: this.control, release, stages,
                // A sharded fleet's: every shard's, judged as one.
                outputs: () => fleet.outputs(),
                releaseStaleLock: fleet.releaseStaleLock,
                up: async () => {
                    const c = await plainConfig(this.runs.ref);
                    await this.runs.runStage(parseStageRequest(c[`${NS}:targetCommit`] ?? "", c[`${NS}:rolloutPercent`] ?? "", NS));
                },
                say: (line) => {
                    this.log(`autopilot: ${line}`);
                    this.runs.emit({ kind: "autopilot", said: line });
                },
            });
        };
        go().then(
            (o) => this.log(`autopilot: ${o.state}: ${o.message}`),
            (e) => {
                // The driver's state must not read "running" for a driver that is gone.
                const why = `the autopilot stopped: ${(e as Error).message.split("\n")[0]}`;
                const last = this.control.read();
                if (last) this.control.write({ ...last, state: "stopped", message: why });
                this.log(why);
                this.runs.emit({ kind: "autopilot", said: why });
            },
        );
    }
}

/** The release a Start asks for, checked with the program's messages. */
function startTarget(body: { commit?: unknown; stages?: unknown }): { release: string; stages: number[] } {
    let stages: number[];
    try {
        stages = stagesOf(body.stages === undefined || body.stages === "" ? undefined : String(body.stages));
    } catch (e) {
        throw new ConfigError((e as StagesError).message);
    }
    return { release: parseStageRequest(String(body.commit ?? ""), String(stages[0]), NS).targetCommit, stages };
}
