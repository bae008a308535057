#include "node/internal/status_page.h"

namespace converge {

// Kept as one raw string so the binary serves it without files beside it.
// Everything shown is inserted as text (textContent or esc()), never as
// markup: key and node names come from clients and peers.
const std::string_view kStatusPageHtml = R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Converge status</title>
<style>
  :root { --bg:#f5f6f8; --card:#fff; --ink:#1d2330; --muted:#6b7385; --line:#e3e6ec;
          --ok:#1f9d55; --okbg:#e6f6ed; --warn:#b7791f; --warnbg:#fdf3e1;
          --bad:#c53030; --badbg:#fdeaea; --self:#2b6cb0; --selfbg:#e8f0fb; }
  * { box-sizing: border-box; }
  body { margin:0; background:var(--bg); color:var(--ink);
         font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
  header { background:var(--ink); color:#fff; padding:14px 24px; display:flex; align-items:baseline; gap:16px; flex-wrap:wrap; }
  header h1 { font-size:18px; margin:0; font-weight:600; letter-spacing:.2px; }
  header .sub { color:#b9c0cf; font-size:13px; }
  header .live { margin-left:auto; font-size:12px; color:#b9c0cf; }
  .dot { display:inline-block; width:8px; height:8px; border-radius:50%; background:var(--ok); margin-right:6px; vertical-align:middle; }
  .dot.stale { background:var(--bad); }
  main { padding:20px 24px 32px; max-width:1200px; }
  h2 { font-size:13px; text-transform:uppercase; letter-spacing:.08em; color:var(--muted); margin:24px 0 10px; font-weight:600; }
  .cards { display:grid; grid-template-columns:repeat(auto-fill,minmax(230px,1fr)); gap:12px; }
  .card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; }
  .card .top { display:flex; align-items:center; justify-content:space-between; margin-bottom:6px; }
  .card .name { font-weight:600; font-size:16px; }
  .kv { display:grid; grid-template-columns:auto 1fr; gap:2px 10px; font-size:12.5px; }
  .kv .k { color:var(--muted); }
  .kv .v { font-variant-numeric:tabular-nums; overflow-wrap:anywhere; }
  .pill { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px; font-weight:600; }
  .pill.ok { color:var(--ok); background:var(--okbg); }
  .pill.warn { color:var(--warn); background:var(--warnbg); }
  .pill.bad { color:var(--bad); background:var(--badbg); }
  .pill.self { color:var(--self); background:var(--selfbg); }
  .pill.unknown { color:var(--muted); background:#eef0f3; }
  table { border-collapse:collapse; background:var(--card); border:1px solid var(--line); border-radius:8px; overflow:hidden; }
  th, td { padding:7px 12px; border-bottom:1px solid var(--line); text-align:left; font-variant-numeric:tabular-nums; }
  th { font-size:12px; color:var(--muted); font-weight:600; background:#fafbfc; }
  tr:last-child td { border-bottom:none; }
  td.num { text-align:right; }
  .cell { display:flex; flex-direction:column; gap:1px; }
  .cell small { color:var(--muted); font-size:11.5px; }
  .partitions { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 14px; }
  .partitions li { margin:2px 0; }
  .partitions .none { color:var(--ok); }
  .muted { color:var(--muted); }
  .err { color:var(--bad); }
  .row { display:flex; gap:24px; flex-wrap:wrap; align-items:flex-start; }
</style>
</head>
<body>
<header>
  <h1>Converge cluster</h1>
  <span class="sub" id="sub">connecting&hellip;</span>
  <span class="live" id="live"><span class="dot stale"></span>waiting for the first status</span>
</header>
<main>
  <h2>Nodes</h2>
  <div class="cards" id="nodes"></div>
  <h2>Partitions</h2>
  <div class="partitions" id="partitions"></div>
  <h2>Links and replication lag</h2>
  <div id="links"></div>
  <h2>Reservation counters: rights per node</h2>
  <div id="rcounters"></div>
</main>
<script>
"use strict";
// Sources: this node, plus any given as ?nodes=host:port,host:port.
const params = new URLSearchParams(location.search);
const sources = [""].concat((params.get("nodes") || "").split(",").map(s => s.trim())
    .filter(s => s.length > 0).map(s => (s.includes("://") ? s : "http://" + s)));
const views = new Map();  // source -> {status, error, at}

function esc(s) {
  return String(s).replace(/[&<>"']/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));
}
function fmtMs(ms) {
  if (ms < 1000) return ms + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
  return Math.round(ms / 60000) + " min";
}
function fmtBytes(b) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
  return (i === 0 ? b : b.toFixed(1)) + " " + u[i];
}
function fmtUptime(s) {
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return d > 0 ? d + "d " + h + "h" : h > 0 ? h + "h " + m + "m" : m + "m " + (s % 60) + "s";
}
function fmtVV(vv) {
  const e = Object.entries(vv || {});
  return e.length ? e.map(([k, v]) => k + "=" + v).join(" ") : "\u2013";
}
// What an observer's view says about the link to a member.
function linkOf(m) {
  if (m.self) return {cls: "self", text: "self"};
  if (m.partitioned) return {cls: "bad", text: "partitioned"};
  if (m.state === "removed") return {cls: "unknown", text: "removed"};
  if (!m.connected) return {cls: m.state === "suspect" ? "warn" : "bad",
                            text: m.state === "alive" ? "down" : m.state};
  if (m.state === "suspect") return {cls: "warn", text: "suspect"};
  return {cls: "ok", text: "up"};
}

async function poll(src) {
  try {
    const r = await fetch(src + "/status.json", {cache: "no-store"});
    if (!r.ok) throw new Error("HTTP " + r.status);
    views.set(src, {status: await r.json(), error: null, at: Date.now()});
  } catch (e) {
    const old = views.get(src) || {};
    views.set(src, {status: old.status || null, error: String(e.message || e), at: old.at || 0});
  }
}

function render() {
  const own = views.get("");
  const live = document.getElementById("live");
  const fresh = own && own.status && !own.error;
  live.innerHTML = '<span class="dot' + (fresh ? "" : " stale") + '"></span>' +
      (fresh ? "live \u00b7 updated " + esc(new Date(own.at).toLocaleTimeString())
             : own && own.error ? "this node does not answer: " + esc(own.error) : "waiting for the first status");
  if (!own || !own.status) return;
  const me = own.status.node;
  const observers = [];  // views that answered: name -> status
  for (const [src, v] of views) if (v.status && !v.error) observers.push(v.status);
  const byName = (a, b) => a.localeCompare(b, undefined, {numeric: true});
  observers.sort((a, b) => byName(a.node.name, b.node.name));
  document.getElementById("sub").textContent = "as seen from " + me.name +
      (observers.length > 1 ? " and " + (observers.length - 1) + " more" : "") +
      " \u00b7 v" + me.version + " \u00b7 fsync " + me.fsync;

  // Every node any view knows, by name; in name order.
  const names = new Set();
  for (const s of observers) for (const m of s.members) names.add(m.name);
  const all = Array.from(names).sort(byName);
  const byObserver = new Map(observers.map(s => [s.node.name, s]));
  const ownMembers = new Map(own.status.members.map(m => [m.name, m]));

  // Nodes: what the node itself reports when we have its view, else how
  // this node sees it.
  let html = "";
  for (const name of all) {
    const view = byObserver.get(name);
    const seen = ownMembers.get(name);
    let state = seen ? linkOf(seen) : {cls: "unknown", text: "unknown"};
    if (view && name !== me.name) state = {cls: "ok", text: "serving"};
    if (seen && seen.self) state = {cls: "self", text: "this node"};
    if (seen && seen.partitioned) state = {cls: "bad", text: "partitioned"};
    const kv = [];
    if (view) {
      kv.push(["keys", view.node.keys], ["log", fmtBytes(view.node.log_bytes)],
              ["holds", view.node.holds], ["tombstones", view.node.tombstones_pending],
              ["uptime", fmtUptime(view.node.uptime_s)], ["vv", fmtVV(view.node.vv)]);
    } else if (seen) {
      kv.push(["client", seen.client_address || "\u2013"], ["last contact", fmtMs(seen.last_contact_ms_ago) + " ago"],
              ["vv (last known)", fmtVV(seen.vv)]);
    }
    if (seen && !seen.self) {
      kv.push(["lag from " + me.name, seen.lag_deltas + " deltas / " + fmtMs(seen.lag_ms)]);
      if (seen.clock_offset_ms) kv.push(["clock offset", seen.clock_offset_ms + " ms"]);
    }
    html += '<div class="card" data-node="' + esc(name) + '"><div class="top"><span class="name">' + esc(name) +
        '</span><span class="pill ' + state.cls + '">' + esc(state.text) + '</span></div><div class="kv">' +
        kv.map(([k, v]) => '<span class="k">' + esc(k) + '</span><span class="v">' + esc(v) + "</span>").join("") +
        "</div></div>";
  }
  document.getElementById("nodes").innerHTML = html;

  // Partitions: per observer, the nodes it cannot reach.
  const cuts = [];
  for (const s of observers) {
    const lost = s.members.filter(m => !m.self && m.state !== "removed" && linkOf(m).cls !== "ok");
    if (lost.length) {
      cuts.push("<li><b>" + esc(s.node.name) + "</b> cannot reach " + lost.map(m =>
          "<b>" + esc(m.name) + "</b> (" + esc(linkOf(m).text) + ")").join(", ") + "</li>");
    }
  }
  document.getElementById("partitions").innerHTML = cuts.length
      ? "<ul style='margin:0;padding-left:18px'>" + cuts.join("") + "</ul>"
      : '<span class="none">No partitions: every link ' + (observers.length > 1 ? "seen" : "of " + esc(me.name)) + " is up.</span>";

  // Links: rows are the nodes whose view we have, columns every node.
  let t = "<table><tr><th>from \\ to</th>" + all.map(n => "<th>" + esc(n) + "</th>").join("") + "</tr>";
  for (const s of observers) {
    const mine = new Map(s.members.map(m => [m.name, m]));
    t += "<tr><th>" + esc(s.node.name) + "</th>";
    for (const n of all) {
      const m = mine.get(n);
      if (!m) { t += '<td class="muted">\u2013</td>'; continue; }
      if (m.self) { t += '<td class="muted">\u00b7</td>'; continue; }
      const l = linkOf(m);
      t += '<td><div class="cell"><span class="pill ' + l.cls + '">' + esc(l.text) + "</span><small>lag " +
           m.lag_deltas + " \u00b7 " + esc(fmtMs(m.lag_ms)) + "</small></div></td>";
    }
    t += "</tr>";
  }
  t += "</table>";
  const missing = sources.filter(src => !views.has(src) || views.get(src).error).filter(src => src !== "");
  if (missing.length) t += '<p class="err">Not answering: ' + missing.map(esc).join(", ") + "</p>";
  if (observers.length === 1 && all.length > 1) {
    t += '<p class="muted">One row: this node sees only its own links. Open this page with ' +
         "<code>?nodes=host:http-port,...</code> to add the other nodes' views.</p>";
  }
  document.getElementById("links").innerHTML = t;

  // Reservation counters, from this node's view.
  const rcs = own.status.rcounters;
  if (!rcs.length) {
    document.getElementById("rcounters").innerHTML = '<span class="muted">No reservation counters.</span>';
  } else {
    const cols = all.filter(n => rcs.some(rc => n in rc.rights));
    let r = "<table><tr><th>key</th><th>value</th>" + cols.map(n => "<th>" + esc(n) + "</th>").join("") + "</tr>";
    for (const rc of rcs) {
      r += "<tr><td>" + esc(rc.key) + '</td><td class="num">' + rc.value + "</td>" +
           cols.map(n => '<td class="num">' + (n in rc.rights ? rc.rights[n] : "\u2013") + "</td>").join("") + "</tr>";
    }
    r += "</table>";
    if (own.status.rcounters_truncated) r += '<p class="muted">Only the first 100 counters are shown.</p>';
    document.getElementById("rcounters").innerHTML = r;
  }
}

async function tick() {
  await Promise.all(sources.map(poll));
  render();
}
tick();
setInterval(tick, 1000);
</script>
</body>
</html>
)HTML";

}  // namespace converge
