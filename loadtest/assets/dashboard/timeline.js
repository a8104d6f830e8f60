// Who held the lock when: one lane per instance, one bar per committed
// order's critical section (read → write, by PostgreSQL's clock), Jepsen
// style. Bars that were open while another was are hatched and
// vermillion; a safe lock shows one row per lane and lanes that take turns.
// Orders refused for a lost lock are an ✕ where they were refused, faults a
// dashed line. Drawn on a canvas: a phase can have 20,000 sections.
// The data: `timeline` events (loadtest/src/timeline.rs).
"use strict";

// Sizes in CSS pixels. Each lane's name sits above it, so a long name is
// never cut off.
const TIMELINE = { rowHeight: 20, rowGap: 4, mostRows: 8, laneGap: 12, labelHeight: 28, margin: 16, axisHeight: 44 };

// Rows within a lane: each section goes to the first row free at its
// start, so sections of one instance open at once stack up. Past
// `mostRows` they share the last row (the lane says how many were open).
function stackRows(sections) {
  const ends = [], rows = [];
  for (const s of sections) {
    let row = ends.findIndex((end) => end <= s.start_ms);
    if (row < 0) row = ends.length < TIMELINE.mostRows ? ends.length : TIMELINE.mostRows - 1;
    ends[row] = Math.max(ends[row] || 0, s.end_ms);
    rows.push(row);
  }
  return { rows, count: Math.max(1, ends.length) };
}

function hatch(ctx, dpr) {
  const tile = document.createElement("canvas");
  tile.width = tile.height = Math.round(8 * dpr);
  const t = tile.getContext("2d");
  t.fillStyle = COLORS[PALETTE.charts.timeline[1]];
  t.fillRect(0, 0, tile.width, tile.height);
  t.strokeStyle = "#fff";
  t.lineWidth = 2 * dpr;
  t.beginPath();
  t.moveTo(0, tile.height);
  t.lineTo(tile.width, 0);
  t.stroke();
  return ctx.createPattern(tile, "repeat");
}

// Lays the phase's timeline out: lanes, their rows, the time span.
function timelineLayout(phase) {
  const tl = phase.timeline;
  const lanes = tl.lanes.map((lane) => ({ lane, sections: [], refusals: [] }));
  tl.sections.forEach((s) => lanes[s.lane].sections.push(s));
  tl.refusals.forEach((r) => lanes[r.lane].refusals.push(r));
  let top = 0;
  for (const l of lanes) {
    const { rows, count } = stackRows(l.sections);
    l.rows = rows; l.count = count;
    l.top = top + TIMELINE.labelHeight;
    l.height = count * (TIMELINE.rowHeight + TIMELINE.rowGap) + 10;
    top = l.top + l.height + TIMELINE.laneGap;
  }
  let span = 1;
  tl.sections.forEach((s) => { span = Math.max(span, s.end_ms); });
  tl.refusals.forEach((r) => { span = Math.max(span, r.at_ms); });
  faultBands(phase.faults).forEach((b) => { span = Math.max(span, (b.end == null ? b.start : b.end) * 1000); });
  return { lanes, height: top, span: span * 1.02 };
}

function drawTimeline() {
  const phase = state.phases[state.shown];
  const canvas = $("timeline-canvas");
  const list = $("timeline-lanes");
  list.replaceChildren();
  if (!phase || !phase.timeline) {
    canvas.hidden = true;
    $("timeline-note").textContent = phase && phase.verdict == null ? t("page-timeline-pending") : "";
    return;
  }
  canvas.hidden = false;
  const layout = timelineLayout(phase);
  paintTimeline(canvas, layout, phase);
  canvas.layout = layout;
  describeLanes(list, layout, phase);
}

function paintTimeline(canvas, layout, phase) {
  const dpr = devicePixelRatio || 1;
  const width = Math.max(480, canvas.parentElement.clientWidth);
  const height = layout.height + TIMELINE.axisHeight;
  canvas.style.width = width + "px";
  canvas.style.height = height + "px";
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  const ctx = canvas.getContext("2d");
  ctx.scale(dpr, dpr);
  const left = TIMELINE.margin, plot = width - 2 * TIMELINE.margin;
  const x = (ms) => left + (ms / layout.span) * plot;
  canvas.toX = x;
  const overlapFill = hatch(ctx, 1);
  ctx.font = font(18);
  ctx.textBaseline = "middle";
  for (const l of layout.lanes) {
    ctx.fillStyle = "#f2f2f2";
    ctx.fillRect(left, l.top, plot, l.height);
    ctx.fillStyle = COLORS.ink;
    ctx.textAlign = "left";
    ctx.fillText(laneName(l.lane), left, l.top - TIMELINE.labelHeight / 2);
    l.sections.forEach((s, i) => {
      const y = l.top + 5 + l.rows[i] * (TIMELINE.rowHeight + TIMELINE.rowGap);
      const wide = x(s.end_ms) - x(s.start_ms);
      ctx.fillStyle = s.overlaps ? overlapFill : COLORS[PALETTE.charts.timeline[0]];
      // A pixel of paper between bars that follow one another, once they
      // are wide enough to spare it: each hold stays a hold of its own.
      ctx.fillRect(x(s.start_ms), y, wide >= 4 ? wide - 1 : Math.max(1.5, wide), TIMELINE.rowHeight);
    });
    ctx.textAlign = "center";
    ctx.font = font(22, true);
    ctx.fillStyle = COLORS.ink;
    l.refusals.forEach((r) => ctx.fillText("✕", x(r.at_ms), l.top + l.height / 2));
    ctx.font = font(18);
  }
  paintTimeAxis(ctx, layout, x, phase);
}

function paintTimeAxis(ctx, layout, x, phase) {
  const y = layout.height + 4;
  ctx.strokeStyle = COLORS.ink;
  ctx.fillStyle = COLORS.ink;
  ctx.lineWidth = 1;
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const seconds = layout.span / 1000;
  const step = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60].find((s) => seconds / s <= 8) || 120;
  for (let at = 0; at <= seconds; at += step) {
    ctx.beginPath();
    ctx.moveTo(x(at * 1000), y);
    ctx.lineTo(x(at * 1000), y + 6);
    ctx.stroke();
    ctx.fillText(t("page-seconds", { s: +at.toFixed(2) }), x(at * 1000), y + 9);
  }
  ctx.setLineDash([8, 5]);
  ctx.lineWidth = 2;
  faultBands(phase.faults).forEach((band) => {
    const from = x(band.start * 1000), to = x((band.end == null ? layout.span / 1000 : band.end) * 1000);
    ctx.fillStyle = "rgba(0, 0, 0, 0.07)";
    ctx.fillRect(from, 0, Math.max(2, to - from), layout.height);
    for (const at of band.end == null ? [from] : [from, to]) {
      ctx.beginPath();
      ctx.moveTo(at, 0);
      ctx.lineTo(at, layout.height);
      ctx.stroke();
    }
  });
  ctx.setLineDash([]);
}

function laneName(lane) {
  const port = lane.target ? lane.target.replace(/^https?:\/\//, "") : null;
  return port && port !== lane.instance ? `${lane.instance} (${port})` : lane.instance;
}

// The same in words, per lane: what a test reads and a screen reader says.
function describeLanes(list, layout, phase) {
  for (const l of layout.lanes) {
    const li = document.createElement("li");
    li.dataset.instance = l.lane.instance;
    li.dataset.sections = l.lane.sections;
    li.dataset.overlapping = l.lane.overlapping;
    li.dataset.refusals = l.lane.refusals;
    li.textContent = t("page-lane", { lane: laneName(l.lane), holds: fmt(l.lane.sections), overlapping: fmt(l.lane.overlapping) }) +
      (l.lane.refusals ? t("page-lane-refused", { refused: fmt(l.lane.refusals) }) : "") +
      (l.count >= TIMELINE.mostRows ? " " + t("page-lane-crowded", { rows: TIMELINE.mostRows }) : "");
    list.appendChild(li);
  }
  const tl = phase.timeline;
  const most = phase.verdict ? phase.verdict.report.verdict.most_holders_at_once : null;
  $("timeline-note").textContent =
    (most != null ? t("page-most-at-once", { most: fmt(most) }) + " " : "") +
    (tl.total_sections > tl.sections.length
      ? t("page-first-holds", { shown: fmt(tl.sections.length), total: fmt(tl.total_sections) })
      : tl.total_sections === 0 ? t("page-no-holds") : "");
}

// Hovering a bar tells its fencing token and its times.
function timelineHover(event) {
  const canvas = event.currentTarget, layout = canvas.layout;
  const phase = state.phases[state.shown];
  if (!layout || !phase || !phase.timeline) return;
  const rect = canvas.getBoundingClientRect();
  const px = event.clientX - rect.left, py = event.clientY - rect.top;
  const lane = layout.lanes.find((l) => py >= l.top && py < l.top + l.height);
  let hit = null;
  if (lane) {
    const row = Math.floor((py - lane.top - 5) / (TIMELINE.rowHeight + TIMELINE.rowGap));
    hit = lane.sections.find((s, i) => lane.rows[i] === row && canvas.toX(s.start_ms) - 2 <= px && px <= canvas.toX(s.end_ms) + 2);
  }
  canvas.title = hit
    ? t("page-hover-held", { lane: laneName(lane.lane), from: (hit.start_ms / 1000).toFixed(3), to: (hit.end_ms / 1000).toFixed(3) }) +
      (hit.token != null ? t("page-hover-token", { token: hit.token }) : "") + (hit.overlaps ? " " + t("page-hover-overlap") : "")
    : "";
}
