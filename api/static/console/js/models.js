// The models page: shipped detectors, their model-card numbers and DET curves.

import { api, showError } from "./api.js";
import { detChart } from "./chart.js";
import { clear, el, num, pct } from "./dom.js";

const $ = (id) => document.getElementById(id);

function metricsTable(evaluations) {
  const rows = Object.entries(evaluations).map(([cond, ev]) => el("tr", {},
    el("th", { scope: "row" }, cond), el("td", { class: "num" }, pct(ev.eer, 2)),
    el("td", { class: "num" }, num(ev.min_dcf, 4)), el("td", { class: "num" }, num(ev.act_dcf, 4)),
    el("td", { class: "num" }, num(ev.cllr, 4)), el("td", { class: "num" }, ev.n_bonafide),
    el("td", { class: "num" }, ev.n_spoof), el("td", {}, ev.date || "–")));
  return el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Measured performance" },
    el("table", {}, el("caption", {}, "Measured performance (from evaluate --update-card)"),
      el("thead", {}, el("tr", {}, ["Condition", "EER", "minDCF", "actDCF", "Cllr", "Bona fide", "Spoof", "Date"]
        .map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows)));
}

async function modelCard(m) {
  const evaluations = (m.metrics && m.metrics.evaluations) || {};
  const card = el("article", { class: "card model-card", "data-model": m.name },
    el("h3", {}, `${m.name} `, el("span", { class: "version" }, m.version),
      m.loaded ? el("span", { class: "badge badge-info" }, "loaded") : null,
      m.default ? el("span", { class: "badge badge-neutral" }, "default") : null),
    el("p", {}, m.description || ""),
    el("p", { class: "hint" }, `Format ${m.format}, ${m.sample_rate} Hz`,
      m.sha256 ? el("span", { class: "mono" }, `, sha256 ${m.sha256.slice(0, 12)}`) : null));
  if (!Object.keys(evaluations).length) {
    card.append(el("p", { class: "hint" }, "Not evaluated yet: run ",
      el("code", {}, "audio-detect evaluate --manifest EVAL.csv --model NAME --update-card"), "."));
    return card;
  }
  card.append(metricsTable(evaluations));
  const fig = el("figure", { class: "det-figure" });
  card.append(fig);
  try {
    const det = await api(`/v1/console/models/${encodeURIComponent(m.name)}/det`);
    if (det.conditions.some((c) => c.points.length)) {
      fig.append(detChart(det), el("figcaption", {}, "DET curve (probit axes); dots mark the EER."));
    } else {
      fig.append(el("p", { class: "hint" }, "No DET curve stored for these conditions: evaluate --update-card stores one (100 points) per condition."));
    }
  } catch (e) {
    fig.append(el("p", { class: "hint" }, `DET curve unavailable: ${e.message}`));
  }
  return card;
}

/** Show the models page. */
export async function showModels() {
  const list = $("models-list");
  const err = $("models-error");
  showError(err, null);
  $("models-status").textContent = "Loading…";
  try {
    const models = await api("/v1/models");
    const cards = await Promise.all(models.map(modelCard));
    clear(list).append(...cards);
    $("models-status").textContent = `${models.length} model${models.length === 1 ? "" : "s"}.`;
  } catch (e) {
    $("models-status").textContent = "";
    showError(err, e);
  }
}
