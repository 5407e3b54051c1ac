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
.success { color: #176b2c; font-weight: 600; } .rolled_back, .failed { color: #a01818; font-weight: 600; }
.updating { color: #8a5a00; font-weight: 600; } .changes { color: #1b4fa0; font-weight: 600; }
#banner { display: none; background: #fde8e8; border: 1px solid #e0a0a0; padding: .6rem .8rem; margin: .6rem 0; }
#summary { margin: .4rem 0; }
#actions input { width: 22rem; } #actions input#percent { width: 4rem; }
#actions button { margin-right: .3rem; }
#message { margin: .5rem 0; min-height: 1.2rem; }
progress { width: 20rem; vertical-align: middle; }
`;

const SCRIPT = `
const $ = (s) => document.querySelector(s);
let running = null, done = 0, previewed = null;
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
function setStatus(tr, status) { const td = tr.querySelector(".status"); td.textContent = status; td.className = "status " + status.replace(/ /g, "_"); }
function render(view) {
  $("#fleet tbody").innerHTML = "";
  for (const r of view.rows) {
    const tr = row(r.host);
    tr.querySelector(".current").textContent = r.current; tr.querySelector(".previous").textContent = r.previous;
    tr.querySelector(".target").textContent = r.target; tr.querySelector(".last").textContent = r.lastUpdate;
    tr.querySelector(".error").textContent = r.error; tr.querySelector(".marker").textContent = r.marker; setStatus(tr, r.status);
    tr.querySelector(".phase").textContent = r.phase;
  }
  const r = view.rollout;
  $("#summary").textContent = r ? r.verdict + "  (stage " + r.percent + "%, cohort " + r.cohortSize + ": " + r.succeeded + " succeeded, " + r.rolledBack + " rolled back, " + r.failed + " failed)" : "no stage has run on this stack yet";
  $("#banner").style.display = r && r.halted ? "block" : "none";
  $("#banner").innerHTML = "";
  if (r && r.halted) { const b = document.createElement("strong"); b.textContent = "Rollout halted. "; $("#banner").append(b, r.refusal); }
  if (view.running) { running = view.running.action; $("#message").textContent = "a " + running + " is running"; }
  // A finished preview's answer stays on the page until the next run.
  if (previewed) { for (const h of previewed) setStatus(row(h), "will change"); }
}
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
}
async function act(path, body) {
  $("#message").textContent = "…";
  const res = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json", "X-Rachel-Fleet": "1" }, body: JSON.stringify(body || {}) });
  const answer = await res.json().catch(() => ({}));
  if (res.status !== 202) { $("#message").textContent = res.status + ": " + (answer.error || res.statusText); }
}
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
<h1>rachel-fleet</h1>
<div id="summary"></div>
<div id="banner" role="alert"></div>
<div id="actions">
  <label>commit <input id="commit" placeholder="40-hex SHA of the release"></label>
  <button id="btn-release">start release at 10%</button>
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
