import { AutopilotEvent, AutopilotState, Reporter, StageLine } from "./autopilot";

/**
 * A release's stage timeline: when each stage started and ended, and how. The autopilot says
 * "running" when a stage's up starts and sends an event when it ends; this keeps both as a
 * list that rides along with the autopilot's state (the state file, the console), so a
 * resumed driver or a page opened later shows the stages already run.
 */

export function withTimeline(base: Reporter, prior: StageLine[], now: () => Date = () => new Date()): Reporter & { timeline: StageLine[] } {
    const timeline = prior.map((l) => ({ ...l }));
    const open = () => [...timeline].reverse().find((l) => !l.endedAt);
    return {
        timeline,
        say: (line) => base.say(line),
        state: (s: AutopilotState) => {
            if (s.state === "running" && open()?.percent !== s.stage) {
                timeline.push({ percent: s.stage, startedAt: now().toISOString() });
            }
            base.state({ ...s, timeline: timeline.map((l) => ({ ...l })) });
        },
        event: (e: AutopilotEvent) => {
            // "release complete" follows the last stage's "stage done": that stage has ended already.
            const line = open();
            if (line && e.event !== "release complete") {
                Object.assign(line, {
                    endedAt: now().toISOString(), outcome: e.event,
                    summary: e.event === "stage done" || e.event === "halted" ? `${e.succeeded}/${e.attempted} succeeded, ${e.rolledBack} rolled back, ${e.failed} failed` : e.message,
                });
            }
            base.event(e);
        },
    };
}
