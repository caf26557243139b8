// Line charts over time, drawn as SVG: axes with units and tick labels, one line per series,
// told apart by dash pattern and marker as well as colour, a legend in words, and a text
// description for screen readers.

import { h, s } from "./dom.js";

const W = 680;
const H = 240;
const M = { left: 70, right: 20, top: 18, bottom: 46 };
const DASHES = ["", "6 4", "2 3", "10 3 2 3"];
const MARKERS = ["circle", "square", "triangle", "diamond"];

/** About `count` round tick values from min to max (1, 2, 2.5 or 5 times a power of ten). */
export function niceTicks(min, max, count = 5) {
  if (!(max > min)) {
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    return niceTicks(min - pad, max + pad, count);
  }
  const raw = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((st) => st >= raw);
  const first = Math.floor(min / step) * step;
  const ticks = [];
  for (let v = first; v <= max + step * 0.999; v += step) ticks.push(Number(v.toFixed(10)));
  return ticks;
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map((x) => x * 1000);
const pad2 = (n) => String(n).padStart(2, "0");

function timeTicks(t0, t1) {
  const step = TIME_STEPS.find((st) => (t1 - t0) / st <= 6) || TIME_STEPS[TIME_STEPS.length - 1];
  // Round to the step in local time.
  const offset = new Date(t0).getTimezoneOffset() * 60000;
  const ticks = [];
  for (let t = Math.ceil((t0 - offset) / step) * step + offset; t <= t1; t += step) ticks.push(t);
  return { ticks, seconds: step < 60000 };
}

function timeLabel(t, seconds) {
  const d = new Date(t);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}${seconds ? `:${pad2(d.getSeconds())}` : ""}`;
}

function marker(kind, x, y) {
  const r = 3.5;
  if (kind === "square") return s("rect", { x: x - r, y: y - r, width: 2 * r, height: 2 * r });
  if (kind === "triangle") return s("path", { d: `M${x} ${y - r - 1}L${x + r + 1} ${y + r}L${x - r - 1} ${y + r}Z` });
  if (kind === "diamond") return s("path", { d: `M${x} ${y - r - 1}L${x + r + 1} ${y}L${x} ${y + r + 1}L${x - r - 1} ${y}Z` });
  return s("circle", { cx: x, cy: y, r });
}

const fmtValue = (v, digits) => v.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/**
 * A chart of `series` ([{label, points: [[timeMs, value], ...]}]) in `unit`; `quantity` names
 * the axis ("Power"), `digits` the decimals of values, `zero` whether the axis starts at 0.
 * `attrs` go on the <svg> (data attributes for tests and tools).
 */
export function lineChart({ id, quantity, unit, series, digits = 1, zero = true, attrs = {} }) {
  const all = series.flatMap((se) => se.points);
  const figure = h("figure", { class: "chart", id });
  const titleId = `${id}-title`;
  const descId = `${id}-desc`;
  const caption = `${quantity} (${unit})`;
  if (!all.length) {
    figure.append(h("figcaption", {}, caption), h("p", { class: "empty" }, `No ${quantity.toLowerCase()} readings in this session.`));
    return figure;
  }
  let t0 = Math.min(...all.map((p) => p[0]));
  let t1 = Math.max(...all.map((p) => p[0]));
  if (t1 - t0 < 1000) { t0 -= 30000; t1 += 30000; }
  const values = all.map((p) => p[1]);
  const yTicks = niceTicks(zero ? Math.min(0, ...values) : Math.min(...values), Math.max(...values));
  const y0 = yTicks[0];
  const y1 = yTicks[yTicks.length - 1];
  const x = (t) => M.left + ((t - t0) / (t1 - t0)) * (W - M.left - M.right);
  const y = (v) => H - M.bottom - ((v - y0) / (y1 - y0)) * (H - M.top - M.bottom);
  const { ticks: xTicks, seconds } = timeTicks(t0, t1);
  // As many decimals as the tick step has (0.5 → 1, 0.25 → 2), so labels differ and say no more.
  const step = yTicks.length > 1 ? Number((yTicks[1] - yTicks[0]).toFixed(10)) : 1;
  const yDigits = Math.min(3, (String(step).split(".")[1] || "").length);

  const summary = series.filter((se) => se.points.length).map((se) => {
    const vs = se.points.map((p) => p[1]);
    const last = se.points[se.points.length - 1][1];
    return `${se.label}: ${se.points.length} readings from ${fmtValue(Math.min(...vs), digits)} to ${fmtValue(Math.max(...vs), digits)} ${unit}, last ${fmtValue(last, digits)} ${unit}`;
  }).join("; ");

  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": `${titleId} ${descId}`, class: "chart-svg", ...attrs },
    s("title", { id: titleId }, `${quantity} over time, in ${unit}`),
    s("desc", { id: descId }, summary),
    // Grid and y axis.
    yTicks.map((v) => s("g", { class: "tick y" },
      s("line", { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), class: "grid" }),
      s("text", { x: M.left - 6, y: y(v) + 4, "text-anchor": "end" }, fmtValue(v, yDigits)))),
    xTicks.map((t) => s("g", { class: "tick x" },
      s("line", { x1: x(t), x2: x(t), y1: H - M.bottom, y2: H - M.bottom + 5, class: "axis" }),
      s("text", { x: x(t), y: H - M.bottom + 18, "text-anchor": "middle" }, timeLabel(t, seconds)))),
    s("line", { x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom, class: "axis" }),
    s("line", { x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom, class: "axis" }),
    s("text", { class: "axis-label", x: 14, y: (M.top + H - M.bottom) / 2, "text-anchor": "middle",
      transform: `rotate(-90 14 ${(M.top + H - M.bottom) / 2})` }, caption),
    s("text", { class: "axis-label", x: (M.left + W - M.right) / 2, y: H - 6, "text-anchor": "middle" }, "Time (local)"),
    series.map((se, i) => {
      const points = [...se.points].sort((a, b) => a[0] - b[0]);
      return s("g", { class: `series s${i % 4}`, "data-series": se.label },
        s("polyline", { points: points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" "),
          fill: "none", "stroke-dasharray": DASHES[i % 4] || null }),
        points.map(([t, v]) => marker(MARKERS[i % 4], x(t), y(v))));
    }));
  const legend = h("ul", { class: "legend" }, series.map((se, i) =>
    h("li", { class: `s${i % 4}` },
      s("svg", { width: 34, height: 12, "aria-hidden": "true", class: `series s${i % 4}` },
        s("line", { x1: 1, x2: 33, y1: 6, y2: 6, "stroke-dasharray": DASHES[i % 4] || null }), marker(MARKERS[i % 4], 17, 6)),
      ` ${se.label}`)));
  figure.append(h("figcaption", {}, caption), svg, legend);
  return figure;
}
