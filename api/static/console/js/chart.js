// SVG charts built with DOM calls (no inline styles, so the CSP needs no unsafe-inline).

import { pAtLlr } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
export const SERIES = ["#1a56db", "#b3261e", "#1b7a3a", "#7b3fa0", "#8a5a00"];

/** Create an SVG element with attributes and children. */
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  for (const c of children.flat()) if (c) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function frame(width, height, title, desc) {
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart",
    "aria-label": title, preserveAspectRatio: "xMidYMid meet" },
  svg("title", {}, title), svg("desc", {}, desc));
}

/**
 * P(spoof) of each window over the call (score over time), with the tier thresholds.
 * @param {Array} windows - timeline entries {start, end, p_spoof}
 */
export function scoreChart(windows, { duration, thresholds, prior, title }) {
  const W = 640, H = 200, L = 44, R = 12, T = 12, B = 34;
  const dur = Math.max(duration || 0, ...windows.map((w) => w.end), 1e-3);
  const tx = (t) => L + (t / dur) * (W - L - R);
  const py = (p) => H - B - p * (H - T - B);
  const peak = windows.reduce((m, w) => Math.max(m, w.p_spoof), 0);
  const root = frame(W, H, title || "Spoof score over time",
    `${windows.length} windows over ${dur.toFixed(1)} s; highest P(spoof) ${(100 * peak).toFixed(1)} %.`);
  root.append(svg("rect", { x: L, y: T, width: W - L - R, height: H - T - B, class: "plot-bg" }));
  for (const p of [0, 0.25, 0.5, 0.75, 1]) {
    root.append(svg("line", { x1: L, x2: W - R, y1: py(p), y2: py(p), class: "grid" }),
      svg("text", { x: L - 6, y: py(p) + 4, class: "tick", "text-anchor": "end" }, p.toFixed(2)));
  }
  const step = [1, 2, 5, 10, 30, 60, 120, 300, 600].find((s) => dur / s <= 8) || 1200;
  for (let t = 0; t <= dur + 1e-9; t += step) {
    root.append(svg("text", { x: tx(t), y: H - B + 16, class: "tick", "text-anchor": "middle" }, `${t}s`));
  }
  root.append(svg("text", { x: (L + W - R) / 2, y: H - 4, class: "axis-label", "text-anchor": "middle" }, "time in the call"));
  if (thresholds && prior) {
    for (const tier of ["medium", "high"]) {
      if (typeof thresholds[tier] !== "number") continue;
      const y = py(pAtLlr(thresholds[tier], prior));
      root.append(svg("line", { x1: L, x2: W - R, y1: y, y2: y, class: `threshold threshold-${tier}` }),
        svg("text", { x: W - R - 4, y: y - 4, class: "tick", "text-anchor": "end" }, `${tier} tier`));
    }
  }
  const sorted = [...windows].sort((a, b) => a.start - b.start);
  for (const w of sorted) {
    root.append(svg("line", { x1: tx(w.start), x2: tx(w.end), y1: py(w.p_spoof), y2: py(w.p_spoof), class: "window-span" }));
  }
  const pts = sorted.map((w) => `${tx((w.start + w.end) / 2).toFixed(1)},${py(w.p_spoof).toFixed(1)}`);
  if (pts.length) root.append(svg("polyline", { points: pts.join(" "), class: "score-line" }));
  return root;
}

/**
 * DET curves in probit space, as served by /v1/console/models/{name}/det.
 */
export function detChart(det) {
  const W = 420, H = 380, L = 56, R = 12, T = 12, B = 52;
  const { min, max, ticks } = det.axis;
  const sx = (z) => L + ((z - min) / (max - min)) * (W - L - R);
  const sy = (z) => H - B - ((z - min) / (max - min)) * (H - T - B);
  const withPoints = det.conditions.filter((c) => c.points.length);
  const desc = withPoints.map((c) => `${c.condition}: EER ${(100 * c.eer).toFixed(2)} %`).join("; ");
  const root = frame(W, H, `DET curve of ${det.name}`, desc || "No DET points stored.");
  root.append(svg("rect", { x: L, y: T, width: W - L - R, height: H - T - B, class: "plot-bg" }));
  for (const t of ticks) {
    root.append(
      svg("line", { x1: sx(t.z), x2: sx(t.z), y1: T, y2: H - B, class: "grid" }),
      svg("line", { x1: L, x2: W - R, y1: sy(t.z), y2: sy(t.z), class: "grid" }),
      svg("text", { x: sx(t.z), y: H - B + 14, class: "tick", "text-anchor": "middle" }, t.label),
      svg("text", { x: L - 5, y: sy(t.z) + 4, class: "tick", "text-anchor": "end" }, t.label),
    );
  }
  root.append(
    svg("line", { x1: sx(min), y1: sy(min), x2: sx(max), y2: sy(max), class: "diagonal" }),
    svg("text", { x: (L + W - R) / 2, y: H - 18, class: "axis-label", "text-anchor": "middle" },
      "Spoof accepted (false alarm), %"),
    svg("text", { x: 14, y: (T + H - B) / 2, class: "axis-label", "text-anchor": "middle",
      transform: `rotate(-90 14 ${(T + H - B) / 2})` }, "Bona fide flagged (miss), %"),
  );
  withPoints.forEach((c, i) => {
    const color = SERIES[i % SERIES.length];
    const pts = c.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ");
    root.append(svg("polyline", { points: pts, class: "det-line", stroke: color }));
    if (c.eer_point) {
      root.append(svg("circle", { cx: sx(c.eer_point[0]), cy: sy(c.eer_point[1]), r: 4, fill: color, class: "eer-dot" }));
    }
    const ly = T + 16 + 16 * i;
    root.append(svg("line", { x1: W - R - 150, x2: W - R - 130, y1: ly - 4, y2: ly - 4, stroke: color, class: "legend-line" }),
      svg("text", { x: W - R - 125, y: ly, class: "legend" }, `${c.condition} (EER ${(100 * c.eer).toFixed(1)} %)`));
  });
  return root;
}
