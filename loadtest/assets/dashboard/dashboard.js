// The stocklock dashboard (the overview, the timeline and the report's
// playback are overview.js, timeline.js and replay.js, loaded first). One page, two ways in: live, from the load
// tester's server-sent events (`/events`), or replayed from the events a
// report embeds (`window.STOCKLOCK_EVENTS`). Either way the same handler
// sees the same events in the same order, so the two cannot disagree.
"use strict";

// `view`: "overview", or the index of the phase on show (also `shown`).
const state = { run: null, phases: [], current: -1, shown: -1, view: null, waiting: null, done: null };
const $ = (id) => document.getElementById(id);
// Figures with thousands separators, in the reader's own way of writing them.
const fmt = (n, digits = 0) =>
  n == null ? "—" : Number(n).toLocaleString(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits });

// --- Charts (uPlot) -------------------------------------------------------

// The colours, and which each chart draws its series in: palette.json,
// embedded as PALETTE (and checked for colour-blind viewers by a test).
const COLORS = PALETTE.colors;
const inks = (chart) => PALETTE.charts[chart].map((name) => COLORS[name]);

// Fault markers: a dashed vertical line and a label at each fault's time.
function faultMarkers() {
  return {
    hooks: {
      draw: [(u) => {
        const phase = state.phases[state.shown];
        if (!phase) return;
        const ctx = u.ctx, dpr = devicePixelRatio || 1;
        ctx.save();
        ctx.strokeStyle = COLORS.ink;
        ctx.fillStyle = COLORS.ink;
        ctx.lineWidth = 2 * dpr;
        ctx.setLineDash([8 * dpr, 5 * dpr]);
        ctx.font = `${15 * dpr}px system-ui, sans-serif`;
        // uPlot leaves the context as its last axis left it.
        ctx.textAlign = "left";
        ctx.textBaseline = "alphabetic";
        phase.faults.forEach((f, i) => {
          const x = u.valToPos(f.t, "x", true);
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.fillText("⚡ " + f.kind.replace(/_/g, " "), x + 4 * dpr, u.bbox.top + (16 + 18 * (i % 3)) * dpr);
        });
        ctx.restore();
      }],
    },
  };
}

// Axis text a room can read from the back: 20 px and up.
const AXIS_FONT = "20px system-ui, 'DejaVu Sans', sans-serif";
const AXIS_LABEL_FONT = "bold 20px system-ui, 'DejaVu Sans', sans-serif";
const axis = (label, size, more = {}) => ({ label, size, font: AXIS_FONT, labelFont: AXIS_LABEL_FONT, labelSize: 30, ...more });
const thousands = (u, values) => values.map((v) => (v == null ? "" : v.toLocaleString()));

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
    axes: [axis("seconds into the phase", 56), axis(yLabel, 96, { values: thousands })],
    series: [{ label: "t (s)" }, ...series],
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
        ctx.font = `bold ${19 * dpr}px system-ui, 'DejaVu Sans', sans-serif`;
        ctx.textAlign = "right";
        ctx.textBaseline = "top";
        ctx.fillText(`↑ ${fmt(last.sold)} sold: ${(last.sold / phase.plan.stock).toFixed(1)}× the stock`,
          u.bbox.left + u.bbox.width - 6 * dpr, u.bbox.top + 4 * dpr);
        ctx.restore();
      }],
    },
  };
}

const line = (label, stroke, dash) => ({ label, stroke, width: 3, dash, points: { show: true, size: 7 }, spanGaps: true });

let charts = null;
function makeCharts() {
  const [units, rates, latency] = ["units", "rates", "latency"].map(inks);
  charts = {
    units: chart($("chart-units"), [
      line("units sold (ledger)", units[0]),
      line("stock on sale", units[1], [10, 6]),
      line("stock left", units[2], [3, 3]),
    ], "units", { y: unitsScale(), plugins: [unitsOverflow()] }),
    rates: chart($("chart-rates"), [
      line("orders", rates[0]),
      line("409 sold out", rates[1], [2, 4]),
      line("409 lock lost", rates[2], [12, 4]),
      line("503", rates[3], [6, 3, 2, 3]),
    ], "per second"),
    latency: chart($("chart-latency"), [
      line("p50", latency[0]),
      line("p99", latency[1], [10, 4]),
    ], "ms"),
  };
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
  $("phase-title").textContent = phase.plan.label;
  const expectation = phase.verdict ? phase.verdict.report.expectation : phase.plan.expectation;
  $("phase-expect").textContent = expectation ? expectationWords(expectation) : "";
  document.querySelectorAll("#board tr[data-phase]").forEach((tr) => tr.classList.toggle("shown", +tr.dataset.phase === index));
  drawNumbers();
  drawCharts();
  drawTimeline();
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
    button.textContent = phase ? `${phase.verdict ? phase.verdict.label.split(" ")[0] + " " : ""}${phase.plan.label}` : "Overview";
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

function expectationWords(e) { return e === "must_be_safe" ? "must be safe" : "may oversell"; }

function drawNumbers() {
  const phase = state.phases[state.shown];
  const last = phase.ticks[phase.ticks.length - 1];
  const verdict = phase.verdict && phase.verdict.report;
  const sold = verdict ? verdict.ledger.sold : last ? last.sold : 0;
  const oversold = verdict ? verdict.verdict.oversold_units : last ? last.oversold : 0;
  $("sold").textContent = fmt(sold);
  $("initial").textContent = fmt(phase.plan.stock);
  $("oversold").textContent = fmt(oversold);
  $("oversold-box").classList.toggle("bad", oversold > 0);
  $("oversold-word").textContent = oversold > 0 ? "⚠ OVERSOLD" : "oversold";
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
    tr.dataset.verdict = v ? v.label : "";
    const status = v ? v.label : i === state.current && !state.done ? "⏳ running" : i === state.waiting ? "⏸ next" : "· pending";
    const cells = r
      ? [status, r.label, expectationWords(r.expectation), `${fmt(r.ledger.sold)}/${fmt(r.ledger.initial_stock)}`, fmt(r.verdict.oversold_units),
         fmt(r.verdict.overlapping_holds), fmt(r.verdict.most_holders_at_once), fmt(r.counts.lock_lost),
         fmt(r.counts.lock_unavailable + r.counts.overloaded + r.counts.other_unavailable), fmt(r.orders_per_s), fmt(r.latency.p99_ms, 1)]
      : [status, phase.plan.label, phase.plan.expectation ? expectationWords(phase.plan.expectation) : "", `—/${fmt(phase.plan.stock)}`, "", "", "", "", "", "", ""];
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
      li.textContent = `${r.label}: ${r.why}`;
      whys.appendChild(li);
    }
  });
}

// --- Events ---------------------------------------------------------------

const handlers = {
  run(e) {
    // A run starts from nothing (a replay starts the same run over).
    Object.assign(state, { run: e, current: -1, shown: -1, view: null, waiting: null, done: null });
    overviewChart = null;
    $("next").hidden = true;
    state.phases = e.phases.map((plan) => ({ plan, ticks: [], faults: [], timeline: null, verdict: null }));
    $("run").textContent = (e.title ? `${e.title} — ` : "") + `scenario ${e.scenario} · ${e.model} · ${e.targets.length} instance(s)`;
    document.title = `stocklock — ${e.title || e.scenario}`;
    drawBoard();
    if (state.phases.length) show(0);
  },
  waiting(e) {
    state.waiting = e.phase;
    const plan = state.phases[e.phase].plan;
    $("next").hidden = false;
    $("next-label").textContent = plan.label;
    $("next-question").textContent = plan.question;
    $("go").disabled = !live;
    $("status").textContent = "⏸ waiting for the instructor";
    drawBoard();
  },
  phase(e) {
    state.current = e.phase;
    state.waiting = null;
    $("next").hidden = true;
    $("status").textContent = live ? "● live" : "replay";
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
    if (state.shown === e.phase) drawCharts();
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
    $("status").textContent = (live ? "" : "replay: ") + (e.passed
      ? "✔ finished: every backend that must be safe was safe"
      : "✖ finished: a backend that must be safe was NOT");
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
    source.onopen = () => { if (!state.done) $("status").textContent = "● live"; };
    source.onmessage = (m) => handle(JSON.parse(m.data));
    source.onerror = () => {
      $("status").textContent = state.done
        ? `${$("status").textContent.split(" — ")[0]} — this tab follows the next run`
        : "⚠ the load tester does not answer";
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
