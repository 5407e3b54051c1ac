import * as os from "os";
import { EngineEvent, LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { parseStageRequest } from "../config/config";
import { ledgerFromOutputs } from "../stages/ledger";
import { FleetStacks, fleetStacksOf, refusedByLock } from "./fleetStacks";
import { FleetView, fleetView } from "./fleetView";
import { PageEvent, pageEventsOf } from "./engineEvents";
import { DriverState, RolloutControl } from "./rolloutControl";
import { StackRef, plainConfig, withMaskedOutputs } from "./stackAccess";
import { CONFIG_NS } from "../config/types";

/**
 * The console's side of the stack: reads its outputs and runs one preview / up / refresh
 * at a time through the Automation API (LocalWorkspace), turning engine events into the
 * page's events. A second run is refused here (Busy), and so is one the stack lock
 * refuses (a run started from the CLI). It reads the stack's config, outputs and state
 * through the CLI without --show-secrets: nothing secret is ever decrypted in this process.
 * A run that did not happen (refused, failed before a stage ran, refused by a gate) leaves
 * the stack's config exactly as it was.
 */

const NS = CONFIG_NS;

export class Busy extends Error {}

export type Action =
    | { kind: "preview"; percent: number }
    | { kind: "advance"; percent: number }
    | { kind: "release"; commit: string }
    | { kind: "retry" }
    | { kind: "refresh" };

export interface RunState {
    action: string;
    startedAt: string;
    /** Hosts the stage changes (from the plan), for the progress bar; 0 for refresh. */
    total: number;
    /** Hosts whose update has ended so far (a page opened mid-run starts from here). */
    done: number;
    /** The stage the run asks for (none for refresh). */
    release?: string;
    percent?: number;
}

export class FleetRuns {
    private stack?: Stack;
    private stacks?: Promise<FleetStacks>;
    private running?: RunState;
    private listeners = new Set<(e: PageEvent) => void>();

    constructor(private readonly where: { stackName: string; workDir: string; envVars: Record<string, string> }, private readonly tags: Record<string, string> = {},
        /** The stack's autopilot control: while a driver lives, it alone starts runs. */
        private readonly control?: RolloutControl,
        /** The console's log (a sharded stage's per-shard lines). */
        private readonly log: (line: string) => void = () => undefined) {}

    async open(): Promise<Stack> {
        this.stack ??= withMaskedOutputs(await LocalWorkspace.selectStack({ stackName: this.where.stackName, workDir: this.where.workDir }, { envVars: this.where.envVars }), this.ref);
        return this.stack;
    }

    subscribe(fn: (e: PageEvent) => void): () => void {
        this.listeners.add(fn);
        return () => this.listeners.delete(fn);
    }

    /** Sends an event to every open page. */
    emit(e: PageEvent): void {
        if (e.kind === "host" && e.phase === "done" && this.running) this.running.done++;
        this.listeners.forEach((fn) => fn(e));
    }

    get current(): RunState | undefined {
        return this.running;
    }

    get ref(): StackRef {
        return { stack: this.where.stackName, dir: this.where.workDir, env: { ...process.env, ...this.where.envVars } };
    }

    /** The stack, or every shard of a sharded fleet's stack (decided once, when the console first needs it). */
    fleet(): Promise<FleetStacks> {
        this.stacks ??= fleetStacksOf({ stack: this.where.stackName, dir: this.where.workDir, env: this.ref.env! }, () => this.open(), Math.max(1, os.cpus().length), (l) => this.log(`fleet: ${l}`));
        return this.stacks;
    }

    async outputs(): Promise<{ fleet?: unknown; rollout?: unknown }> {
        return (await this.fleet()).outputs();
    }

    private plainConfig(): Promise<Record<string, string>> {
        return plainConfig(this.ref);
    }

    async view(): Promise<FleetView & { label?: string; running?: RunState; autopilot?: DriverState }> {
        const fleet = await this.fleet();
        const [outputs, markers] = await Promise.all([fleet.outputs(), fleet.markers()]);
        return { ...fleetView(outputs, this.tags, markers), label: fleet.label, running: this.running, autopilot: this.control?.read() };
    }

    /** The commit and percentage the action asks for, checked with the program's messages (throws ConfigError). */
    private async stageOf(a: Action): Promise<{ targetCommit: string; rolloutPercent: number }> {
        const cfg = await this.plainConfig();
        // A retry is of the stage the stack records (not of whatever the config asks for now).
        const recorded = a.kind === "retry" ? ledgerFromOutputs(undefined, (await this.outputs()).rollout).rollout : undefined;
        const now = { commit: recorded?.release ?? cfg[`${NS}:targetCommit`] ?? "", percent: String(recorded?.percent ?? cfg[`${NS}:rolloutPercent`] ?? "") };
        const commit = a.kind === "release" ? a.commit : now.commit;
        const percent = a.kind === "release" ? "10" : a.kind === "preview" || a.kind === "advance" ? String(a.percent) : now.percent;
        return parseStageRequest(commit, percent, NS);
    }

    /**
     * Starts the action; resolves once the engine has taken the stack (or refused it), so a
     * caller can answer 202 or 409. The run goes on; its events reach the subscribers.
     */
    async start(a: Action): Promise<RunState> {
        this.refuseWhileBusy();
        const state: RunState = { action: a.kind, startedAt: new Date().toISOString(), total: 0, done: 0 };
        this.running = state;
        try {
            const stage = a.kind === "refresh" ? undefined : await this.stageOf(a);
            state.total = stage ? await (await this.fleet()).planned(stage) : 0;
            if (stage) Object.assign(state, { release: stage.targetCommit, percent: stage.rolloutPercent });
            return await this.launch(a, stage, state);
        } catch (e) {
            this.running = undefined;
            throw e;
        }
    }

    /** A run is refused while another runs, and while an autopilot drives the stack (it alone starts stages then). */
    private refuseWhileBusy(): void {
        if (this.running) {
            throw new Busy(`a ${this.running.action} started at ${this.running.startedAt} is still running; one run at a time`);
        }
        const driver = this.control?.read();
        if (driver?.alive) {
            throw new Busy(`the autopilot (pid ${driver.pid}) is ${driver.state} on release ${driver.release.slice(0, 12)}: pause or abort it first`);
        }
    }

    /**
     * One stage of the console's autopilot: `up` of the stage the config already asks for
     * (the autopilot set it and puts it back if nothing ran), with the page's live events.
     * Rejects with the engine's error as `stack.up` does.
     */
    async runStage(stage: { targetCommit: string; rolloutPercent: number }): Promise<void> {
        if (this.running) throw new Busy(`a ${this.running.action} started at ${this.running.startedAt} is still running; one run at a time`);
        const state: RunState = { action: "rollout", startedAt: new Date().toISOString(), total: 0, done: 0, release: stage.targetCommit, percent: stage.rolloutPercent };
        this.running = state;
        try {
            const fleet = await this.fleet();
            state.total = await fleet.planned(stage);
            this.emit({ kind: "run", state: "started", action: state.action, total: state.total });
            await fleet.up((e) => pageEventsOf(e).forEach((p) => this.emit(p)));
        } catch (e) {
            await this.finish({ kind: "rollout" }, refusedByLock(e) ? "refused" : "failed", (e as Error).message);
            throw e;
        }
        await this.finish({ kind: "rollout" }, "finished", "");
    }

    private async launch(a: Action, stage: { targetCommit: string; rolloutPercent: number } | undefined, state: RunState): Promise<RunState> {
        const fleet = await this.fleet();
        // A stage that runs is the one the fleet's config asks for (a preview sets its own only while it runs).
        const setsStage = stage !== undefined && a.kind !== "preview";
        const plain = setsStage ? await this.plainConfig() : {};
        const before = setsStage ? [`${NS}:targetCommit`, `${NS}:rolloutPercent`].map((k) => [k, plain[k]] as const) : [];
        if (setsStage) {
            await (await this.open()).setAllConfig({ [`${NS}:targetCommit`]: { value: stage.targetCommit }, [`${NS}:rolloutPercent`]: { value: String(stage.rolloutPercent) } });
        }
        let taken!: () => void;
        const engineTookIt = new Promise<void>((r) => (taken = r));
        const onEvent = (e: EngineEvent) => {
            taken();
            pageEventsOf(e).forEach((p) => this.emit(p));
        };
        this.emit({ kind: "run", state: "started", action: a.kind, total: state.total });
        const run = a.kind === "preview" ? fleet.preview(stage!, onEvent) : a.kind === "refresh" ? fleet.refresh(onEvent) : fleet.up(onEvent);
        // A run that did not happen changed nothing: the config is put back before it is reported done.
        const restore = async () => {
            const stack = await this.open();
            for (const [k, v] of before) {
                if (v === undefined) await stack.removeConfig(k);
                else await stack.setConfig(k, { value: v });
            }
        };
        const ran = async () => {
            // A stage that ran and halted stays the stage the config asks for, as from the CLI.
            const r = ledgerFromOutputs(undefined, (await this.outputs()).rollout).rollout;
            return stage !== undefined && r?.release === stage.targetCommit && r.percent === stage.rolloutPercent && r.halted && !r.refusal;
        };
        const finished = run.then(
            () => this.finish(a, "finished", ""),
            async (e) => {
                if (!(await ran().catch(() => false))) await restore();
                await this.finish(a, refusedByLock(e) ? "refused" : "failed", (e as Error).message);
            },
        );
        const first = await Promise.race([engineTookIt.then(() => "taken"), run.then(() => "taken", (e) => e)]);
        if (refusedByLock(first)) {
            await finished.catch(() => undefined);
            throw new Busy(`${fleet.label} is locked by another update (a pulumi command or driver running elsewhere); try again when it has finished`);
        }
        return state;
    }

    private async finish(a: { kind: string }, state: "finished" | "failed" | "refused", message: string): Promise<void> {
        this.running = undefined;
        // The engine's own text ends with its diagnostics; the page already has them as events.
        const brief = message.split("\n").find((l) => /error: /.test(l))?.replace(/^.*?error: /, "") ?? message.split("\n")[0];
        this.emit({ kind: "run", state, action: a.kind, message: state === "finished" ? "" : brief });
        this.emit({ kind: "view", view: await this.view().catch(() => ({ rows: [] })) });
    }
}
