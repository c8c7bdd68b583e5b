"use strict";
const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;
let selectedId = null;
let generation = 0;

function filterParams() {
  const params = new URLSearchParams();
  const name = $("name-filter").value;
  if (name) params.append("name", name);
  for (const part of $("prop-filter").value.split(",")) {
    if (part.trim()) params.append("where", part.trim());
  }
  return params;
}

async function getJSON(path, params) {
  const response = await fetch(path + (params ? "?" + params.toString() : ""));
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function text(el, value) { el.textContent = value; return el; }
function cell(row, value, cls) { const td = text(document.createElement("td"), value); if (cls) td.className = cls; row.appendChild(td); }

function summary(payload) {
  const parts = [];
  for (const [k, v] of Object.entries(payload.eventProperties)) parts.push(k + "=" + JSON.stringify(v));
  for (const [k, v] of Object.entries(payload.userProperties)) parts.push("user." + k + "=" + JSON.stringify(v));
  return parts.join("  ");
}

function renderEvents(events) {
  const body = $("events").tBodies[0];
  body.replaceChildren();
  for (const ev of events) {
    const row = document.createElement("tr");
    row.dataset.id = ev.id;
    row.dataset.event = ev.event;
    if (ev.id === selectedId) row.className = "selected";
    const when = new Date(ev.time_unix_nano / 1e6);  // the date too for older (e.g. backfilled) events
    cell(row, when.toDateString() === new Date().toDateString() ? when.toLocaleTimeString() : when.toLocaleString());
    cell(row, ev.event, "name");
    cell(row, summary(ev.payload), "props");
    row.addEventListener("click", () => showDetail(ev.id));
    body.appendChild(row);
  }
  text($("shown"), "(" + events.length + ")");
}

function renderNames(names) {
  const select = $("name-filter");
  const current = select.value;
  const known = new Set([...select.options].map((o) => o.value));
  for (const { name } of names) {
    if (!known.has(name)) { const o = document.createElement("option"); o.value = name; text(o, name); select.appendChild(o); }
  }
  select.value = current;
}

function renderCounts(series) {
  const byName = new Map();
  const buckets = [...new Set(series.map((s) => s.bucket_ns))].sort((a, b) => a - b).slice(-30);
  for (const s of series) {
    if (!byName.has(s.name)) byName.set(s.name, new Map());
    byName.get(s.name).set(s.bucket_ns, s.count);
  }
  const max = Math.max(1, ...series.map((s) => s.count));
  const body = $("counts").tBodies[0];
  body.replaceChildren();
  for (const [name, counts] of byName) {
    const row = document.createElement("tr");
    row.dataset.event = name;
    cell(row, name, "name");
    let total = 0; for (const c of counts.values()) total += c;
    cell(row, String(total), "total");
    const bars = document.createElement("td");
    for (const b of buckets) {
      const c = counts.get(b) || 0;
      const bar = document.createElement("span");
      bar.className = "bar"; bar.style.width = "6px"; bar.style.height = Math.max(1, Math.round(14 * c / max)) + "px";
      bar.title = new Date(b / 1e6).toLocaleString() + ": " + c;
      bars.appendChild(bar);
    }
    row.appendChild(bars);
    body.appendChild(row);
  }
}

async function showDetail(id) {
  selectedId = id;
  for (const row of $("events").tBodies[0].rows) row.className = Number(row.dataset.id) === id ? "selected" : "";
  const ev = await getJSON("/api/events/" + id);
  text($("detail-payload"), JSON.stringify(ev.payload, null, 2));
  text($("detail-record"), JSON.stringify(ev.record, null, 2));
}

async function refresh() {
  if (document.body.dataset.view === "insights") return;  // polling pauses while the insights are shown
  const mine = ++generation;
  const params = filterParams();
  const counts = new URLSearchParams(params); counts.set("bucket_s", $("bucket").value);
  try {
    const [events, names, series] = await Promise.all([
      getJSON("/api/events", params), getJSON("/api/names"), getJSON("/api/counts", counts)]);
    if (mine !== generation) return;  // a newer refresh (filters changed) owns the page
    renderNames(names.names);
    renderEvents(events.events);
    renderCounts(series.series);
    text($("filter-error"), "");
    text($("status"), "live · updated " + new Date().toLocaleTimeString());
  } catch (error) {
    text($("filter-error"), String(error.message || error));
    text($("status"), "error");
  }
}

for (const id of ["name-filter", "bucket"]) $(id).addEventListener("change", refresh);
$("prop-filter").addEventListener("input", refresh);
refresh();
setInterval(refresh, POLL_MS);
