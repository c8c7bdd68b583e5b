"use strict";
// Hand-written SVG/HTML charts for the Insights view: no library, no network (works offline).
// Each function fills a container element from one insight's JSON answer (docs/insights.md).

const Charts = (() => {
  const SVG = "http://www.w3.org/2000/svg";
  const PALETTE = ["#4a7bd0", "#e0813a", "#3aa676", "#c8485c", "#8a5cc9", "#c9a227", "#2aa3b8",
                   "#d0679e", "#6b8e23", "#7f6a5b"];
  const OTHER_COLOR = "#9aa3b2";
  const number = new Intl.NumberFormat("en");

  function el(tag, attrs, text) {
    const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function percent(share) { return (share * 100).toFixed(share < 0.1 && share > 0 ? 1 : 0) + "%"; }

  // A round axis maximum and step: 0, step, 2·step, ... covering max with about 4 ticks.
  function niceScale(max) {
    if (!(max > 0)) return { top: 1, step: 0.25 };
    const raw = max / 4;
    const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
    const whole = step < 1 && max >= 1 ? 1 : step;
    return { top: Math.ceil(max / whole) * whole, step: whole };
  }

  // Bucket labels are UTC ISO times: show the part the interval needs.
  function bucketLabel(iso, interval) {
    if (interval === "hour") return iso.slice(5, 10) + " " + iso.slice(11, 16);
    if (interval === "month") return iso.slice(0, 7);
    return iso.slice(5, 10);
  }

  // "didCreateEntry", or the group's value ("4.15.0"), prefixed by the event when several are shown.
  function seriesLabel(series, manyEvents) {
    const event = series.event === null ? "all events" : series.event;
    if (!series.hasGroup) return event;
    const group = series.group === null ? "(none)" : String(series.group);
    return manyEvents ? event + " · " + group : group;
  }

  function colorOf(series, index) { return series.group === "other" ? OTHER_COLOR : PALETTE[index % PALETTE.length]; }

  function legend(items) {
    const list = el("ul", { class: "legend" });
    for (const item of items) {
      const li = el("li", { "data-label": item.label });
      li.append(el("span", { class: "swatch", style: "background:" + item.color }), el("span", {}, item.label));
      if (item.total !== undefined) li.append(el("span", { class: "total" }, number.format(item.total)));
      list.append(li);
    }
    return list;
  }

  // trends: a line per series over the buckets, y from 0.
  function lineChart(container, answer, hasGroup) {
    container.replaceChildren();
    const series = answer.series.map((s) => ({ ...s, hasGroup }));
    if (!series.length) { container.append(el("p", { class: "muted" }, "No events in this range.")); return; }
    const manyEvents = new Set(series.map((s) => s.event)).size > 1;
    const buckets = series[0].points.map((p) => p[0]);
    const width = Math.max(480, container.clientWidth || 900), height = 320;
    const m = { left: 52, right: 16, top: 12, bottom: 30 };
    const w = width - m.left - m.right, h = height - m.top - m.bottom;
    const max = Math.max(0, ...series.flatMap((s) => s.points.map((p) => p[1])));
    const { top, step } = niceScale(max);
    const x = (i) => m.left + (buckets.length === 1 ? w / 2 : (i * w) / (buckets.length - 1));
    const y = (v) => m.top + h - (v / top) * h;
    const svg = el("svg:svg", { class: "chart trend-chart", width, height, viewBox: `0 0 ${width} ${height}`,
                                role: "img", "aria-label": "trends chart" });
    for (let v = 0; v <= top + step / 2; v += step) {
      svg.append(el("svg:line", { class: "grid", x1: m.left, x2: width - m.right, y1: y(v), y2: y(v) }));
      svg.append(el("svg:text", { x: m.left - 6, y: y(v) + 4, "text-anchor": "end" }, number.format(Math.round(v * 100) / 100)));
    }
    svg.append(el("svg:line", { class: "axis", x1: m.left, x2: width - m.right, y1: y(0), y2: y(0) }));
    const every = Math.max(1, Math.ceil(buckets.length / Math.max(1, Math.floor(w / 70))));
    buckets.forEach((iso, i) => {
      if (i % every) return;
      svg.append(el("svg:line", { class: "axis", x1: x(i), x2: x(i), y1: y(0), y2: y(0) + 4 }));
      svg.append(el("svg:text", { x: x(i), y: height - 10, "text-anchor": "middle" }, bucketLabel(iso, answer.interval)));
    });
    const items = [];
    series.forEach((s, index) => {
      const color = colorOf(s, index);
      const label = seriesLabel(s, manyEvents);
      const d = s.points.map((p, i) => (i ? "L" : "M") + x(i).toFixed(1) + " " + y(p[1]).toFixed(1)).join(" ");
      svg.append(el("svg:path", { class: "series", d, stroke: color, "data-label": label }));
      s.points.forEach((p, i) => {
        const dot = el("svg:circle", { cx: x(i), cy: y(p[1]), r: buckets.length > 60 ? 1.5 : 3, fill: color });
        dot.append(el("svg:title", {}, `${label} — ${p[0].slice(0, 16).replace("T", " ")} UTC: ${number.format(p[1])}`));
        svg.append(dot);
      });
      items.push({ label, color, total: s.total });
    });
    container.append(svg, legend(items));
  }

  // breakdown: a horizontal bar per value with its count and share.
  function breakdownBars(container, answer) {
    container.replaceChildren();
    if (!answer.rows.length) { container.append(el("p", { class: "muted" }, "No events in this range.")); return; }
    const max = Math.max(...answer.rows.map((r) => r.count));
    const table = el("table", { id: "breakdown" });
    const head = el("tr");
    for (const [name, cls] of [[answer.key, ""], ["", ""], [answer.count, "num"], ["share", "num"]]) head.append(el("th", { class: cls }, name));
    table.append(el("thead"), el("tbody"));
    table.tHead.append(head);
    for (const row of answer.rows) {
      const value = row.value === null ? "(none)" : String(row.value);
      const tr = el("tr", { "data-value": value });
      tr.append(el("td", {}, value));
      const cell = el("td", { class: "hbar-cell" });
      cell.append(el("div", { class: "hbar", style: `width:${((100 * row.count) / max).toFixed(1)}%` }));
      tr.append(cell, el("td", { class: "num count" }, number.format(row.count)), el("td", { class: "num share" }, percent(row.share)));
      table.tBodies[0].append(tr);
    }
    container.append(table);
  }

  // funnel: a bar per step, its width the conversion from the first step.
  function funnelBars(container, answer) {
    container.replaceChildren();
    const table = el("table", { id: "funnel" });
    const head = el("tr");
    for (const [name, cls] of [["step", ""], ["", ""], [answer.per + "s", "num"], ["of first", "num"], ["of previous", "num"]]) head.append(el("th", { class: cls }, name));
    table.append(el("thead"), el("tbody"));
    table.tHead.append(head);
    answer.steps.forEach((step, i) => {
      const tr = el("tr", { "data-step": step.event });
      tr.append(el("td", {}, `${i + 1}. ${step.event}`));
      const cell = el("td", { class: "hbar-cell" });
      cell.append(el("div", { class: "hbar", style: `width:${(100 * step.conversion).toFixed(1)}%;background:${PALETTE[2]}` }));
      const previous = i ? answer.steps[i - 1].count : step.count;
      tr.append(cell, el("td", { class: "num count" }, number.format(step.count)),
                el("td", { class: "num conversion" }, percent(step.conversion)),
                el("td", { class: "num muted" }, i ? (previous ? percent(step.count / previous) : "–") : ""));
      table.tBodies[0].append(tr);
    });
    container.append(table);
  }

  // retention: cohorts by row, periods by column, each cell shaded by the share that returned.
  function retentionTable(container, answer) {
    container.replaceChildren();
    const cohorts = answer.cohorts;
    const periods = Math.max(0, ...cohorts.map((c) => c.returned.length));
    const table = el("table", { id: "retention" });
    const head = el("tr");
    head.append(el("th", {}, "cohort"), el("th", { class: "num" }, "size"));
    for (let i = 0; i < periods; i++) head.append(el("th", { class: "period" }, `${answer.period} ${i}`));
    table.append(el("thead"), el("tbody"));
    table.tHead.append(head);
    for (const cohort of cohorts) {
      const tr = el("tr", { "data-start": cohort.start });
      tr.append(el("td", {}, cohort.start), el("td", { class: "num" }, number.format(cohort.size)));
      for (let i = 0; i < periods; i++) {
        const td = el("td", { class: "cell" });
        if (i < cohort.returned.length && cohort.size > 0) {
          const share = cohort.returned[i] / cohort.size;
          td.textContent = percent(share);
          td.title = `${number.format(cohort.returned[i])} of ${number.format(cohort.size)}`;
          td.dataset.share = share.toFixed(3);
          td.style.background = `rgba(74, 123, 208, ${(0.08 + 0.92 * share).toFixed(3)})`;
          td.style.color = share > 0.55 ? "#fff" : "#1d2330";
        }
        tr.append(td);
      }
      table.tBodies[0].append(tr);
    }
    container.append(table);
  }

  return { lineChart, breakdownBars, funnelBars, retentionTable, niceScale };
})();
