// Sample service standing in for Rachel8 in the lab: the smallest thing that
// behaves like the real app to a deploy (git checkout, bun install, a service
// that answers /health with the commit it runs).
import { VERSION } from "./version";

const git = Bun.spawnSync(["git", "rev-parse", "HEAD"]);
if (git.exitCode !== 0) {
  console.error(`cannot read the deployed commit: ${git.stderr.toString().trim()}`);
  process.exit(1);
}
const commit = git.stdout.toString().trim();
const port = Number(process.env.PORT ?? 8080);
const hostname = process.env.HOST ?? "127.0.0.1";

let healthy = () => true;

// The subscriber's env (the fleet's environment file): a value of "invalid" stands for a
// credential the real app would reject at start, so a bad rotation fails verify.
const refused = Object.keys(process.env).filter((name) => process.env[name] === "invalid");
if (refused.length > 0) {
  console.error(`refusing to start: ${refused.join(", ")} is invalid`);
  process.exit(1);
}

// The lab's crash-loop fault sets this (a unit drop-in): the service dies this long after each start.
const crashAfterMs = Number(process.env.RACHEL8_CRASH_AFTER_MS ?? 0);
if (crashAfterMs > 0) {
  setTimeout(() => {
    console.error(`fatal: crashing ${crashAfterMs} ms after start (lab fault crash-loop)`);
    process.exit(1);
  }, crashAfterMs);
}

// @release-defect: releases built to exercise failure paths insert their defect here.

Bun.serve({
  port,
  hostname,
  fetch(req) {
    const { pathname } = new URL(req.url);
    if (pathname === "/health") {
      return healthy()
        ? Response.json({ ok: true, commit })
        : Response.json({ ok: false, commit }, { status: 500 });
    }
    // Which variables the service sees, by name only: never a value.
    if (pathname === "/env-names") return Response.json(Object.keys(process.env).sort());
    if (pathname === "/") return new Response(`rachel8 ${VERSION} ${commit}\n`);
    return new Response("not found\n", { status: 404 });
  },
});
console.log(`rachel8 ${VERSION} (${commit}) listening on ${hostname}:${port}`);
