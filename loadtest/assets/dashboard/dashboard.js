// The stocklock dashboard (its words are i18n.js's; the overview, the
// timeline and the report's playback are overview.js, timeline.js and
// replay.js, loaded first). One page, two ways in: live, from the load
// tester's server-sent events (`/events`), or replayed from the events a
// report embeds (`window.STOCKLOCK_EVENTS`). Either way the same handler
// sees the same events in the same order, so the two cannot disagree.
"use strict";

// `view`: "overview", or the index of the phase on show (also `shown`).
const state = { run: null, phases: [], current: -1, shown: -1, view: null, waiting: null, done: null };
const $ = (id) => document.getElementById(id);
// Figures with thousands separators, in the reader's own way of writing them.
const fmt = (n, digits = 0) =>
  n == null ? "—" : Number(n).toLocaleString(LANG, { minimumFractionDigits: digits, maximumFractionDigits: digits });

// --- Charts (uPlot) -------------------------------------------------------

// The colours, and which each chart draws its series in: palette.json,
// embedded as PALETTE (and checked for colour-blind viewers by a test).
const COLORS = PALETTE.colors;
const inks = (chart) => PALETTE.charts[chart].map((name) => COLORS[name]);

// Faults as bands from start to end: a pause for as long as it lasts, a
// killed server until it is started again, a partition until it heals
// (one still open at the end of the phase runs to the chart's edge). Each
// starts and ends with a dashed line; its words stand at its start.
function faultBands(faults) {
  const bands = [];
  faults.forEach((f, i) => {
    const [verb, ...rest] = f.kind.split("_");
    if (verb === "start" || verb === "heal") return;
    const later = faults.slice(i + 1);
    const ends = verb === "kill" ? later.find((g) => g.kind === "start_" + rest.join("_"))
      : verb === "partition" ? later.find((g) => g.kind.startsWith("heal_")) : null;
    const end = f.duration_s != null ? f.t + f.duration_s : ends ? ends.t : null;
    bands.push({ kind: f.kind, start: f.t, end, until: ends ? ends.kind : null });
  });
  return bands;
}

// The bands of the phase on show, in words: what a test reads and a screen
// reader says.
function describeFaults(phase) {
  const list = $("fault-bands");
  list.replaceChildren();
  for (const band of phase ? faultBands(phase.faults) : []) {
    const li = document.createElement("li");
    Object.assign(li.dataset, { kind: band.kind, start: band.start, end: band.end == null ? "" : band.end });
    li.textContent = t(band.end == null ? "page-fault-open" : "page-fault-band", {
      fault: faultWords(band.kind), from: fmt(band.start, 1), to: band.end == null ? "" : fmt(band.end, 1),
    });
    list.appendChild(li);
  }
}

function faultMarkers() {
  return {
    hooks: {
      draw: [(u) => {
        const phase = state.phases[state.shown];
        if (!phase) return;
        const ctx = u.ctx, dpr = devicePixelRatio || 1, { left, top, width, height } = u.bbox;
        const clamp = (x) => Math.min(left + width, Math.max(left, x));
        ctx.save();
        ctx.font = font(18 * dpr);
        // uPlot leaves the context as its last axis left it.
        ctx.textAlign = "left";
        ctx.textBaseline = "alphabetic";
        const labelled = new Set();
        faultBands(phase.faults).forEach((band) => {
          const from = u.valToPos(band.start, "x", true);
          const to = band.end == null ? left + width : u.valToPos(band.end, "x", true);
          if (to < left || from > left + width) return;
          ctx.fillStyle = "rgba(0, 0, 0, 0.07)";
          ctx.fillRect(clamp(from), top, Math.max(2 * dpr, clamp(to) - clamp(from)), height);
          ctx.strokeStyle = COLORS.ink;
          ctx.lineWidth = 2 * dpr;
          ctx.setLineDash([8 * dpr, 5 * dpr]);
          for (const x of band.end == null ? [from] : [from, to]) {
            if (x < left || x > left + width) continue;
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + height);
            ctx.stroke();
          }
          // Many pauses make many bands: the words once per kind of fault.
          if (labelled.has(band.kind)) return;
          labelled.add(band.kind);
          // On a paper-coloured patch, readable over the lines.
          const words = "⚡ " + faultWords(band.kind), wide = ctx.measureText(words).width;
          const at = Math.min(clamp(from) + 4 * dpr, left + width - wide - 2 * dpr), y = top + (20 + 24 * (labelled.size - 1) % 72) * dpr;
          ctx.fillStyle = "rgba(255, 255, 255, 0.85)";
          ctx.fillRect(at - 2 * dpr, y - 17 * dpr, wide + 4 * dpr, 22 * dpr);
          ctx.fillStyle = COLORS.ink;
          ctx.fillText(words, at, y);
        });
        ctx.restore();
      }],
    },
  };
}

// A fault's kind (`kill_redis`, `pause_holder`) in words, as the `why`
// sentences say it (loadtest/src/explain.rs).
function faultWords(kind) {
  const [verb, ...server] = kind.split("_");
  const id = "fault-" + verb;
  return I18N.en[id] ? t(id, { server: server.join(" ") }) : kind;
}

// Axis text a room can read from the back: 20 px and up.
const axis = (label, size, more = {}) => ({ label, size, font: font(20), labelFont: font(20, true), labelSize: 30, ...more });
const thousands = (u, values) => values.map((v) => (v == null ? "" : v.toLocaleString(LANG)));

// A legend marker draws its line's style (solid, dashed, dotted), not just
// its colour: dashboard.css makes the marker a short line.
const markerDash = (u, i) => {
  const dash = u.series[i].dash;
  return !dash || !dash.length ? "solid" : dash[0] <= 3 ? "dotted" : "dashed";
};

function chart(el, series, yLabel, more = {}) {
  const width = Math.max(480, el.clientWidth || 560);
  return new uPlot({
    width, height: 300,
    scales: { x: { time: false }, ...(more.y ? { y: more.y } : {}) },
    axes: [axis(t("page-axis-seconds"), 56), axis(yLabel, 96, { values: thousands })],
    series: [{ label: t("page-series-t") }, ...series],
    plugins: [faultMarkers(), ...(more.plugins || [])],
    legend: { live: false, markers: { width: 4, dash: markerDash } },
  }, [[]].concat(series.map(() => [])), el);
}

// Units sold run into thousands under `none`, which would flatten the
// stock line onto the floor: the axis stops at twice the stock, and the
// line that leaves it is labelled with how far it went.
const UNITS_CEILING = 2;
function unitsScale() {
  return {
    range: (u, min, max) => {
      const phase = state.phases[state.shown];
      const stock = phase ? Math.max(1, phase.plan.stock) : max;
      return [0, Math.max(1, Math.min(max, stock * UNITS_CEILING)) * 1.05];
    },
  };
}

function unitsOverflow() {
  return {
    hooks: {
      draw: [(u) => {
        const phase = state.phases[state.shown];
        const last = phase && phase.ticks[phase.ticks.length - 1];
        if (!last || last.sold <= u.scales.y.max) return;
        const ctx = u.ctx, dpr = devicePixelRatio || 1;
        ctx.save();
        ctx.fillStyle = COLORS[PALETTE.charts.units[0]];
        ctx.font = font(19 * dpr, true);
        ctx.textAlign = "right";
        ctx.textBaseline = "top";
        ctx.fillText(t("page-overflow", { sold: fmt(last.sold), times: fmt(last.sold / phase.plan.stock, 1) }),
          u.bbox.left + u.bbox.width - 6 * dpr, u.bbox.top + 4 * dpr);
        ctx.restore();
      }],
    },
  };
}

const line = (label, stroke, dash) => ({ label, stroke, width: 3, dash, points: { show: true, size: 7 }, spanGaps: true });

let charts = null;
function makeCharts() {
  if (charts) Object.values(charts).forEach((c) => c.destroy());
  const [units, rates, latency] = ["units", "rates", "latency"].map(inks);
  charts = {
    units: chart($("chart-units"), [
      line(t("page-series-sold"), units[0]),
      line(t("page-series-stock"), units[1], [10, 6]),
      line(t("page-series-left"), units[2], [3, 3]),
    ], t("page-axis-units"), { y: unitsScale(), plugins: [unitsOverflow()] }),
    rates: chart($("chart-rates"), [
      line(t("page-series-orders"), rates[0]),
      line(t("page-series-sold-out"), rates[1], [2, 4]),
      line(t("page-series-lock-lost"), rates[2], [12, 4]),
      line(t("page-series-503"), rates[3], [6, 3, 2, 3]),
    ], t("page-axis-per-second")),
    latency: chart($("chart-latency"), [
      line(t("page-series-p50"), latency[0]),
      line(t("page-series-p99"), latency[1], [10, 4]),
    ], t("page-axis-ms")),
  };
}

// The page in `lang`: its fixed words, its charts (their labels are drawn),
// the views and the board.
function speak(lang) {
  if (lang === LANG && document.documentElement.lang === LANG) return;
  LANG = lang;
  localize();
  makeCharts();
  overviewChart = null;
}

function drawCharts() {
  const phase = state.phases[state.shown];
  if (!phase || !charts) return;
  const ticks = phase.ticks, t = ticks.map((k) => k.t);
  const initial = phase.plan.stock;
  charts.units.setData([t, ticks.map((k) => k.sold), ticks.map(() => initial), ticks.map((k) => k.stock)]);
  charts.rates.setData([t, ticks.map((k) => k.orders_per_s), ticks.map((k) => k.sold_out_per_s),
    ticks.map((k) => k.lock_lost_per_s), ticks.map((k) => k.unavailable_per_s)]);
  charts.latency.setData([t, ticks.map((k) => k.p50_ms), ticks.map((k) => k.p99_ms)]);
}

// --- The phase on show ----------------------------------------------------

function show(index) {
  state.shown = index;
  state.view = index;
  remember(index);
  $("overview").hidden = true;
  $("phase-view").hidden = false;
  drawViews();
  const phase = state.phases[index];
  $("phase-title").textContent = loc(phase.plan, "label");
  const expectation = phase.verdict ? phase.verdict.report.expectation : phase.plan.expectation;
  $("phase-expect").textContent = expectation ? expectationWords(expectation) : "";
  document.querySelectorAll("#board tr[data-phase]").forEach((tr) => tr.classList.toggle("shown", +tr.dataset.phase === index));
  drawNumbers();
  drawCharts();
  drawTimeline();
  describeFaults(phase);
}

function showOverview() {
  state.shown = -1;
  state.view = "overview";
  remember("overview");
  $("phase-view").hidden = true;
  $("overview").hidden = false;
  document.querySelectorAll("#board tr.shown").forEach((tr) => tr.classList.remove("shown"));
  drawViews();
  drawOverview();
}

// The views in order — the overview, then each phase — as buttons, and
// the arrow keys (what a presentation clicker sends) moving between them.
function drawViews() {
  const nav = $("views");
  nav.replaceChildren();
  const views = ["overview", ...state.phases.map((_, i) => i)];
  views.forEach((view) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.view = view;
    const phase = view === "overview" ? null : state.phases[view];
    button.textContent = phase ? `${phase.verdict ? loc(phase.verdict, "label").split(" ")[0] + " " : ""}${loc(phase.plan, "label")}` : t("page-overview");
    if (view === state.view) button.setAttribute("aria-current", "true");
    button.addEventListener("click", () => (view === "overview" ? showOverview() : show(view)));
    nav.appendChild(button);
  });
}

// The view in the address (`#all`, `#phase-1`, …), so that a link, a
// reload or a screenshot script opens the same view. (Not `#overview`: a
// fragment naming an element scrolls the page to it.)
function remember(view) {
  try { history.replaceState(null, "", view === "overview" ? "#all" : `#phase-${view + 1}`); } catch (_) { /* a file: URL may refuse */ }
}

function viewIn(hash) {
  const m = /^#phase-(\d+)$/.exec(hash);
  if (m && +m[1] >= 1 && +m[1] <= state.phases.length) return +m[1] - 1;
  return "overview";
}

function step(by) {
  const views = ["overview", ...state.phases.map((_, i) => i)];
  const at = Math.max(0, views.indexOf(state.view));
  const next = views[Math.min(views.length - 1, Math.max(0, at + by))];
  if (next === "overview") showOverview(); else show(next);
}

document.addEventListener("keydown", (e) => {
  if (e.target.closest && e.target.closest("input, textarea, select")) return;
  if (e.key === "ArrowRight" || e.key === "PageDown") { step(1); e.preventDefault(); }
  if (e.key === "ArrowLeft" || e.key === "PageUp") { step(-1); e.preventDefault(); }
});

// Ticks come faster than a chart of every phase needs redrawing.
let overviewQueued = false;
function queueOverview() {
  if (state.view !== "overview" || overviewQueued) return;
  overviewQueued = true;
  requestAnimationFrame(() => { overviewQueued = false; drawOverview(); });
}

function expectationWords(e) { return t(e === "must_be_safe" ? "expect-must-be-safe" : "expect-may-oversell"); }

function drawNumbers() {
  const phase = state.phases[state.shown];
  const last = phase.ticks[phase.ticks.length - 1];
  const verdict = phase.verdict && phase.verdict.report;
  const sold = verdict ? verdict.ledger.sold : last ? last.sold : 0;
  const oversold = verdict ? verdict.verdict.oversold_units : last ? last.oversold : 0;
  $("sold").textContent = fmt(sold);
  $("sold-of").textContent = t("page-sold-of", { stock: fmt(phase.plan.stock) });
  $("oversold").textContent = fmt(oversold);
  $("oversold-box").classList.toggle("bad", oversold > 0);
  $("oversold-word").textContent = t(oversold > 0 ? "page-oversold-alarm" : "page-oversold");
  $("overlaps").textContent = fmt(verdict ? verdict.verdict.overlapping_holds : last ? last.overlaps : 0);
  $("rate").textContent = verdict ? fmt(verdict.orders_per_s) : last ? fmt(last.orders_per_s) : 0;
  $("refused").textContent = last ? fmt(last.unavailable_per_s) : 0;
}

// --- The verdict board ----------------------------------------------------

function drawBoard() {
  const body = document.querySelector("#board tbody");
  body.replaceChildren();
  const whys = $("whys");
  whys.replaceChildren();
  state.phases.forEach((phase, i) => {
    const tr = document.createElement("tr");
    tr.dataset.phase = i;
    const v = phase.verdict, r = v && v.report;
    tr.dataset.verdict = v ? loc(v, "label") : "";
    const status = v ? loc(v, "label")
      : t(i === state.current && !state.done ? "page-status-running" : i === state.waiting ? "page-status-next" : "page-status-pending");
    const cells = r
      ? [status, loc(r, "label"), expectationWords(r.expectation), `${fmt(r.ledger.sold)}/${fmt(r.ledger.initial_stock)}`, fmt(r.verdict.oversold_units),
         fmt(r.verdict.overlapping_holds), fmt(r.verdict.most_holders_at_once), fmt(r.counts.lock_lost),
         fmt(r.counts.lock_unavailable + r.counts.overloaded + r.counts.other_unavailable), fmt(r.orders_per_s), fmt(r.latency.p99_ms, 1)]
      : [status, loc(phase.plan, "label"), phase.plan.expectation ? expectationWords(phase.plan.expectation) : "", `—/${fmt(phase.plan.stock)}`, "", "", "", "", "", "", ""];
    cells.forEach((text, c) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (c === 0) td.className = "verdict";
      tr.appendChild(td);
    });
    tr.classList.toggle("failed", !!(r && r.assessment.kind === "failed"));
    tr.classList.toggle("shown", i === state.shown);
    tr.addEventListener("click", () => show(i));
    body.appendChild(tr);
    if (r && r.why) {
      const li = document.createElement("li");
      li.textContent = t("page-why", { phase: loc(r, "label"), why: loc(r, "why") });
      whys.appendChild(li);
    }
  });
}

// --- Events ---------------------------------------------------------------

const handlers = {
  run(e) {
    // A run starts from nothing (a replay starts the same run over).
    Object.assign(state, { run: e, current: -1, shown: -1, view: null, waiting: null, done: null });
    speak(pickLang(e.lang));
    overviewChart = null;
    $("next").hidden = true;
    state.phases = e.phases.map((plan) => ({ plan, ticks: [], faults: [], timeline: null, verdict: null }));
    $("run").textContent = (e.title ? `${e.title} — ` : "") +
      t("page-run-line", { scenario: e.scenario, model: loc(e, "model"), targets: e.targets.length });
    document.title = t("page-title-run", { name: e.title || e.scenario });
    drawBoard();
    if (state.phases.length) show(0);
  },
  waiting(e) {
    state.waiting = e.phase;
    const plan = state.phases[e.phase].plan;
    $("next").hidden = false;
    $("next-label").textContent = loc(plan, "label");
    $("next-question").textContent = loc(plan, "question");
    $("go").disabled = !live;
    $("status").textContent = t("page-waiting-instructor");
    drawBoard();
  },
  phase(e) {
    state.current = e.phase;
    state.waiting = null;
    $("next").hidden = true;
    $("status").textContent = t(live ? "page-live" : "page-replay");
    drawBoard();
    show(e.phase);
  },
  tick(e) {
    state.phases[e.phase].ticks.push(e);
    if (state.shown === e.phase) { drawNumbers(); drawCharts(); }
    queueOverview();
  },
  fault(e) {
    state.phases[e.phase].faults.push(e);
    if (state.shown === e.phase) { drawCharts(); describeFaults(state.phases[e.phase]); }
  },
  timeline(e) {
    state.phases[e.phase].timeline = e.timeline;
    if (state.shown === e.phase) drawTimeline();
  },
  verdict(e) {
    state.phases[e.phase].verdict = e;
    drawBoard();
    drawViews();
    if (state.shown === e.phase) show(e.phase);
    queueOverview();
  },
  done(e) {
    state.done = e;
    $("status").textContent = (live ? "" : t("page-replay-prefix") + " ") + t(e.passed ? "page-done-passed" : "page-done-failed");
    drawBoard();
    showOverview();
  },
};

function handle(event) {
  const handler = handlers[event.type];
  if (handler) handler(event);
}

// --- Start ----------------------------------------------------------------

const live = !window.STOCKLOCK_EVENTS;
localize();
document.title = t(live ? "page-title-live" : "page-title-run", { name: "" });
makeCharts();
$("timeline-canvas").addEventListener("mousemove", timelineHover);
// The charts follow the window (to the projector, say) and the layout.
function fitCharts() {
  const tall = !document.body.classList.contains("projector");
  for (const name of ["units", "rates", "latency"]) {
    const el = $("chart-" + name);
    charts[name].setSize({ width: Math.max(480, el.clientWidth || 560), height: tall || name !== "units" ? 300 : 330 });
  }
  drawTimeline();
  if (overviewChart) overviewChart.setSize({ width: Math.max(480, $("chart-overview").clientWidth || 900), height: tall ? 380 : 360 });
}
let resizing = null;
window.addEventListener("resize", () => {
  clearTimeout(resizing);
  resizing = setTimeout(fitCharts, 150);
});

// Projector mode (the button, the P key, or `?projector` in the address):
// the header, the big numbers, the main chart and the verdict board on one
// 1280×720 screen; the rest is below (dashboard.css says what moves).
function projector(on) {
  document.body.classList.toggle("projector", on);
  $("projector").setAttribute("aria-pressed", String(on));
  fitCharts();
}
$("projector").addEventListener("click", () => projector(!document.body.classList.contains("projector")));
document.addEventListener("keydown", (e) => {
  if ((e.key === "p" || e.key === "P") && !e.ctrlKey && !e.metaKey && !e.altKey) projector(!document.body.classList.contains("projector"));
});
if (new URLSearchParams(location.search).has("projector")) projector(true);
if (live) {
  // One tab for the whole session: when a run ends and its load tester
  // goes, the stream keeps reconnecting (every second, as the server asks),
  // and the next run on the same address starts the page over with its own
  // `run` event: the tab follows to the next lesson without a reload.
  const listen = () => {
    const source = new EventSource("/events");
    source.onopen = () => { if (!state.done) $("status").textContent = t("page-live"); };
    source.onmessage = (m) => handle(JSON.parse(m.data));
    source.onerror = () => {
      $("status").textContent = state.done
        ? `${$("status").textContent.split(" — ")[0]} — ${t("page-follows")}`
        : t("page-no-answer");
      // A refused or failed reconnection can leave the source closed for
      // good: start a new one.
      if (source.readyState === EventSource.CLOSED) setTimeout(listen, 1000);
    };
  };
  listen();
  $("go").addEventListener("click", () => {
    $("go").disabled = true;
    fetch("/continue", { method: "POST", headers: { "X-Stocklock-Go": "1" } }).catch(() => { $("go").disabled = false; });
  });
} else {
  // Replaying moves through the views; the address asked for one.
  const asked = location.hash;
  window.STOCKLOCK_EVENTS.forEach(handle);
  const view = viewIn(asked);
  if (view === "overview") showOverview(); else show(view);
  $("go-hint").hidden = true;
  setUpReplay(window.STOCKLOCK_EVENTS);
}
