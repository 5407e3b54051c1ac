// Smoke test of the lab fleet: booted Debian containers (systemd, journald, sshd)
// on loopback, checked from the outside with ssh2 and the pinned host keys. Needs
// root (it brings a lab up and down in LAB_DIR or <repo>/.lab, replacing any lab
// already there).
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { lab, labRun } from "./labCli";
import { readLabStatus, LabStatus, LabHost } from "../../lab/labStatus";
import { runOnHost, HostCommandResult } from "../../lab/sshExec";
import { labPaths } from "../../lab/paths";
import { labProcesses, labMountsHere } from "../../lab/teardown";
import { getHealth, sshLogins } from "../../lab/hostLifecycle";
import { cgroupRoots } from "../../lab/container";
import { RELEASE_TAGS } from "../../lab/releases";

/** What the lab may touch outside its directory, to compare before `up` and after `down`. */
function systemSnapshot() {
  const list = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).sort().join(",") : "(absent)");
  return {
    etc: list("/etc"),
    sudoersD: list("/etc/sudoers.d"),
    home: list("/home"),
    usrLocalBin: list("/usr/local/bin"),
    run: list("/run"),
    accounts: ["/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow"].map((f) => fs.readFileSync(f, "utf8")).join("\n"),
  };
}

async function sh(host: LabHost, command: string): Promise<HostCommandResult> {
  return runOnHost(host, command, { privateKeyPath: status.privateKeyPath, timeoutMs: 60000 });
}

async function expectOk(host: LabHost, command: string): Promise<string> {
  const r = await sh(host, command);
  assert.strictEqual(r.code, 0, `${host.name}: '${command}' exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout.trim();
}

async function waitForState(host: LabHost, wanted: string, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  let seen = "";
  while (Date.now() < deadline) {
    seen = (await sh(host, "systemctl is-active rachel8")).stdout.trim();
    if (seen === wanted) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`${host.name}: rachel8 did not become '${wanted}' within ${withinMs} ms (last: '${seen}')`);
}

async function waitForRestarts(host: LabHost, atLeast: number, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  let seen = "";
  while (Date.now() < deadline) {
    seen = (await sh(host, "systemctl show -p NRestarts --value rachel8")).stdout.trim();
    if (Number(seen) >= atLeast) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`${host.name}: systemd did not restart rachel8 ${atLeast} times within ${withinMs} ms (NRestarts: '${seen}')`);
}

async function healthCommit(host: LabHost): Promise<string> {
  const r = await getHealth(host.host);
  assert.strictEqual(r.status, 200, `${host.name}: /health answered ${r.status} ${r.body}`);
  return JSON.parse(r.body).commit;
}

async function expectRejected(promise: Promise<unknown>, pattern: RegExp, what: string): Promise<void> {
  try {
    await promise;
  } catch (e) {
    assert.match((e as Error).message, pattern, `${what}: wrong failure: ${(e as Error).message}`);
    return;
  }
  assert.fail(`${what}: expected a failure matching ${pattern}, but the command succeeded`);
}

let status: LabStatus;
let baseline: ReturnType<typeof systemSnapshot>;
let wentDown = false;

describe("lab fleet (booted Debian hosts on 127.0.1.x)", function () {
  before(function () {
    if (process.getuid?.() !== 0) throw new Error("the lab test must run as root (it boots containers with systemd-nspawn)");
    lab("down");
    baseline = systemSnapshot();
    lab("up", "--hosts", "3");
    status = readLabStatus();
    assert.strictEqual(status.hosts.length, 3);
  });

  after(function () {
    if (!wentDown) lab("down");
  });

  it("prints the inventory shape the program reads", function () {
    const printed = JSON.parse(lab("status", "--json"));
    assert.deepStrictEqual(Object.keys(printed).sort(), ["baseRoot", "faults", "healthUrlTemplate", "hosts", "labDir", "privateKeyPath", "releases", "repoUrl"]);
    assert.deepStrictEqual(printed.hosts.map((h: LabHost) => `${h.name}=${h.host}:${h.port}`), ["lab-01=127.0.1.1:22", "lab-02=127.0.1.2:22", "lab-03=127.0.1.3:22"]);
    for (const sha of Object.values(printed.releases)) assert.match(String(sha), /^[0-9a-f]{40}$/);
    assert.deepStrictEqual(Object.keys(printed.releases), [...RELEASE_TAGS]);
    assert.ok(fs.existsSync(printed.privateKeyPath), "fleet private key missing");
    assert.deepStrictEqual(printed.faults, {});
  });

  it("each host's sshd answers with its own pinned host key", async function () {
    const keys = new Set(status.hosts.map((h) => h.hostKey));
    assert.strictEqual(keys.size, status.hosts.length, "hosts share a host key");
    for (const h of status.hosts) assert.strictEqual(await expectOk(h, "echo pinned"), "pinned");
    const [a, b] = status.hosts;
    await expectRejected(sh({ ...a, hostKey: b.hostKey }, "true"), /verification failed|Host denied/i, "lab-01 with lab-02's key pinned");
  });

  it("logs in as rachel with the fleet key only", async function () {
    const out = await expectOk(status.hosts[0], 'id -un; echo "$HOME"; command -v bun; command -v systemctl');
    assert.deepStrictEqual(out.split("\n"), ["rachel", "/home/rachel", "/usr/local/bin/bun", "/usr/bin/systemctl"]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lab-test-key-"));
    try {
      spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "k")]);
      await expectRejected(
        runOnHost(status.hosts[0], "true", { privateKeyPath: path.join(dir, "k") }),
        /authentication/i,
        "login with a key that is not the fleet key",
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is a booted system of its own: PID 1 systemd, its own /etc, journald, machine id and processes", async function () {
    const seen = await Promise.all(
      status.hosts.map((h) => expectOk(h, "cat /proc/1/comm; hostname; cat /etc/machine-id; systemctl is-system-running; echo; ps -e --no-headers | wc -l")),
    );
    // The journal is root's to read: through the host's own PID 1, not over SSH.
    const logins = await Promise.all(status.hosts.map((h) => sshLogins(status.labDir, h.name)));
    const rows = seen.map((s) => s.split("\n"));
    rows.forEach((r, i) => {
      const h = status.hosts[i];
      assert.strictEqual(r[0], "systemd", `${h.name}: PID 1 is ${r[0]}`);
      assert.strictEqual(r[1], h.name, `${h.name}: /etc/hostname says ${r[1]}`);
      assert.strictEqual(r[3], "running", `${h.name}: systemd reports '${r[3]}' (a failed unit?)`);
      assert.ok(logins[i] >= 1, `${h.name}: its own journald recorded ${logins[i]} SSH logins`);
      assert.ok(Number(r[5]) < 40, `${h.name}: sees ${r[5]} processes: not its own PID namespace`);
    });
    assert.strictEqual(new Set(rows.map((r) => r[2])).size, rows.length, "hosts share a machine id");
    await expectOk(status.hosts[0], "echo only-here > /tmp/lab-probe");
    assert.strictEqual(await expectOk(status.hosts[1], "test -e /tmp/lab-probe && echo shared || echo own"), "own");
    assert.ok(!fs.existsSync("/tmp/lab-probe"), "a host's /tmp is this machine's");
  });

  it("gives every host its own /home/rachel with the app checked out at v1", async function () {
    const [a, b] = status.hosts;
    await expectOk(a, "echo only-on-a > /home/rachel/rachel/marker.txt");
    assert.strictEqual(await expectOk(a, "cat /home/rachel/rachel/marker.txt"), "only-on-a");
    assert.strictEqual(await expectOk(b, "test -e /home/rachel/rachel/marker.txt && echo present || echo absent"), "absent");
    assert.ok(!fs.existsSync("/home/rachel"), "/home/rachel exists on the real filesystem");
    await expectOk(a, "rm /home/rachel/rachel/marker.txt");
    for (const h of status.hosts) {
      assert.strictEqual(await expectOk(h, "cd /home/rachel/rachel && git rev-parse HEAD && stat -c %U ."), `${status.releases.v1}\nrachel`);
    }
  });

  it("runs rachel8 as an active service reporting the v1 commit", async function () {
    for (const h of status.hosts) {
      assert.strictEqual(await expectOk(h, "systemctl is-active rachel8"), "active");
      assert.strictEqual(await healthCommit(h), status.releases.v1);
    }
  });

  it("lets rachel restart rachel8 through sudo, and nothing else", async function () {
    const h = status.hosts[0];
    const before = appProcesses();
    const took = Number(await expectOk(h, "s=$(date +%s%3N); sudo systemctl restart rachel8; echo $(( $(date +%s%3N) - s ))"));
    assert.ok(took < 2000, `restart took ${took} ms (must be < 2000)`);
    assert.notStrictEqual((await sh(h, "systemctl is-active rachel8")).stdout.trim(), "failed");
    await waitForState(h, "active", 5000);
    assert.strictEqual(await healthCommit(h), status.releases.v1);
    assert.strictEqual(appProcesses(), before, "restart left a different number of app processes (orphan?)");
    assert.strictEqual(await expectOk(h, "sudo -n systemctl is-active rachel8"), "active");
    for (const forbidden of ["systemctl restart other", "systemctl stop rachel8", "systemctl start rachel8", "systemctl restart ssh", "/bin/sh -c true"]) {
      const r = await sh(h, `sudo -n ${forbidden}`);
      assert.notStrictEqual(r.code, 0, `sudo allowed '${forbidden}'`);
      assert.match(r.stderr, /password is required/i, `sudo ${forbidden}: ${r.stderr}`);
    }
    assert.doesNotMatch(await expectOk(h, "sudo -n -l 2>&1 || true"), /unable to resolve host/, "sudo cannot resolve the host's own name");
  });

  it("restarts a crash-start release again and again under Restart=on-failure (systemd's own restarts)", async function () {
    const h = status.hosts[1];
    await expectOk(h, `cd rachel && git checkout -q ${status.releases["crash-start"]} && sudo systemctl restart rachel8`);
    await waitForRestarts(h, 2, 10000);
    const st = await sh(h, "systemctl status rachel8");
    assert.strictEqual(st.code, 3, `systemctl status of a crash loop exited ${st.code}`);
    assert.match(st.stdout, /activating \(auto-restart\)|failed/);
    await expectOk(h, `cd rachel && git checkout -q ${status.releases.v1} && sudo systemctl restart rachel8`);
    await waitForState(h, "active", 5000);
  });

  it("has releases that fail the way their names say", async function () {
    const h = status.hosts[2];
    const checkout = (tag: keyof LabStatus["releases"]) => `cd rachel && git checkout -q ${status.releases[tag]}`;
    assert.notStrictEqual((await sh(h, `${checkout("bad-install")} && bun install`)).code, 0, "bad-install installed");
    assert.strictEqual((await sh(h, `${checkout("slow-install")} && timeout 3 bun install`)).code, 124, "slow-install did not hang");
    await expectOk(h, `${checkout("bad-health")} && sudo systemctl restart rachel8`);
    await waitForState(h, "active", 5000);
    assert.strictEqual((await getHealth(h.host)).status, 500, "bad-health answered /health with a success");
    await expectOk(h, `${checkout("crash-late")} && sudo systemctl restart rachel8`);
    await waitForState(h, "active", 3000);
    await waitForRestarts(h, 1, 8000);
    await expectOk(h, `${checkout("v1")} && sudo systemctl restart rachel8`);
    await waitForState(h, "active", 5000);
    assert.strictEqual(await healthCommit(h), status.releases.v1);
  });

  it("fault unreachable powers the host off, and --off boots it again with its disk and key", async function () {
    const h = status.hosts[2];
    const pid1Start = "cut -d' ' -f22 /proc/1/stat";
    const bootedAt = await expectOk(h, `${pid1Start}; echo kept > /home/rachel/survives-power-off`);
    lab("fault", "unreachable", "--host", h.name);
    assert.deepStrictEqual(readLabStatus().faults, { [h.name]: ["unreachable"] });
    await expectRejected(sh(h, "true"), /ECONNREFUSED/, "connecting to an unreachable host");
    await expectRejected(getHealth(h.host), /ECONNREFUSED/, "the app of a powered-off host");
    lab("fault", "unreachable", "--host", h.name, "--off");
    assert.strictEqual(await expectOk(h, "cat /home/rachel/survives-power-off && rm /home/rachel/survives-power-off"), "kept");
    assert.notStrictEqual(await expectOk(h, pid1Start), bootedAt, "the host's PID 1 is the one from before the power-off");
    await waitForState(h, "active", 10000);
    assert.deepStrictEqual(readLabStatus().faults, {});
  });

  it("fault sshd-stopped stops ssh.service (the app runs on), and --off starts it", async function () {
    const h = status.hosts[0];
    lab("fault", "sshd-stopped", "--host", h.name);
    await expectRejected(sh(h, "true"), /ECONNREFUSED/, "connecting while sshd is stopped");
    assert.strictEqual((await getHealth(h.host)).status, 200, "the app stopped with sshd");
    lab("fault", "sshd-stopped", "--host", h.name, "--off");
    assert.strictEqual(await expectOk(h, "systemctl is-active ssh"), "active");
  });

  it("fault crash-loop makes systemd restart the service again and again, and --off ends it", async function () {
    const h = status.hosts[0];
    lab("fault", "crash-loop", "--host", h.name);
    await waitForRestarts(h, 2, 12000);
    assert.match(await expectOk(h, "journalctl -u rachel8 -o cat --no-pager | grep -c 'lab fault crash-loop'"), /^[2-9]|\d\d/);
    lab("fault", "crash-loop", "--host", h.name, "--off");
    await waitForState(h, "active", 5000);
    assert.strictEqual(await expectOk(h, "systemctl show -p NRestarts --value rachel8"), "0");
    assert.deepStrictEqual(readLabStatus().faults, {});
  });

  it("fault hostkey-changed presents a new key, and --off the original", async function () {
    const h = status.hosts[2];
    lab("fault", "hostkey-changed", "--host", h.name);
    await expectRejected(sh(h, "true"), /verification failed|Host denied/i, "connecting with the old key pinned");
    lab("fault", "hostkey-changed", "--host", h.name, "--off");
    assert.strictEqual(await expectOk(h, "echo same"), "same");
  });

  it("fault drop-mid-command drops the next long command once", async function () {
    const h = status.hosts[0];
    lab("fault", "drop-mid-command", "--host", h.name);
    assert.deepStrictEqual(readLabStatus().faults, { [h.name]: ["drop-mid-command"] });
    const t0 = Date.now();
    await expectRejected(sh(h, "cd rachel && bun install && echo installed"), /dropped|closed/, "a command during drop-mid-command");
    assert.ok(Date.now() - t0 >= 900, "the connection dropped before the command was under way");
    assert.deepStrictEqual(readLabStatus().faults, {});
    assert.match(await expectOk(h, "cd rachel && bun install && echo installed"), /installed$/);
  });

  it("fault disk-full makes writes in the release directories (the app dir among them) fail with ENOSPC, and --off restores it losslessly", async function () {
    const h = status.hosts[1];
    await expectOk(h, "echo kept > rachel/before.txt");
    lab("fault", "disk-full", "--host", h.name);
    const write = await sh(h, "head -c 100000 /dev/zero > rachel/big.bin");
    assert.notStrictEqual(write.code, 0, "a write succeeded on a full disk");
    assert.match(write.stderr, /No space left on device/);
    assert.notStrictEqual((await sh(h, "touch rachel/new-file")).code, 0, "a new file was created on a full disk");
    lab("fault", "disk-full", "--host", h.name, "--off");
    assert.strictEqual(await expectOk(h, "cat rachel/before.txt"), "kept");
    await expectOk(h, "head -c 100000 /dev/zero > rachel/big.bin && rm rachel/big.bin rachel/before.txt rachel/new-file -f");
    assert.strictEqual(await expectOk(h, "cd rachel && git rev-parse HEAD"), status.releases.v1);
    assert.deepStrictEqual(readLabStatus().faults, {});
  });

  it("down leaves no process, mount or file outside the lab directory", async function () {
    const p = labPaths();
    lab("down");
    wentDown = true;
    assert.deepStrictEqual(labProcesses(p.labDir), [], "processes still live in the lab's cgroups");
    for (const root of cgroupRoots()) assert.ok(!fs.existsSync(path.join(root, p.cgroupName)), `cgroup ${root}/${p.cgroupName} was left behind`);
    assert.deepStrictEqual(processesMentioning(p.labDir), [], "processes still refer to the lab directory");
    assert.deepStrictEqual(labMountsHere(p.labDir), [], "mounts left under the lab directory");
    assert.ok(!fs.existsSync(p.labDir), `${p.labDir} still exists`);
    assert.deepStrictEqual(systemSnapshot(), baseline, "files outside the lab directory differ from before `up`");
  });
});

describe("lab on a machine that cannot boot its hosts", function () {
  const elsewhere = { ...process.env, LAB_DIR: path.join(os.tmpdir(), "rachel-lab-cannot-boot") };
  after(() => fs.rmSync(elsewhere.LAB_DIR, { recursive: true, force: true }));

  it("names the missing systemd-nspawn, and falls back to nothing", function () {
    const r = labRun(["up", "--hosts", "1"], { ...elsewhere, RACHEL_LAB_NSPAWN: "/nonexistent/systemd-nspawn" });
    assert.notStrictEqual(r.status, 0, "up succeeded without systemd-nspawn");
    assert.match(r.stderr, /missing \/nonexistent\/systemd-nspawn \(Debian package systemd-container: boots each lab host's Debian with its own systemd\)/);
  });

  it("says so when a container does not boot, and leaves nothing running", function () {
    const r = labRun(["up", "--hosts", "1"], { ...elsewhere, RACHEL_LAB_NSPAWN: "/bin/false" });
    assert.notStrictEqual(r.status, 0, "up succeeded with a container that cannot start");
    assert.match(r.stderr, /lab-01: the container did not start \(\/bin\/false\)/);
    const down = labRun(["down"], elsewhere);
    assert.strictEqual(down.status, 0, down.stderr);
    assert.deepStrictEqual(labProcesses(elsewhere.LAB_DIR), []);
  });
});

/** Lab app processes on the whole machine (their binary path is the lab's own). */
function appProcesses(): number {
  return processesMentioning("/usr/local/libexec/rachel-lab/bun run index.ts").length;
}

function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").includes(text)) found.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return found;
}
