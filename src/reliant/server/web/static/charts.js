// reliant web UI: time-series charts drawn with uPlot (static/uPlot.iife.min.js, vendored).
// No inline scripts (the Content-Security-Policy forbids them): a chart is an element with
// its data in a JSON data attribute, drawn here.
//
//   <div class="chart" data-chart='{"unit": "%", "times": [epoch s, ...],
//        "series": [{"label": "...", "values": [number|null, ...]}, ...],
//        "thresholds": [{"label": "...", "value": n, "series": index or -1}, ...]}'>
//
// "points": true marks each value with a dot (sparse series, e.g. weekly trends).
//
// Thresholds are dashed horizontal lines in the colour of the series they belong to (-1:
// the critical colour). Colours come from the stylesheet's variables, so the charts follow
// the light and dark schemes, and are redrawn when the scheme changes or the page resizes.
(function () {
  "use strict";

  if (!window.uPlot) return;
  const HEIGHT = 240;
  const PALETTE = ["--chart-1", "--chart-2", "--chart-3", "--chart-4", "--chart-5", "--chart-6"];
  const charts = [];
  const dark = window.matchMedia("(prefers-color-scheme: dark)");

  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function colour(index) {
    return index < 0 ? css("--critical-line") : css(PALETTE[index % PALETTE.length]);
  }

  function format(value, unit) {
    if (value === null || value === undefined || !Number.isFinite(value)) return "—";
    const abs = Math.abs(value);
    const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
    return `${value.toFixed(digits)}${unit}`;
  }

  function options(spec, width) {
    const text = css("--muted");
    const grid = css("--border");
    const unit = spec.unit || "";
    const axis = {
      stroke: text,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 },
      font: "11px system-ui, sans-serif",
    };
    const series = [{ label: "time (UTC)" }];
    spec.series.forEach((s, i) => {
      series.push({
        label: s.label,
        stroke: colour(i),
        width: 2,
        fill: spec.series.length === 1 ? `${colour(i)}22` : undefined,
        spanGaps: false,
        points: { show: spec.points === true },
        value: (u, v) => format(v, unit),
      });
    });
    for (const t of spec.thresholds || []) {
      series.push({
        label: t.label,
        stroke: colour(t.series),
        width: 1,
        dash: [6, 4],
        points: { show: false },
        value: () => format(t.value, unit),
      });
    }
    return {
      width: width,
      height: HEIGHT,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
      scales: { x: { time: true } },
      axes: [
        axis,
        Object.assign({}, axis, { size: 56, values: (u, ticks) => ticks.map((v) => format(v, unit)) }),
      ],
      series: series,
    };
  }

  function data(spec) {
    const columns = [spec.times];
    for (const s of spec.series) columns.push(s.values);
    for (const t of spec.thresholds || []) columns.push(spec.times.map(() => t.value));
    return columns;
  }

  function draw(holder) {
    const spec = JSON.parse(holder.dataset.chart);
    holder.replaceChildren();
    if (!spec.times.length) {
      holder.textContent = "No data in this range yet.";
      return null;
    }
    const width = Math.max(holder.clientWidth, 240);
    const plot = new uPlot(options(spec, width), data(spec), holder);
    holder.dataset.drawn = "true";
    holder.dataset.scheme = dark.matches ? "dark" : "light";
    return plot;
  }

  function drawAll() {
    while (charts.length) {
      const old = charts.pop();
      if (old.plot) old.plot.destroy();
    }
    for (const holder of document.querySelectorAll(".chart[data-chart]")) {
      charts.push({ holder: holder, plot: draw(holder) });
    }
  }

  let pending = null;
  function resize() {
    clearTimeout(pending);
    pending = setTimeout(() => {
      for (const c of charts) {
        if (c.plot) c.plot.setSize({ width: Math.max(c.holder.clientWidth, 240), height: HEIGHT });
      }
    }, 150);
  }

  drawAll();
  window.addEventListener("resize", resize);
  dark.addEventListener("change", drawAll);
})();
