"use strict";
// The Insights view: controls -> URL fragment (shareable) -> /api/insights/<insight> -> Charts.
// The fragment holds the controls as typed: #insights?insight=trends&by=service.version&...

(() => {
  const $ = (id) => document.getElementById(id);
  const CONTROLS = {
    events: "i-events", steps: "i-steps", key: "i-key", by: "i-by", interval: "i-interval",
    per: "i-per", window: "i-window", start_event: "i-start", return_event: "i-return",
    period: "i-period", where: "i-where", since: "i-since", until: "i-until",
  };
  const USES = {
    trends: ["events", "by", "interval", "count", "where", "since", "until"],
    breakdown: ["key", "events", "count", "where", "since", "until"],
    funnel: ["steps", "per", "window", "where", "since", "until"],
    retention: ["start_event", "return_event", "period", "count", "where", "since", "until"],
  };
  const LISTS = new Set(["events", "steps", "where"]);  // comma-separated in the control
  let generation = 0;
  let typing = null;
  let namesLoaded = false;

  const controlOf = (insight, field) =>
    $(field === "count" ? (insight === "retention" ? "i-rcount" : "i-count") : CONTROLS[field]);

  function currentInsight() { return $("i-insight").value; }

  // The controls' state, only the fields this insight uses and that differ from empty.
  function readControls() {
    const insight = currentInsight();
    const state = new URLSearchParams({ insight });
    for (const field of USES[insight]) {
      const value = controlOf(insight, field).value.trim();
      if (value) state.set(field, value);
    }
    return state;
  }

  function setControl(control, value) {
    if (control.tagName === "SELECT" && ![...control.options].some((o) => o.value === value)) return;
    control.value = value;
  }

  function writeControls(state) {
    const insight = USES[state.get("insight")] ? state.get("insight") : "trends";
    $("i-insight").value = insight;
    for (const field of USES[insight]) {
      const control = controlOf(insight, field);
      if (state.has(field)) setControl(control, state.get(field));
      else if (control.tagName === "INPUT") control.value = "";
    }
    showFields(insight);
  }

  function showFields(insight) {
    for (const label of document.querySelectorAll("#insight-controls label[data-for]")) {
      label.hidden = !label.dataset.for.split(" ").includes(insight);
    }
  }

  // The API's query: lists split on commas, the window in seconds.
  function apiParams(state) {
    const params = new URLSearchParams();
    for (const [field, value] of state) {
      if (field === "insight") continue;
      if (LISTS.has(field)) {
        for (const part of value.split(",")) if (part.trim()) params.append(field, part.trim());
      } else {
        params.append(field === "window" ? "window_s" : field, value);
      }
    }
    return params;
  }

  function describe(state) {
    const insight = state.get("insight");
    const list = (field, fallback) => (state.get(field) || fallback).split(",").map((s) => s.trim()).filter(Boolean).join(", ");
    const counting = state.get("count") || (insight === "retention" ? "installations" : "events");
    const Counting = counting[0].toUpperCase() + counting.slice(1);
    if (insight === "trends") {
      const by = state.get("by") ? ` by ${state.get("by")}` : "";
      return `${Counting} per ${state.get("interval") || "day"}${by} · ${list("events", "all events")}`;
    }
    if (insight === "breakdown") return `${Counting} by ${state.get("key") || "(choose a property)"} · ${list("events", "all events")}`;
    if (insight === "funnel") return `Funnel ${list("steps", "(choose at least 2 steps)").replaceAll(", ", " → ")}`;
    return `Retention: ${counting} returning each ${state.get("period") || "week"}`;
  }

  async function load() {
    const mine = ++generation;
    const state = readControls();
    const result = $("insight-result");
    result.dataset.state = "loading";
    $("insight-title").textContent = describe(state);
    const insight = state.get("insight");
    try {
      const response = await fetch(`/api/insights/${insight}?${apiParams(state)}`);
      const data = await response.json();
      if (mine !== generation) return;
      if (!response.ok) throw new Error(data.error || response.statusText);
      $("insight-error").textContent = "";
      const chart = $("insight-chart");
      if (insight === "trends") Charts.lineChart(chart, data, state.has("by"));
      else if (insight === "breakdown") Charts.breakdownBars(chart, data);
      else if (insight === "funnel") Charts.funnelBars(chart, data);
      else Charts.retentionTable(chart, data);
      result.dataset.state = "ready";
    } catch (error) {
      if (mine !== generation) return;
      $("insight-error").textContent = String(error.message || error);
      $("insight-chart").replaceChildren();
      result.dataset.state = "error";
    }
  }

  // A control changed: the fragment follows (replaceState: no history entry per keystroke), then the chart.
  function changed() {
    showFields(currentInsight());
    const hash = "#insights?" + readControls().toString();
    history.replaceState(null, "", hash);
    $("tab-insights").href = hash;  // back from the events, the same insight
    load();
  }

  async function loadNames() {
    if (namesLoaded) return;
    try {
      const response = await fetch("/api/names");
      const data = await response.json();
      const list = $("i-names");
      for (const { name } of data.names || []) list.append(Object.assign(document.createElement("option"), { value: name }));
      namesLoaded = true;
    } catch (error) { /* suggestions only */ }
  }

  // The fragment decides the view: #insights?... shows (and restores) the insights, anything else the events.
  function route() {
    const hash = location.hash;
    const insights = hash.startsWith("#insights");
    document.body.dataset.view = insights ? "insights" : "events";
    $("events-view").hidden = insights;
    $("insights-view").hidden = !insights;
    $("tab-events").classList.toggle("active", !insights);
    $("tab-insights").classList.toggle("active", insights);
    $("status").hidden = insights;  // the events' live status
    if (!insights) return;
    const query = hash.indexOf("?") >= 0 ? hash.slice(hash.indexOf("?") + 1) : "";
    writeControls(new URLSearchParams(query));
    loadNames();
    load();
  }

  for (const control of document.querySelectorAll("#insight-controls select")) control.addEventListener("change", changed);
  for (const control of document.querySelectorAll("#insight-controls input")) {
    control.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(changed, 350); });
    control.addEventListener("change", () => { clearTimeout(typing); changed(); });
  }
  window.addEventListener("hashchange", route);
  route();
})();
