// Builds the lab's origin repository: the sample app from lab/app committed as
// a series of tagged releases that a rollout moves between.
import * as fs from "fs";
import * as path from "path";
import { run } from "./shell";

/** Releases that exit 1 this long after each start: under Restart=on-failure, crash loops of every rhythm. */
export const CRASH_AFTER = ["0.5s", "1.5s", "2.5s", "4s", "6s"] as const;
export const RELEASE_TAGS = [
  "v1", "v2", "v3", "bad-install", "crash-start", "crash-late", "bad-health", "slow-install", "install-10s",
  ...CRASH_AFTER.map((t) => `crash-${t}` as const),
] as const;
export type ReleaseTag = (typeof RELEASE_TAGS)[number];
export type Releases = Record<ReleaseTag, string>;

const APP_SOURCE = path.join(__dirname, "app");
const DEFECT_HOOK = "// @release-defect: releases built to exercise failure paths insert their defect here.";

interface Release {
  tag: ReleaseTag;
  message: string;
  /** Defective releases start from the last good one, so checking one out is a realistic move. */
  base: ReleaseTag | null;
  change: (workTree: string) => void;
}

const setVersion = (version: string) => (dir: string) =>
  fs.writeFileSync(path.join(dir, "version.ts"), `export const VERSION = ${JSON.stringify(version)};\n`);

const injectDefect = (tag: string, code: string) => (dir: string) => {
  setVersion(`v3+${tag}`)(dir);
  const file = path.join(dir, "index.ts");
  const source = fs.readFileSync(file, "utf8");
  if (!source.includes(DEFECT_HOOK)) throw new Error(`lab/app/index.ts lost its defect hook line: ${DEFECT_HOOK}`);
  fs.writeFileSync(file, source.replace(DEFECT_HOOK, code));
};

const editPackageJson = (tag: string, edit: (pkg: any) => void) => (dir: string) => {
  setVersion(`v3+${tag}`)(dir);
  const file = path.join(dir, "package.json");
  const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
  edit(pkg);
  fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
};

const RELEASES: Release[] = [
  { tag: "v1", message: "Release v1", base: null, change: () => {} },
  { tag: "v2", message: "Release v2", base: "v1", change: setVersion("v2") },
  { tag: "v3", message: "Release v3", base: "v2", change: setVersion("v3") },
  {
    tag: "bad-install",
    message: "Use the native helper package (path missing: bun install fails)",
    base: "v3",
    change: editPackageJson("bad-install", (p) => (p.dependencies = { "rachel8-native": "file:./vendor/rachel8-native" })),
  },
  {
    tag: "crash-start",
    message: "Require a signing key at start (never set: exits 1 at once)",
    base: "v3",
    change: injectDefect("crash-start", 'console.error("fatal: RACHEL8_SIGNING_KEY is not set");\nprocess.exit(1);'),
  },
  {
    tag: "crash-late",
    message: "Connect to the job queue (gives up after ~4 s and exits 1)",
    base: "v3",
    change: injectDefect(
      "crash-late",
      'setTimeout(() => {\n  console.error("fatal: lost connection to the job queue");\n  process.exit(1);\n}, 4000);',
    ),
  },
  {
    tag: "bad-health",
    message: "Health reports a missing dependency (500)",
    base: "v3",
    change: injectDefect("bad-health", "healthy = () => false;"),
  },
  {
    tag: "slow-install",
    message: "Add a preinstall step that never finishes",
    // bun runs the root package's own lifecycle scripts (unlike dependencies'),
    // so this hangs `bun install` until the caller's timeout kills it.
    base: "v3",
    change: editPackageJson("slow-install", (p) => (p.scripts = { ...p.scripts, preinstall: "sleep 600" })),
  },
  {
    tag: "install-10s",
    message: "Build native assets at install (slow: ~10 s, but succeeds)",
    // A good release whose install takes as long as a real one with native dependencies.
    base: "v3",
    change: editPackageJson("install-10s", (p) => (p.scripts = { ...p.scripts, preinstall: "sleep 10" })),
  },
  ...CRASH_AFTER.map((after): Release => ({
    tag: `crash-${after}`,
    message: `Warm a cache at start (fails and exits 1 after ${after})`,
    base: "v3",
    change: injectDefect(
      `crash-${after}`,
      `setTimeout(() => {\n  console.error("fatal: cache warm-up failed");\n  process.exit(1);\n}, ${parseFloat(after) * 1000});`,
    ),
  })),
];

/** Creates `originRepo` (bare) and returns each release tag's commit SHA. */
export function buildOriginRepo(originRepo: string, scratchDir: string): Releases {
  fs.rmSync(scratchDir, { recursive: true, force: true });
  fs.mkdirSync(scratchDir, { recursive: true });
  // Fixed identity and dates make the SHAs the same on every `up`.
  const env = {
    ...process.env,
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: "Rachel8 Release Bot",
    GIT_AUTHOR_EMAIL: "releases@rachel8.invalid",
    GIT_COMMITTER_NAME: "Rachel8 Release Bot",
    GIT_COMMITTER_EMAIL: "releases@rachel8.invalid",
  };
  const git = (args: string[], extraEnv: Record<string, string> = {}) =>
    run("git", ["-C", scratchDir, ...args], { env: { ...env, ...extraEnv } }).trim();

  git(["init", "-q", "-b", "main"]);
  fs.cpSync(APP_SOURCE, scratchDir, { recursive: true });
  RELEASES.forEach((release, i) => {
    if (release.base) git(["checkout", "-q", "--detach", release.base]);
    release.change(scratchDir);
    git(["add", "-A"]);
    const date = `2025-01-01T00:${String(i).padStart(2, "0")}:00Z`;
    git(["commit", "-q", "-m", release.message], { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date });
    git(["tag", release.tag]);
  });
  // main points at the newest good release, as a real origin's default branch would.
  git(["branch", "-f", "main", "v3"]);
  git(["checkout", "-q", "main"]);
  fs.rmSync(originRepo, { recursive: true, force: true });
  run("git", ["clone", "-q", "--bare", scratchDir, originRepo], { env });
  const releases = {} as Releases;
  for (const tag of RELEASE_TAGS) releases[tag] = git(["rev-parse", `${tag}^{commit}`]);
  fs.rmSync(scratchDir, { recursive: true, force: true });
  return releases;
}
