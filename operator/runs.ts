import { ConcurrentUpdateError, EngineEvent, LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { parseStageRequest } from "../config/config";
import { VERSION_TYPE } from "../config/resourceTypes";
import { ledgerFromOutputs } from "../stages/ledger";
import { planStage } from "../stages/plan";
import { FleetView, fleetView } from "./fleetView";
import { PageEvent, pageEventsOf } from "./engineEvents";
import { DriverState, RolloutControl } from "./rolloutControl";
import { StackRef, plainConfig, pulumiCliAsync, stackOutputs, withMaskedOutputs } from "./stackAccess";

/**
 * The console's side of the stack: reads its outputs and runs one preview / up / refresh
 * at a time through the Automation API (LocalWorkspace), turning engine events into the
 * page's events. A second run is refused here (Busy), and so is one the stack lock
 * refuses (a run started from the CLI). It reads the stack's config, outputs and state
 * through the CLI without --show-secrets: nothing secret is ever decrypted in this process.
 * A run that did not happen (refused, failed before a stage ran, refused by a gate) leaves
 * the stack's config exactly as it was.
 */

const NS = "rachel-fleet";

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
    private running?: RunState;
    private listeners = new Set<(e: PageEvent) => void>();

    constructor(private readonly where: { stackName: string; workDir: string; envVars: Record<string, string> }, private readonly tags: Record<string, string> = {},
        /** The stack's autopilot control: while a driver lives, it alone starts runs. */
        private readonly control?: RolloutControl) {}

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

    async outputs(): Promise<{ fleet?: unknown; rollout?: unknown }> {
        const o = await stackOutputs(this.ref);
        return { fleet: o.fleet, rollout: o.rollout };
    }

    private plainConfig(): Promise<Record<string, string>> {
        return plainConfig(this.ref);
    }

    /** Host → update marker, as the last `pulumi refresh` recorded it in each version record. */
    private async markers(): Promise<Record<string, string>> {
        const state = JSON.parse(await pulumiCliAsync(["stack", "export"], this.ref));
        const out: Record<string, string> = {};
        for (const r of (state.deployment?.resources ?? []) as { type: string; outputs?: { spec?: { hostName?: string }; marker?: string } }[]) {
            if (r.type === VERSION_TYPE && r.outputs?.marker && r.outputs.spec?.hostName) {
                out[r.outputs.spec.hostName] = r.outputs.marker;
            }
        }
        return out;
    }

    async view(): Promise<FleetView & { running?: RunState; autopilot?: DriverState }> {
        const [outputs, markers] = await Promise.all([this.outputs(), this.markers()]);
        return { ...fleetView(outputs, this.tags, markers), running: this.running, autopilot: this.control?.read() };
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

    /** Hosts this stage will update, by the program's own plan (for the progress bar). */
    private async planned(stage: { targetCommit: string; rolloutPercent: number }): Promise<number> {
        const out = await this.outputs();
        const ledger = ledgerFromOutputs(out.fleet, out.rollout);
        // Before its first stage a stack has no outputs: its hosts are the ones in its config.
        const configured = async () => {
            try {
                return (JSON.parse((await this.plainConfig())[`${NS}:hosts`] ?? "[]") as { name?: string }[]).map((h) => String(h.name));
            } catch {
                return [];
            }
        };
        const hostNames = Object.keys(ledger.hosts).length ? Object.keys(ledger.hosts) : await configured();
        const plan = planStage({ hostNames, target: stage.targetCommit, percent: stage.rolloutPercent, ledger, overrideHalt: true });
        return plan.cohort.filter((n) => plan.hosts[n].fresh).length;
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
            state.total = stage ? await this.planned(stage) : 0;
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
            state.total = await this.planned(stage);
            const stack = await this.open();
            this.emit({ kind: "run", state: "started", action: state.action, total: state.total });
            await stack.up({ onEvent: (e) => pageEventsOf(e).forEach((p) => this.emit(p)), showSecrets: false });
        } catch (e) {
            await this.finish({ kind: "rollout" }, e instanceof ConcurrentUpdateError ? "refused" : "failed", (e as Error).message);
            throw e;
        }
        await this.finish({ kind: "rollout" }, "finished", "");
    }

    private async launch(a: Action, stage: { targetCommit: string; rolloutPercent: number } | undefined, state: RunState): Promise<RunState> {
        const stack = await this.open();
        const plain = stage ? await this.plainConfig() : {};
        const before = stage ? [`${NS}:targetCommit`, `${NS}:rolloutPercent`].map((k) => [k, plain[k]] as const) : [];
        if (stage) {
            await stack.setAllConfig({ [`${NS}:targetCommit`]: { value: stage.targetCommit }, [`${NS}:rolloutPercent`]: { value: String(stage.rolloutPercent) } });
        }
        let taken!: () => void;
        const engineTookIt = new Promise<void>((r) => (taken = r));
        const onEvent = (e: EngineEvent) => {
            taken();
            pageEventsOf(e).forEach((p) => this.emit(p));
        };
        this.emit({ kind: "run", state: "started", action: a.kind, total: state.total });
        const run = a.kind === "preview" ? stack.preview({ onEvent }) : a.kind === "refresh" ? stack.refresh({ onEvent, showSecrets: false }) : stack.up({ onEvent, showSecrets: false });
        // A preview asks "what if", and a run that did not happen changed nothing: either
        // puts the stack's config back before the run is reported done.
        const restore = async () => {
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
            () => (a.kind === "preview" ? restore() : Promise.resolve()).then(() => this.finish(a, "finished", "")),
            async (e) => {
                if (a.kind === "preview" || !(await ran().catch(() => false))) await restore();
                await this.finish(a, e instanceof ConcurrentUpdateError ? "refused" : "failed", (e as Error).message);
            },
        );
        const first = await Promise.race([engineTookIt.then(() => "taken"), run.then(() => "taken", (e) => e)]);
        if (first instanceof ConcurrentUpdateError) {
            await finished.catch(() => undefined);
            throw new Busy("the stack is locked by another update (a pulumi command running elsewhere); try again when it has finished");
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
