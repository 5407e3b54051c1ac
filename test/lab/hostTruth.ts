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
    health: { status: number; body: string };
}

/** What the host itself says, read over its own SSH connection (not through the program). */
export async function hostTruth(host: LabHost): Promise<HostTruth> {
    const r = await runOnHost(host, `git -C /home/rachel/rachel rev-parse HEAD; systemctl is-active rachel8; [ -e ${MARKER_FILE} ] && echo marker || echo no-marker; systemctl status rachel8 | sed -n 's/.*Main PID: \\([0-9]*\\).*/\\1/p'`);
    const [head, active, marker, pid] = r.stdout.trim().split("\n");
    const health = await getHealth(host.host).catch((e) => ({ status: 0, body: String(e) }));
    return { head, active, marker, pid: pid ?? "", health };
}
