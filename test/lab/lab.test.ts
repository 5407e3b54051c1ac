// Smoke test of the lab fleet: real sshd hosts on loopback, checked from the
// outside with ssh2 and the pinned host keys. Needs root (it brings a lab up and
// down in LAB_DIR or <repo>/.lab, replacing any lab already there).
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { readLabStatus, LabStatus, LabHost } from "../../lab/labStatus";
import { runOnHost, HostCommandResult } from "../../lab/sshExec";
import { labPaths, REPO_ROOT } from "../../lab/paths";
import { labProcesses, labMountsHere } from "../../lab/teardown";
import { getHealth } from "../../lab/hostLifecycle";
import { SUDOERS_FILE } from "../../lab/systemAccounts";

const TS_NODE = require.resolve("ts-node/dist/bin.js");

function lab(...args: string[]): string {
  const r = spawnSync(process.execPath, [TS_NODE, "--transpile-only", path.join(REPO_ROOT, "lab", "cli.ts"), ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
  });
  assert.strictEqual(r.status, 0, `npm run lab -- ${args.join(" ")} failed (exit ${r.status}):\n${r.stderr}`);
  return r.stdout;
}

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

async function healthCommit(host: LabHost): Promise<string> {
  const r = await getHealth(host.host);
  assert.strictEqual(r.status, 200, `${host.name}: /health answered ${r.status} ${r.body}`);
  return JSON.parse(r.body).commit;
}

async function expectRejected(promise: Promise<unknown>, pattern: RegExp, what: string): Promise<void> {
  try {
    await promise;
  } catch (e) {
    assert.match((e as Error).message, pattern, `${what}: wrong failure`);
    return;
  }
  assert.fail(`${what}: expected a failure matching ${pattern}, but the command succeeded`);
}

let status: LabStatus;
let baseline: ReturnType<typeof systemSnapshot>;
let wentDown = false;

describe("lab fleet (real sshd hosts on 127.0.1.x)", function () {
  before(function () {
    if (process.getuid?.() !== 0) throw new Error("the lab test must run as root (it creates mount namespaces, a user and a sudoers rule)");
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
    assert.deepStrictEqual(Object.keys(printed).sort(), ["faults", "healthUrlTemplate", "hosts", "labDir", "privateKeyPath", "releases", "repoUrl"]);
    assert.deepStrictEqual(printed.hosts.map((h: LabHost) => `${h.name}=${h.host}:${h.port}`), ["lab-01=127.0.1.1:22", "lab-02=127.0.1.2:22", "lab-03=127.0.1.3:22"]);
    for (const sha of Object.values(printed.releases)) assert.match(String(sha), /^[0-9a-f]{40}$/);
    assert.strictEqual(Object.keys(printed.releases).length, 8);
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
    assert.deepStrictEqual(out.split("\n"), ["rachel", "/home/rachel", "/usr/local/bin/bun", "/usr/local/bin/systemctl"]);
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
    const other = await sh(h, "sudo -n systemctl restart other");
    assert.notStrictEqual(other.code, 0, "sudo allowed 'systemctl restart other'");
    assert.match(other.stderr, /password is required|not allowed/i);
    const shell = await sh(h, "sudo -n /bin/sh -c true");
    assert.notStrictEqual(shell.code, 0, "sudo allowed a shell");
  });

  it("reports failed after a crash-start checkout and restart", async function () {
    const h = status.hosts[1];
    await expectOk(h, `cd rachel && git checkout -q ${status.releases["crash-start"]} && sudo systemctl restart rachel8`);
    await waitForState(h, "failed", 5000);
    const st = await sh(h, "systemctl status rachel8");
    assert.strictEqual(st.code, 3);
    assert.match(st.stdout, /failed/);
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
    await waitForState(h, "failed", 6000);
    await expectOk(h, `${checkout("v1")} && sudo systemctl restart rachel8`);
    await waitForState(h, "active", 5000);
    assert.strictEqual(await healthCommit(h), status.releases.v1);
  });

  it("fault unreachable refuses connections, and --off restores the same host key", async function () {
    const h = status.hosts[2];
    lab("fault", "unreachable", "--host", h.name);
    assert.deepStrictEqual(readLabStatus().faults, { [h.name]: ["unreachable"] });
    await expectRejected(sh(h, "true"), /ECONNREFUSED/, "connecting to an unreachable host");
    lab("fault", "unreachable", "--host", h.name, "--off");
    assert.strictEqual(await expectOk(h, "echo back"), "back");
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

  it("fault disk-full makes writes in the app dir fail with ENOSPC, and --off restores it losslessly", async function () {
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
    assert.deepStrictEqual(labProcesses(p.mountLabel), [], "processes still live in the lab's namespaces");
    assert.deepStrictEqual(processesMentioning(p.labDir), [], "processes still refer to the lab directory");
    assert.deepStrictEqual(labMountsHere(p.labDir), [], "mounts left under the lab directory");
    assert.ok(!fs.existsSync(p.labDir), `${p.labDir} still exists`);
    assert.ok(!fs.existsSync(SUDOERS_FILE), `${SUDOERS_FILE} still exists`);
    assert.deepStrictEqual(systemSnapshot(), baseline, "files outside the lab directory differ from before `up`");
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
