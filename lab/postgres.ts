// A PostgreSQL server for the tests' team backend (`pulumi login postgres://…`): Debian's own
// postgresql binaries, a throwaway cluster under a directory of the caller's, listening on
// 127.0.0.1 only, one role with a random password (scram-sha-256) and one database.
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { randomBytes } from "crypto";
import { gunzipSync } from "zlib";
import { run, tryRun } from "./shell";

export interface StateServer {
    /** The backend URL for PULUMI_BACKEND_URL / pulumi login (holds the password: not for logs). */
    url: string;
    /** The same URL with the password masked, for messages. */
    shown: string;
    /**
     * Every object the backend stored, read straight from the database: the DIY backend keeps
     * each of its files (checkpoints, their backups, history, locks) as a row of pulumi_state,
     * `{"data": <base64 of the file>}`; a .gz file is unzipped.
     */
    objects(): { key: string; text: string }[];
    stop(): void;
}

/** Debian's PostgreSQL binaries, the newest installed major version; a clear error when absent. */
function binaries(): string {
    const root = "/usr/lib/postgresql";
    const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a)) : [];
    if (!versions.length) {
        throw new Error("PostgreSQL is not installed: the team-backend tests need Debian's postgresql package (apt-get install postgresql; scripts/setup.sh installs it)");
    }
    return path.join(root, versions[0], "bin");
}

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.once("error", reject).listen(0, "127.0.0.1", () => {
            const port = (s.address() as net.AddressInfo).port;
            s.close(() => resolve(port));
        });
    });
}

/** Starts a cluster in `dir` (created; removed by stop) and returns its backend URL. */
export async function startStateServer(dir: string): Promise<StateServer> {
    const bin = binaries();
    // PostgreSQL refuses to run as root: the cluster belongs to Debian's postgres user.
    const asPostgres = (cmd: string, args: string[]) => (process.getuid?.() === 0 ? run("runuser", ["-u", "postgres", "--", cmd, ...args]) : run(cmd, args));
    fs.mkdirSync(dir, { recursive: true });
    const password = randomBytes(18).toString("base64url");
    const pwFile = path.join(dir, "pw");
    fs.writeFileSync(pwFile, password, { mode: 0o600 });
    if (process.getuid?.() === 0) run("chown", ["-R", "postgres", dir]);
    const data = path.join(dir, "data");
    asPostgres(path.join(bin, "initdb"), ["-D", data, "-U", "fleet", `--pwfile=${pwFile}`, "-A", "scram-sha-256", "--no-sync"]);
    fs.rmSync(pwFile);
    const port = await freePort();
    asPostgres(path.join(bin, "pg_ctl"), ["-D", data, "-l", path.join(dir, "server.log"), "-w", "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, "start"]);
    const env = { ...process.env, PGPASSWORD: password };
    run(path.join(bin, "psql"), ["-h", "127.0.0.1", "-p", String(port), "-U", "fleet", "-d", "postgres", "-q", "-c", "CREATE DATABASE pulumi_state"], { env });
    const url = (pw: string) => `postgres://fleet:${pw}@127.0.0.1:${port}/pulumi_state?sslmode=disable`;
    return {
        url: url(password),
        shown: url("***"),
        objects: () => {
            const out = run(path.join(bin, "psql"), ["-h", "127.0.0.1", "-p", String(port), "-U", "fleet", "-d", "pulumi_state", "-A", "-t", "-F", "\t", "-c", "SELECT key, data->>'data' FROM pulumi_state"], { env, maxBuffer: 1 << 30 });
            return out.split("\n").filter(Boolean).map((line) => {
                const [key, b64] = line.split("\t");
                const raw = Buffer.from(b64 ?? "", "base64");
                return { key, text: (key.endsWith(".gz") ? gunzipSync(raw) : raw).toString("utf8") };
            });
        },
        stop: () => {
            tryRun("runuser", ["-u", "postgres", "--", path.join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"]);
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}
