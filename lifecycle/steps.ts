/**
 * The update lifecycle of one VPS, declared once: the steps in order, which phase each
 * belongs to, and what its failure means. Each step's body is the function
 * `step_<name>` in lifecycle.sh; the script's step lists, the version provider's
 * judgement, the lab tests and the bench floor all come from this list, so adding,
 * removing or reordering a step is a change here and in that one shell file.
 *
 * Two phases:
 *   prepare  builds the release beside the running one (fetch, worktree, install): it
 *            touches nothing the service uses, so its failure needs no rollback;
 *   switch   the only part that changes what runs (symlink, restart, verify). A
 *            rollback is the switch phase again, for the previous release's directory.
 */
export type Phase = "prepare" | "switch";

export interface StepDecl {
    name: string;
    phase: Phase;
    /** What the step does, in the words a failure report uses. */
    does: string;
}

export const STEPS: readonly StepDecl[] = [
    { name: "begin", phase: "prepare", does: "marks the VPS as updating and remembers the release to roll back to" },
    { name: "fetch", phase: "prepare", does: "fetches the commit into the VPS's repository" },
    { name: "build", phase: "prepare", does: "checks the commit out into its own release directory" },
    { name: "install", phase: "prepare", does: "installs the release's dependencies in its directory" },
    { name: "switch", phase: "switch", does: "points the app directory at the release" },
    { name: "restart", phase: "switch", does: "restarts the service" },
    { name: "verify", phase: "switch", does: "watches the service, its directory, HEAD and health" },
];

export const STEP_NAMES = STEPS.map((s) => s.name);
export const stepsOf = (phase: Phase) => STEPS.filter((s) => s.phase === phase).map((s) => s.name);
/** The step whose success makes the attempt's commit the VPS's last good one. */
export const VERIFYING_STEP = STEPS[STEPS.length - 1].name;
/** The phase a step belongs to; undefined for a name that is not a step. */
export const phaseOf = (name: string): Phase | undefined => STEPS.find((s) => s.name === name)?.phase;
