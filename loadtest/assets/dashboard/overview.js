// The overview: the whole lesson at one glance. Every phase on shared
// axes — units sold as a share of the stock, over seconds into the phase,
// one line per phase (its own colour, dash and label at its end), the
// oversold area above the stock shaded and labelled — and the cost of
// safety: orders/s and p99 per phase as bars. A line that runs past twice
// the stock leaves the chart at the top, where a label says how far it
// went: the stock line stays readable when `none` sells thirty times it.
// The report opens here; the live page comes here when the run is done.
"use strict";

// Four colours that colour-blind viewers tell apart (palette.json), and a
// dash of its own for every line: seven phases are told apart by dash and
// label, not by hue.
const OVERVIEW = { ceiling: 2, dashes: [[], [12, 6], [3, 4], [16, 4, 3, 4], [6, 3], [2, 7], [22, 6], [8, 3, 2, 3]] };
const overviewInk = (i) => COLORS[PALETTE.charts.overview[i % PALETTE.charts.overview.length]];

let overviewChart = null;

// Share of the stock sold, tick by tick, per phase: [[t…], [share…]].
function shareSold(phase) {
  const stock = Math.max(1, phase.plan.stock);
  const ticks = phase.ticks;
  return [[0, ...ticks.map((k) => k.t)], [0, ...ticks.map((k) => k.sold / stock)]];
}

function overviewSeries(i) {
  const plan = state.phases[i].plan;
  return {
    label: loc(plan, "label"),
    stroke: overviewInk(i),
    dash: OVERVIEW.dashes[i % OVERVIEW.dashes.length],
    width: 4,
    points: { show: false },
    spanGaps: true,
  };
}

function makeOverviewChart() {
  const el = $("chart-overview");
  el.replaceChildren();
  const series = state.phases.map((_, i) => overviewSeries(i));
  overviewChart = new uPlot({
    width: Math.max(480, el.clientWidth || 900), height: 380,
    scales: { x: { time: false }, y: { range: (u, min, max) => [0, Math.min(OVERVIEW.ceiling, Math.max(1.15, max)) * 1.04] } },
    axes: [
      axis(t("page-axis-seconds"), 56),
      axis(t("page-axis-share"), 96, { values: (u, vals) => vals.map((v) => `${Math.round(v * 100)} %`) }),
    ],
    series: [{ label: t("page-series-t") }, ...series],
    legend: { show: false },
    cursor: { show: false },
    hooks: { drawClear: [shadeOversold], draw: [labelLineEnds] },
  }, [[]].concat(series.map(() => [])), el);
  el.dataset.series = series.length;
}

// Above the stock is oversold: shaded, with a dashed stock line and words.
function shadeOversold(u) {
  const ctx = u.ctx, dpr = devicePixelRatio || 1, { left, top, width, height } = u.bbox;
  const y = u.valToPos(1, "y", true);
  ctx.save();
  ctx.fillStyle = "rgba(213, 94, 0, 0.13)";
  ctx.fillRect(left, top, width, Math.max(0, y - top));
  ctx.strokeStyle = COLORS.ink;
  ctx.lineWidth = 2 * dpr;
  ctx.setLineDash([10 * dpr, 6 * dpr]);
  ctx.beginPath();
  ctx.moveTo(left, y);
  ctx.lineTo(left + width, y);
  ctx.stroke();
  // Words at the left, where the lines start low: the right is where the
  // lines end and carry their labels.
  ctx.fillStyle = COLORS.vermillion;
  ctx.font = font(20 * dpr, true);
  ctx.textAlign = "left";
  ctx.textBaseline = "bottom";
  ctx.fillText(t("page-overview-oversold"), left + 8 * dpr, y - 6 * dpr);
  ctx.fillStyle = COLORS.ink;
  ctx.textBaseline = "top";
  ctx.fillText(t("page-overview-stock"), left + 8 * dpr, y + 6 * dpr);
  ctx.restore();
}

// Each line's label at its end; past the ceiling, at the top, saying how
// far it went.
function labelLineEnds(u) {
  const ctx = u.ctx, dpr = devicePixelRatio || 1;
  const top = u.bbox.top, ceiling = u.scales.y.max;
  ctx.save();
  ctx.font = font(19 * dpr, true);
  ctx.textBaseline = "middle";
  const placed = [];
  state.phases.forEach((phase, i) => {
    const [at, share] = shareSold(phase);
    if (at.length < 2) return;
    const last = share[share.length - 1], peak = Math.max(...share);
    let x = u.valToPos(at[at.length - 1], "x", true), y = u.valToPos(Math.min(last, ceiling), "y", true);
    let text = loc(phase.plan, "label");
    if (peak > ceiling) {
      const sold = phase.ticks[phase.ticks.length - 1].sold;
      text = t("page-overview-overflow", { label: text, times: fmt(peak, 1), sold: fmt(sold), stock: fmt(phase.plan.stock) });
      x = u.valToPos(at[share.findIndex((s) => s > ceiling)], "x", true);
      y = top + 14 * dpr;
    }
    // Labels that would sit on one another move down a line.
    while (placed.some((p) => Math.abs(p - y) < 22 * dpr)) y += 22 * dpr;
    placed.push(y);
    ctx.fillStyle = overviewInk(i);
    const width = ctx.measureText(text).width;
    ctx.textAlign = x + width + 10 * dpr > u.bbox.left + u.bbox.width ? "right" : "left";
    ctx.fillText(text, x + (ctx.textAlign === "left" ? 8 : -8) * dpr, y);
  });
  ctx.restore();
}

function drawOverview() {
  if (state.view !== "overview") return;
  if (!overviewChart || +$("chart-overview").dataset.series !== state.phases.length) makeOverviewChart();
  const tables = state.phases.map(shareSold);
  const data = tables.length ? uPlot.join(tables) : [[]];
  overviewChart.setData(data);
  drawCosts();
}

// The cost of safety: a bar per phase for orders/s and for p99, each
// scaled to the largest, the figure written beside it.
function drawCosts() {
  const body = document.querySelector("#costs tbody");
  body.replaceChildren();
  const reports = state.phases.map((p) => p.verdict && p.verdict.report);
  const most = (f) => Math.max(1e-9, ...reports.filter(Boolean).map(f));
  const [rate, p99] = [most((r) => r.orders_per_s), most((r) => r.latency.p99_ms)];
  state.phases.forEach((phase, i) => {
    const r = reports[i];
    const tr = document.createElement("tr");
    tr.dataset.phase = i;
    const name = document.createElement("th");
    name.textContent = `${phase.verdict ? loc(phase.verdict, "label").split(" ")[0] : "·"} ${loc(phase.plan, "label")}`;
    tr.append(name, bar(r && r.orders_per_s, rate, 0, "rate"), bar(r && r.latency.p99_ms, p99, 1, "p99"));
    tr.addEventListener("click", () => show(i));
    body.appendChild(tr);
  });
}

function bar(value, most, digits, kind) {
  const td = document.createElement("td");
  td.className = "bar " + kind;
  if (value == null) { td.textContent = "—"; return td; }
  const fill = document.createElement("span");
  fill.className = "fill";
  fill.style.width = `${Math.max(0.5, (value / most) * 100) * 0.7}%`;
  const figure = document.createElement("span");
  figure.className = "figure";
  figure.textContent = fmt(value, digits);
  td.append(fill, figure);
  return td;
}
