// The only changes the lab makes outside its own directory: the `rachel` user
// and one sudoers file. Each is recorded in the lab directory before it is made
// and carries a marker, so `down` removes exactly what `up` added, even after
// a crash halfway through `up`.
import * as fs from "fs";
import { run, tryRun } from "./shell";

export const SUDOERS_FILE = "/etc/sudoers.d/rachel-fleet-lab";
const USER_MARKER = "rachel-fleet lab";
const SUDOERS_MARKER = "# rachel-fleet lab";
/** The systemctl stand-in's path inside lab hosts; the real /usr/bin/systemctl is not allowed. */
export const HOST_SYSTEMCTL = "/usr/local/bin/systemctl";

interface SystemChanges {
  addedUser: boolean;
  addedSudoers: boolean;
}

function readChanges(file: string): SystemChanges {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return { addedUser: false, addedSudoers: false };
  }
}

const userExists = () => tryRun("getent", ["passwd", "rachel"]).code === 0;
const userIsOurs = () => tryRun("getent", ["passwd", "rachel"]).stdout.split(":")[4] === USER_MARKER;

/** The sudoers file of a lab that is (or was) up, and which lab directory it belongs to. */
export function sudoersLabDir(): string | null {
  try {
    const m = fs.readFileSync(SUDOERS_FILE, "utf8").match(/^# lab-dir: (.*)$/m);
    return m ? m[1] : null;
  } catch {
    return null;
  }
}

export function addSystemAccounts(changesFile: string, labDir: string): void {
  const changes = readChanges(changesFile);
  const record = () => fs.writeFileSync(changesFile, JSON.stringify(changes, null, 2) + "\n");
  if (!userExists()) {
    changes.addedUser = true;
    record();
    // A system account (no subuid ranges, no aging); its home exists only
    // inside lab hosts, so nothing is created under the real /home.
    run("useradd", ["--system", "--user-group", "--no-create-home", "--home-dir", "/home/rachel", "--shell", "/bin/bash", "--comment", USER_MARKER, "rachel"]);
  }
  const commands = ["restart", "start", "stop", "is-active", "status"].map((c) => `${HOST_SYSTEMCTL} ${c} rachel8`);
  const sudoers = `${SUDOERS_MARKER}: the service commands a rollout issues, nothing else.\n# lab-dir: ${labDir}\nrachel ALL=(root) NOPASSWD: ${commands.join(", ")}\n`;
  changes.addedSudoers = true;
  record();
  const staged = changesFile + ".sudoers";
  fs.writeFileSync(staged, sudoers, { mode: 0o440 });
  run("visudo", ["-c", "-q", "-f", staged]);
  fs.renameSync(staged, SUDOERS_FILE);
}

export function removeSystemAccounts(changesFile: string, labDir: string): string[] {
  const changes = readChanges(changesFile);
  const removed: string[] = [];
  // The markers let a lab whose directory was deleted by hand still clean up,
  // and keep this lab's `down` off another lab directory's sudoers file.
  const owner = sudoersLabDir();
  if (owner === labDir && fs.readFileSync(SUDOERS_FILE, "utf8").startsWith(SUDOERS_MARKER)) {
    fs.rmSync(SUDOERS_FILE);
    removed.push(SUDOERS_FILE);
  }
  const anotherLabUp = sudoersLabDir() !== null;
  if ((changes.addedUser || userIsOurs()) && userExists() && userIsOurs() && !anotherLabUp) {
    run("userdel", ["rachel"]);
    removed.push("user rachel");
  }
  return removed;
}
