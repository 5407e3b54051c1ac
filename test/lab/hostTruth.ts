import { MARKER_FILE } from "../../lifecycle/script";
import { getHealth } from "../../lab/hostLifecycle";
import { LabHost } from "../../lab/labStatus";
import { runOnHost } from "../../lab/sshExec";

export interface HostTruth {
    head: string;
    active: string;
    marker: string;
    /** The service's main PID: unchanged means not restarted. */
    pid: string;
    /** Where the app directory points (the release directory), and the service process's cwd. */
    release: string;
    cwd: string;
    health: { status: number; body: string };
}

/** What the host itself says, read over its own SSH connection (not through the program). */
export async function hostTruth(host: LabHost): Promise<HostTruth> {
    const r = await runOnHost(host, `git -C /home/rachel/rachel rev-parse HEAD; systemctl is-active rachel8; [ -e ${MARKER_FILE} ] && echo marker || echo no-marker; ` +
        `pid=$(systemctl show -p MainPID --value rachel8); echo $pid; readlink -f /home/rachel/rachel; readlink /proc/$pid/cwd || echo none`);
    const [head, active, marker, pid, release, cwd] = r.stdout.trim().split("\n");
    const health = await getHealth(host.host).catch((e) => ({ status: 0, body: String(e) }));
    return { head, active, marker, pid: pid ?? "", release: release ?? "", cwd: cwd ?? "", health };
}
