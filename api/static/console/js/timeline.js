// The timeline canvas: server spectrogram, speech regions, per-window P(spoof), top windows.

import { pAtLlr } from "./dom.js";

const BRACKET = 9;
const M = { left: 40, right: 10, top: 8 + 3 * BRACKET, bottom: 40 };
const SPEECH_BAR = 10;
const COLORS = {
  panel: "#10141a", text: "#e8eaed", grid: "rgba(232,234,237,0.25)", nonSpeech: "rgba(0,0,0,0.55)",
  speech: "#7ee2a8", noSpeech: "#3a3f47", trace: "#00e5ff", outline: "#000000",
  top: "rgba(255,255,255,0.10)", topEdge: "#ffffff", selected: "#ffd54f",
  medium: "#ffd54f", high: "#ff8a80",
};
const TICK_STEPS = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600];

/** Decode the base64 PNG of a spectrogram payload into an ImageBitmap. */
export async function spectrogramBitmap(spec) {
  const bin = atob(spec.png);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) bytes[i] = bin.charCodeAt(i);
  return createImageBitmap(new Blob([bytes], { type: "image/png" }));
}

/** Draws one decision over its spectrogram on a canvas; redraws on resize. */
export class Timeline {
  constructor(canvas) {
    this.canvas = canvas;
    this.data = null;
    this.selected = -1;
    this.onPick = null;
    new ResizeObserver(() => this.draw()).observe(canvas);
    canvas.addEventListener("click", (ev) => this.#click(ev));
  }

  /**
   * @param {object} d - {bitmap, spec, windows, top (indices into windows), duration,
   *   thresholds, prior}
   */
  set(d) {
    this.data = d;
    this.selected = -1;
    this.draw();
  }

  select(index) {
    this.selected = index;
    this.draw();
  }

  #geometry() {
    const w = this.canvas.clientWidth;
    const h = this.canvas.clientHeight;
    const x0 = M.left;
    const x1 = Math.max(x0 + 10, w - M.right);
    const y0 = M.top;
    const y1 = Math.max(y0 + 10, h - M.bottom - SPEECH_BAR - 6);
    const dur = Math.max(this.data.duration || 0, 1e-3);
    return {
      w, h, x0, x1, y0, y1, dur,
      tx: (t) => x0 + (Math.min(Math.max(t, 0), dur) / dur) * (x1 - x0),
      py: (p) => y1 - p * (y1 - y0),
    };
  }

  #click(ev) {
    if (!this.data || !this.onPick) return;
    const g = this.#geometry();
    const rect = this.canvas.getBoundingClientRect();
    const t = ((ev.clientX - rect.left - g.x0) / (g.x1 - g.x0)) * g.dur;
    let best = -1;
    this.data.windows.forEach((win, i) => {
      if (t >= win.start && t <= win.end && (best < 0 || win.score > this.data.windows[best].score)) best = i;
    });
    if (best >= 0) this.onPick(best);
  }

  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const cssW = c.clientWidth;
    const cssH = c.clientHeight;
    if (!this.data || cssW === 0 || cssH === 0) return;
    c.width = Math.round(cssW * dpr);
    c.height = Math.round(cssH * dpr);
    const ctx = c.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const d = this.data;
    const g = this.#geometry();
    ctx.fillStyle = COLORS.panel;
    ctx.fillRect(0, 0, cssW, cssH);
    ctx.font = "12px system-ui, sans-serif";
    // spectrogram
    if (d.bitmap) {
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(d.bitmap, g.x0, g.y0, g.x1 - g.x0, g.y1 - g.y0);
    } else {
      ctx.fillStyle = COLORS.text;
      ctx.fillText("Spectrogram unavailable", g.x0 + 8, g.y0 + 18);
    }
    // speech regions: shade what is not speech, and a bar below
    const regions = (d.spec && d.spec.speech_regions) || [];
    const by = g.y1 + 6;
    ctx.fillStyle = COLORS.noSpeech;
    ctx.fillRect(g.x0, by, g.x1 - g.x0, SPEECH_BAR);
    if (d.spec) {
      let last = 0;
      ctx.fillStyle = COLORS.nonSpeech;
      for (const [s, e] of [...regions, [g.dur, g.dur]]) {
        if (s > last) ctx.fillRect(g.tx(last), g.y0, g.tx(s) - g.tx(last), g.y1 - g.y0);
        last = Math.max(last, e);
      }
      ctx.fillStyle = COLORS.speech;
      for (const [s, e] of regions) ctx.fillRect(g.tx(s), by, Math.max(1, g.tx(e) - g.tx(s)), SPEECH_BAR);
    }
    // highest-scoring windows: a light wash over the picture and a numbered bracket above it
    (d.top || []).forEach((wi, rank) => {
      const win = d.windows[wi];
      const x = g.tx(win.start);
      const w = g.tx(win.end) - x;
      ctx.fillStyle = COLORS.top;
      ctx.fillRect(x, g.y0, w, g.y1 - g.y0);
      const y = M.top - BRACKET * (rank + 1) + 3;
      ctx.strokeStyle = COLORS.topEdge;
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(x + 1, y + 4);
      ctx.lineTo(x + 1, y);
      ctx.lineTo(x + w - 1, y);
      ctx.lineTo(x + w - 1, y + 4);
      ctx.stroke();
      ctx.fillStyle = ctx.strokeStyle;
      ctx.font = "bold 11px system-ui, sans-serif";
      ctx.fillText(String(rank + 1), x - 12 < 0 ? x + 3 : x - 10, y + 4);
      ctx.font = "12px system-ui, sans-serif";
    });
    if (this.selected >= 0 && d.windows[this.selected]) {
      const win = d.windows[this.selected];
      ctx.lineWidth = 3;
      ctx.strokeStyle = COLORS.selected;
      ctx.strokeRect(g.tx(win.start) + 1.5, g.y0 + 1.5, g.tx(win.end) - g.tx(win.start) - 3, g.y1 - g.y0 - 3);
    }
    // tier thresholds in P(spoof) space
    if (d.thresholds && d.prior) {
      for (const tier of ["medium", "high"]) {
        const thr = d.thresholds[tier];
        if (typeof thr !== "number") continue;
        const y = g.py(pAtLlr(thr, d.prior));
        ctx.setLineDash([6, 4]);
        ctx.lineWidth = 1;
        ctx.strokeStyle = COLORS[tier];
        ctx.beginPath();
        ctx.moveTo(g.x0, y);
        ctx.lineTo(g.x1, y);
        ctx.stroke();
        ctx.setLineDash([]);
      }
    }
    // per-window P(spoof): a line through the window centres
    const pts = d.windows
      .map((win) => [(win.start + win.end) / 2, win.p_spoof])
      .sort((a, b) => a[0] - b[0]);
    for (const [width, color] of [[4, COLORS.outline], [2, COLORS.trace]]) {
      ctx.lineWidth = width;
      ctx.strokeStyle = color;
      ctx.beginPath();
      pts.forEach(([t, p], i) => (i ? ctx.lineTo(g.tx(t), g.py(p)) : ctx.moveTo(g.tx(t), g.py(p))));
      ctx.stroke();
    }
    ctx.fillStyle = COLORS.trace;
    for (const [t, p] of pts) {
      ctx.beginPath();
      ctx.arc(g.tx(t), g.py(p), 3, 0, 2 * Math.PI);
      ctx.fill();
    }
    this.#axes(ctx, g);
    c.dataset.specWidth = d.bitmap ? String(d.bitmap.width) : "0";
    c.dataset.specHeight = d.bitmap ? String(d.bitmap.height) : "0";
    c.dataset.rendered = "true";
  }

  #axes(ctx, g) {
    ctx.fillStyle = COLORS.text;
    ctx.strokeStyle = COLORS.grid;
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    for (const p of [0, 0.5, 1]) {
      const y = g.py(p);
      ctx.fillText(p.toFixed(1), g.x0 - 6, y + 4);
      ctx.beginPath();
      ctx.moveTo(g.x0 - 3, y);
      ctx.lineTo(g.x0, y);
      ctx.stroke();
    }
    ctx.save();
    ctx.translate(11, (g.y0 + g.y1) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.fillText("P(spoof)", 0, 0);
    ctx.restore();
    const maxTicks = Math.max(2, Math.floor((g.x1 - g.x0) / 60));
    const step = TICK_STEPS.find((s) => g.dur / s <= maxTicks) || 1200;
    ctx.textAlign = "center";
    const ty = g.h - 8;
    for (let t = 0; t <= g.dur + 1e-9; t += step) {
      const x = g.tx(t);
      ctx.beginPath();
      ctx.moveTo(x, g.y1 + SPEECH_BAR + 6);
      ctx.lineTo(x, g.y1 + SPEECH_BAR + 10);
      ctx.stroke();
      ctx.fillText(`${t % 1 ? t.toFixed(1) : t}s`, x, ty);
    }
    ctx.textAlign = "left";
  }
}
