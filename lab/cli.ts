// npm run lab -- up [--hosts N] | status [--json] | down | fault <kind> --host NAME [--off]
import { upLab } from "./up";
import { teardownLab } from "./teardown";
import { requireRoot } from "./packages";
import { readLabStatus, FAULT_KINDS } from "./labStatus";
import { setFault } from "./faults";

const USAGE = `usage: npm run lab -- <command>
  up [--hosts N]                      boot N Debian hosts (default 10) at 127.0.1.1..N:22
  status [--json]                     print the inventory (--json: the program's inventory format)
  down                                stop every lab process and remove the lab
  fault <kind> --host NAME [--off]    kinds: ${FAULT_KINDS.join(", ")}
env LAB_DIR overrides the lab directory (default <repo>/.lab)`;

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  if (value === undefined || value.startsWith("--")) throw new Error(`${name} needs a value\n${USAGE}`);
  return value;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  const log = (m: string) => console.error(`lab: ${m}`);
  switch (command) {
    case "up": {
      const hosts = Number(option(args, "--hosts") ?? "10");
      await upLab(hosts, log);
      return;
    }
    case "status": {
      const status = readLabStatus();
      if (args.includes("--json")) {
        console.log(JSON.stringify(status, null, 2));
        return;
      }
      console.log(`lab ${status.labDir}: ${status.hosts.length} hosts, origin ${status.repoUrl}`);
      for (const h of status.hosts) console.log(`  ${h.name}  ${h.user}@${h.host}:${h.port}  ${(status.faults[h.name] ?? []).join(",")}`);
      return;
    }
    case "down": {
      requireRoot();
      const t0 = Date.now();
      const r = await teardownLab();
      log(
        `lab down (${((Date.now() - t0) / 1000).toFixed(1)} s): killed ${r.killedProcesses} processes` +
          (r.unmounted.length ? `, unmounted ${r.unmounted.length} host disks` : "") +
          (r.restored.length ? `, set ${r.restored.join(", ")}` : "") +
          (r.removedLabDir ? ", removed the lab directory" : ""),
      );
      return;
    }
    case "fault": {
      requireRoot();
      const kind = args[0];
      const host = option(args, "--host");
      if (!kind || kind.startsWith("--") || !host) throw new Error(`fault needs a kind and --host\n${USAGE}`);
      const on = !args.includes("--off");
      await setFault(kind, host, on);
      log(`${kind} ${on ? "on" : "off"} for ${host}`);
      return;
    }
    case undefined:
    case "help":
    case "--help":
      console.log(USAGE);
      return;
    default:
      throw new Error(`unknown command '${command}'\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((e: Error) => {
  console.error(`lab: ${e.message}`);
  process.exit(1);
});
