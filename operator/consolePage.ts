/**
 * The console's one page: the fleet table, the rollout banner, the actions, and the live
 * events of a run (server-sent events). Plain HTML and a little JavaScript, no build
 * step and nothing fetched from elsewhere. It only ever receives the fleet view and the
 * page events (operator/engineEvents.ts).
 */

const STYLE = `
body { font: 14px system-ui, sans-serif; margin: 1.5rem; color: #1d2330; }
h1 { font-size: 1.3rem; margin: 0 0 .8rem; }
table { border-collapse: collapse; width: 100%; margin-top: .8rem; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #dde1e8; font-variant-numeric: tabular-nums; }
th { background: #f3f5f8; }
td.error, #log { color: #8a1c1c; font-size: 12px; }
td.host, td.phase, td.current, td.previous, td.target, td.status, td.marker, td.last { white-space: nowrap; }
td.status { font-weight: 600; } td.status span { padding: .1rem .45rem; border-radius: .7rem; }
.success span { background: #dcf3e2; color: #176b2c; } .rolled_back span, .failed span { background: #fbdcdc; color: #a01818; }
.updating span { background: #fcefd2; color: #8a5a00; } .will_change span { background: #dbe7fb; color: #1b4fa0; outline: 2px solid #1b4fa0; }
#stages span { display: inline-block; padding: .2rem .7rem; margin-right: .3rem; border: 1px solid #c5ccd8; border-radius: .3rem; color: #7a8394; }
#stages span.done { background: #dcf3e2; color: #176b2c; border-color: #9fd3ad; } #stages span.current { background: #1b4fa0; color: #fff; border-color: #1b4fa0; }
#autopilot { margin-left: .6rem; font-weight: 600; color: #1b4fa0; } #autopilot.stopped { color: #a01818; }
#timeline { margin: .3rem 0; padding-left: 1.4rem; color: #3a4456; } #timeline li.halted, #timeline li.refused, #timeline li.stopped { color: #a01818; }
#counts { margin: .3rem 0; color: #3a4456; }
#banner { display: none; background: #fde8e8; border: 1px solid #e0a0a0; padding: .6rem .8rem; margin: .6rem 0; }
#summary { margin: .4rem 0; }
#actions input { width: 22rem; } #actions input#percent { width: 4rem; } #actions input#stage-list { width: 7rem; }
#actions button { margin-right: .3rem; }
#message { margin: .5rem 0; min-height: 1.2rem; }
progress { width: 20rem; vertical-align: middle; }
`;

const SCRIPT = `
const $ = (s) => document.querySelector(s);
let running = null, done = 0, previewed = null, autopilot = null;
const short = (s) => s || "";
function row(host) {
  let tr = document.querySelector('tr[data-host="' + CSS.escape(host) + '"]');
  if (!tr) {
    tr = document.createElement("tr"); tr.dataset.host = host;
    for (const c of ["host", "phase", "current", "previous", "target", "status", "step", "marker", "last", "error"]) { const td = document.createElement("td"); td.className = c; tr.appendChild(td); }
    tr.querySelector(".host").textContent = host; $("#fleet tbody").appendChild(tr);
  }
  return tr;
}
// A colored badge per status; "will change" (a preview's answer) stands out.
function setStatus(tr, status) { const td = tr.querySelector(".status"); const b = document.createElement("span"); b.textContent = status; td.replaceChildren(b); td.className = "status " + status.replace(/ /g, "_"); counts(); }
// Total, updated, failed and rolled back, from the rows as they are now.
function counts() {
  const st = [...document.querySelectorAll("td.status")].map((td) => td.textContent);
  const n = (s) => st.filter((x) => x === s).length;
  $("#counts").textContent = st.length + " hosts: " + n("success") + " updated, " + n("failed") + " failed, " + n("rolled_back") + " rolled back" + (n("updating") ? ", " + n("updating") + " updating" : "");
}
// The stage indicator: 10 / 50 / 100 %, the stages done for the release and the one running.
function stages(release, percent, runningPercent) {
  const list = autopilot && autopilot.release === release && autopilot.stages ? autopilot.stages : [10, 50, 100];
  $("#stages").replaceChildren(...list.map((p) => { const s = document.createElement("span"); s.textContent = p + "%";
    s.className = runningPercent === p ? "current" : percent >= p ? "done" : ""; return s; }));
  $("#stages").title = release ? "release " + release : "";
}
function render(view) {
  if (view.label) $("#fleet-label").textContent = "· " + view.label;
  $("#fleet tbody").innerHTML = "";
  for (const r of view.rows) {
    const tr = row(r.host);
    tr.querySelector(".current").textContent = r.current; tr.querySelector(".previous").textContent = r.previous;
    tr.querySelector(".target").textContent = r.target; tr.querySelector(".last").textContent = r.lastUpdate;
    tr.querySelector(".error").textContent = r.error; tr.querySelector(".marker").textContent = r.marker; setStatus(tr, r.status);
    tr.querySelector(".phase").textContent = r.phase;
  }
  const r = view.rollout, run = view.running;
  const runningRelease = run && run.release ? "running: release " + run.release.slice(0, 12) + " at " + run.percent + "% (" + run.action + "). " : "";
  $("#summary").textContent = runningRelease + (r ? r.verdict + "  (stage " + r.percent + "%, cohort " + r.cohortSize + ": " + r.succeeded + " succeeded, " + r.rolledBack + " rolled back, " + r.failed + " failed)" : "no stage has run on this stack yet");
  const sameRelease = r && (!run || !run.release || run.release === r.release);
  stages(run && run.release ? run.release : r && r.release, sameRelease ? r.percent : 0, run && run.percent);
  counts();
  $("#banner").style.display = r && r.halted ? "block" : "none";
  $("#banner").innerHTML = "";
  if (r && r.halted) { const b = document.createElement("strong"); b.textContent = "Rollout halted. "; $("#banner").append(b, r.refusal); }
  // A page opened during a run shows that run's progress from where it is.
  if (run) { running = run.action; done = run.done || 0; progress(run.total || 0); $("#message").textContent = "a " + running + " is running"; }
  if (view.autopilot) renderAutopilot(view.autopilot);
  // A finished preview's answer stays on the page until the next run.
  if (previewed) { for (const h of previewed) setStatus(row(h), "will change"); }
}
// The autopilot's state in a sentence, the bake's countdown included.
function autopilotLine(a) {
  const stage = a.stage + "%";
  if (!a.alive && ["running", "waiting for the bake", "paused"].includes(a.state)) return "autopilot: stopped: its driver (pid " + a.pid + ") is gone; resume goes on from what the stack records";
  if (a.state === "running") return "autopilot: running the " + stage + " stage";
  if (a.state === "paused") return "autopilot: paused before the " + stage + " stage";
  if (a.state === "waiting for the bake") {
    const left = Math.max(0, Math.ceil((Date.parse(a.bakeEndsAt) - Date.now()) / 1000));
    return "autopilot: waiting for the bake: " + Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0") + " left before the " + stage + " stage";
  }
  return "autopilot: " + a.state + ": " + a.message;
}
const clock = (iso) => iso ? new Date(iso).toISOString().slice(11, 19) : "";
function renderAutopilot(a) {
  autopilot = a;
  $("#autopilot").textContent = autopilotLine(a);
  $("#autopilot").className = /stopped/.test($("#autopilot").textContent) ? "stopped" : "";
  $("#timeline").replaceChildren(...(a.timeline || []).map((l) => { const li = document.createElement("li");
    li.textContent = l.percent + "%  " + clock(l.startedAt) + " → " + (l.endedAt ? clock(l.endedAt) + "  " + l.outcome + ": " + l.summary : "running");
    li.className = l.outcome ? l.outcome.split(" ").pop() : "running"; return li; }));
  $("#timeline").title = "release " + a.release;
}
setInterval(() => { if (autopilot && autopilot.state === "waiting for the bake") $("#autopilot").textContent = autopilotLine(autopilot); }, 1000);
function progress(total) { $("#progress").max = Math.max(total, 1); $("#progress").value = done; $("#progress-text").textContent = done + " / " + total; }
function onEvent(e) {
  if (e.kind === "run" && e.state === "started") { running = e.action; done = 0; previewed = e.action === "preview" ? new Set() : null; progress(e.total || 0); $("#log").textContent = ""; $("#message").textContent = e.action + " running"; }
  else if (e.kind === "run") {
    const answer = previewed && e.state === "finished" ? ": " + previewed.size + " host(s) would change" + (previewed.size ? " (" + [...previewed].sort().join(", ") + ")" : "") : "";
    $("#message").textContent = e.action + " " + e.state + (e.message ? ": " + e.message : "") + answer; running = null;
  }
  else if (e.kind === "host" && e.phase === "updating") { if (previewed) previewed.add(e.host); setStatus(row(e.host), previewed ? "will change" : "updating"); }
  else if (e.kind === "host" && e.phase === "step") { row(e.host).querySelector(".step").textContent = e.text; }
  else if (e.kind === "host" && e.phase === "done") {
    const tr = row(e.host); setStatus(tr, e.status); tr.querySelector(".error").textContent = e.error;
    done++; progress(+$("#progress").max);
  }
  else if (e.kind === "log") { const li = document.createElement("li"); li.textContent = e.level + ": " + e.text; $("#log").appendChild(li); }
  else if (e.kind === "view") { render(e.view); }
  else if (e.kind === "autopilot" && e.autopilot) { renderAutopilot(e.autopilot); }
  else if (e.kind === "autopilot") { $("#autopilot-said").textContent = e.said; }
}
async function act(path, body) {
  $("#message").textContent = "…";
  const res = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json", "X-Rachel-Fleet": "1" }, body: JSON.stringify(body || {}) });
  const answer = await res.json().catch(() => ({}));
  if (res.status !== 202) { $("#message").textContent = res.status + ": " + (answer.error || res.statusText); }
  else if (answer.message) { $("#message").textContent = answer.message; }
}
$("#btn-autopilot").onclick = () => act("/api/rollout/start", { commit: $("#commit").value.trim(), stages: $("#stage-list").value.trim() });
for (const v of ["pause", "resume", "abort"]) $("#btn-" + v).onclick = () => act("/api/rollout/" + v);
$("#btn-release").onclick = () => act("/api/release", { commit: $("#commit").value.trim() });
$("#btn-preview").onclick = () => act("/api/preview", { percent: $("#percent").value });
$("#btn-advance").onclick = () => act("/api/advance", { percent: $("#percent").value });
$("#btn-retry").onclick = () => act("/api/retry");
$("#btn-refresh").onclick = () => act("/api/refresh");
fetch("/api/fleet").then((r) => r.json()).then(render);
new EventSource("/api/events").onmessage = (m) => onEvent(JSON.parse(m.data));
`;

export function consolePage(): string {
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rachel-fleet console</title><style>${STYLE}</style></head>
<body>
<h1>rachel-fleet <span id="fleet-label"></span></h1>
<div><span id="stages"></span><span id="autopilot"></span></div>
<div id="autopilot-said"></div>
<ol id="timeline"></ol>
<div id="summary"></div>
<div id="counts"></div>
<div id="banner" role="alert"></div>
<div id="actions">
  <label>commit <input id="commit" placeholder="40-hex SHA of the release"></label>
  <label>stages <input id="stage-list" value="10,50,100"></label>
  <button id="btn-autopilot">start release</button>
  <button id="btn-pause">pause</button>
  <button id="btn-resume">resume</button>
  <button id="btn-abort">abort</button>
  <button id="btn-release">10% stage only</button>
  <label>percent <input id="percent" value="50"></label>
  <button id="btn-preview">preview</button>
  <button id="btn-advance">advance</button>
  <button id="btn-retry">retry stage</button>
  <button id="btn-refresh">refresh</button>
</div>
<div id="message"></div>
<div><progress id="progress" value="0" max="1"></progress> <span id="progress-text"></span></div>
<table id="fleet"><thead><tr><th>host</th><th>phase</th><th>current</th><th>previous</th><th>target</th><th>status</th><th>step</th><th>update marker</th><th>last update</th><th>error</th></tr></thead><tbody></tbody></table>
<ul id="log"></ul>
<script>${SCRIPT}</script>
</body></html>
`;
}
