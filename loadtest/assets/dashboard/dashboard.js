// The stocklock dashboard. One page, two ways in: live, from the load
// tester's server-sent events (`/events`), or replayed from the events a
// report embeds (`window.STOCKLOCK_EVENTS`). Either way the same handler
// sees the same events in the same order, so the two cannot disagree.
"use strict";

const state = { run: null, phases: [], current: -1, shown: -1, waiting: null, done: null };
const $ = (id) => document.getElementById(id);
const fmt = (n, digits = 0) => (n == null ? "—" : Number(n).toFixed(digits));

// --- Charts (uPlot) -------------------------------------------------------

const COLORS = { blue: "#0072B2", orange: "#E69F00", vermillion: "#D55E00", green: "#009E73", purple: "#CC79A7", grey: "#666", ink: "#111" };

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

function chart(el, series, yLabel) {
  const width = Math.max(480, el.clientWidth || 560);
  return new uPlot({
    width, height: 300,
    scales: { x: { time: false } },
    axes: [{ label: "seconds into the phase", size: 50 }, { label: yLabel, size: 70 }],
    series: [{ label: "t (s)" }, ...series],
    plugins: [faultMarkers()],
    legend: { live: false },
  }, [[]].concat(series.map(() => [])), el);
}

const line = (label, stroke, dash) => ({ label, stroke, width: 3, dash, points: { show: true, size: 7 }, spanGaps: true });

let charts = null;
function makeCharts() {
  charts = {
    units: chart($("chart-units"), [
      line("units sold (ledger)", COLORS.blue),
      line("stock on sale", COLORS.ink, [10, 6]),
      line("stock left", COLORS.green, [3, 3]),
    ], "units"),
    rates: chart($("chart-rates"), [
      line("orders", COLORS.blue),
      line("409 sold out", COLORS.grey, [2, 4]),
      line("409 lock lost", COLORS.orange, [12, 4]),
      line("503", COLORS.vermillion, [6, 3]),
    ], "per second"),
    latency: chart($("chart-latency"), [
      line("p50", COLORS.blue),
      line("p99", COLORS.purple, [10, 4]),
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
  const phase = state.phases[index];
  $("phase-title").textContent = phase.plan.label;
  const expectation = phase.verdict ? phase.verdict.report.expectation : phase.plan.expectation;
  $("phase-expect").textContent = expectation ? expectationWords(expectation) : "";
  document.querySelectorAll("#board tr[data-phase]").forEach((tr) => tr.classList.toggle("shown", +tr.dataset.phase === index));
  drawNumbers();
  drawCharts();
}

function expectationWords(e) { return e === "must_be_safe" ? "must be safe" : "may oversell"; }

function drawNumbers() {
  const phase = state.phases[state.shown];
  const last = phase.ticks[phase.ticks.length - 1];
  const verdict = phase.verdict && phase.verdict.report;
  const sold = verdict ? verdict.ledger.sold : last ? last.sold : 0;
  const oversold = verdict ? verdict.verdict.oversold_units : last ? last.oversold : 0;
  $("sold").textContent = sold;
  $("initial").textContent = phase.plan.stock;
  $("oversold").textContent = oversold;
  $("oversold-box").classList.toggle("bad", oversold > 0);
  $("oversold-word").textContent = oversold > 0 ? "⚠ OVERSOLD" : "oversold";
  $("overlaps").textContent = verdict ? verdict.verdict.overlapping_holds : last ? last.overlaps : 0;
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
      ? [status, r.label, expectationWords(r.expectation), `${r.ledger.sold}/${r.ledger.initial_stock}`, r.verdict.oversold_units,
         r.verdict.overlapping_holds, r.counts.lock_lost, r.counts.lock_unavailable + r.counts.overloaded + r.counts.other_unavailable,
         fmt(r.orders_per_s), fmt(r.latency.p99_ms, 1)]
      : [status, phase.plan.label, phase.plan.expectation ? expectationWords(phase.plan.expectation) : "", `—/${phase.plan.stock}`, "", "", "", "", "", ""];
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
    state.run = e;
    state.phases = e.phases.map((plan) => ({ plan, ticks: [], faults: [], verdict: null }));
    $("run").textContent = `scenario ${e.scenario} · ${e.model} · ${e.targets.length} instance(s)`;
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
  },
  fault(e) {
    state.phases[e.phase].faults.push(e);
    if (state.shown === e.phase) drawCharts();
  },
  verdict(e) {
    state.phases[e.phase].verdict = e;
    drawBoard();
    if (state.shown === e.phase) show(e.phase);
  },
  done(e) {
    state.done = e;
    $("status").textContent = e.passed
      ? "✔ finished: every backend that must be safe was safe"
      : "✖ finished: a backend that must be safe was NOT";
    drawBoard();
  },
};

function handle(event) {
  const handler = handlers[event.type];
  if (handler) handler(event);
}

// --- Start ----------------------------------------------------------------

const live = !window.STOCKLOCK_EVENTS;
makeCharts();
if (live) {
  const source = new EventSource("/events");
  source.onopen = () => { if (!state.done) $("status").textContent = "● live"; };
  source.onmessage = (m) => handle(JSON.parse(m.data));
  source.onerror = () => {
    if (state.done) source.close();
    else $("status").textContent = "⚠ the load tester does not answer";
  };
  $("go").addEventListener("click", () => {
    $("go").disabled = true;
    fetch("/continue", { method: "POST", headers: { "X-Stocklock-Go": "1" } }).catch(() => { $("go").disabled = false; });
  });
} else {
  window.STOCKLOCK_EVENTS.forEach(handle);
  $("go-hint").hidden = true;
  if (state.done) $("status").textContent = "replay: " + $("status").textContent;
}
