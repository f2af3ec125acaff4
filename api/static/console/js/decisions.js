// Recent decisions (audit trail with filters), a call's detail and a decision's detail.

import { api, showError } from "./api.js";
import { scoreChart } from "./chart.js";
import { clear, el, num, pct, seconds, tierBadge, VERDICT_TEXT, when } from "./dom.js";
import { spectrogramBitmap, Timeline } from "./timeline.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 3000;
let pollTimer = null;
let nextBefore = null;

/** Wire up the filter form of the decisions view. */
export function initDecisions() {
  $("filter-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    showDecisions();
  });
  $("filter-form").addEventListener("reset", () => setTimeout(showDecisions, 0));
  $("load-older").addEventListener("click", () => loadPage(true));
}

/** Stop refreshing a live call (when leaving its view). */
export function stopPolling() {
  clearTimeout(pollTimer);
  pollTimer = null;
}

function filterQuery() {
  const q = new URLSearchParams();
  for (const [id, name] of [["f-tier", "tier"], ["f-verdict", "verdict"], ["f-call", "call_id"]]) {
    const v = $(id).value.trim();
    if (v) q.set(name, v);
  }
  const from = $("f-from").value;
  const to = $("f-to").value;
  if (from) q.set("since", new Date(`${from}T00:00:00`).toISOString());
  if (to) {
    const end = new Date(`${to}T00:00:00`);
    end.setDate(end.getDate() + 1);
    q.set("until", end.toISOString());
  }
  q.set("limit", "50");
  return q;
}

/** Show the decisions view (first page for the current filters). */
export function showDecisions() {
  return loadPage(false);
}

async function loadPage(more) {
  const err = $("decisions-error");
  const status = $("decisions-status");
  showError(err, null);
  const q = filterQuery();
  if (more && nextBefore) q.set("before", nextBefore);
  status.textContent = "Loading…";
  try {
    const page = await api(`/v1/console/decisions?${q}`);
    const body = $("decisions-body");
    if (!more) clear(body);
    for (const d of page.items) body.append(row(d));
    nextBefore = page.next_before;
    $("load-older").hidden = !nextBefore;
    const n = body.children.length;
    status.textContent = n ? `${n} decision${n > 1 ? "s" : ""} shown, newest first.` : "No decisions match these filters.";
  } catch (e) {
    status.textContent = "";
    showError(err, e);
  }
}

function row(d) {
  const call = d.call_id ? el("a", { href: `#call/${encodeURIComponent(d.call_id)}` }, d.call_id) : "–";
  return el("tr", { "data-id": d.id },
    el("td", {}, el("a", { href: `#decision/${d.id}`, "aria-label": `Decision of ${when(d.created_at)}` }, when(d.created_at))),
    el("td", {}, call),
    el("td", {}, d.verdict),
    el("td", {}, tierBadge(d.tier)),
    el("td", { class: "num" }, pct(d.p_spoof)),
    el("td", { class: "num" }, seconds(d.duration)),
    el("td", {}, d.kind),
    el("td", {}, `${d.model_name} ${d.model_version}`));
}

function decisionCard(d, heading) {
  const chart = d.timeline && d.timeline.length
    ? scoreChart(d.timeline, { duration: d.duration, thresholds: d.thresholds, prior: d.prior,
      title: `Spoof score over time, ${heading}` })
    : el("p", { class: "hint" }, "No per-window timeline (not enough speech).");
  return el("article", { class: "card decision-card", "data-verdict": d.verdict, "data-tier": d.tier },
    el("h3", {}, heading),
    el("p", { class: "verdict small" }, VERDICT_TEXT[d.verdict] || d.verdict, " ", tierBadge(d.tier)),
    el("dl", { class: "facts" },
      el("dt", {}, "P(spoof)"), el("dd", {}, pct(d.p_spoof)),
      el("dt", {}, "LLR"), el("dd", {}, num(d.llr)),
      el("dt", {}, "Recorded"), el("dd", {}, when(d.created_at)),
      el("dt", {}, "Kind"), el("dd", {}, d.kind),
      el("dt", {}, "Audio"), el("dd", {}, `${seconds(d.duration)}, speech ${seconds(d.speech_seconds)}`),
      el("dt", {}, "Model"), el("dd", {}, `${d.model_name} ${d.model_version}`),
      el("dt", {}, "Decision"), el("dd", { class: "mono" }, el("a", { href: `#decision/${d.id}` }, d.id))),
    el("figure", { class: "score-figure" }, chart,
      el("figcaption", {}, "P(spoof) of each scored window (lines span the window); dashed: tier thresholds.")));
}

/** The call view: its decisions (score over time) and, while it streams, the live verdict. */
export async function showCall(callId) {
  stopPolling();
  const root = clear($("detail-body"));
  $("detail-title").textContent = `Call ${callId}`;
  const err = $("detail-error");
  showError(err, null);
  const live = el("div", { class: "live", "aria-live": "polite" });
  root.append(live);
  const list = el("div", { class: "cards" });
  root.append(list);
  const refresh = async () => {
    let call;
    try {
      call = await api(`/v1/calls/${encodeURIComponent(callId)}`);
    } catch (e) {
      showError(err, e);
      return;
    }
    clear(live);
    if (call.status === "in_progress" && call.live) {
      const l = call.live.latest || {};
      live.append(el("p", { class: "live-badge" }, "Live call in progress"),
        el("p", {}, `${seconds(call.live.audio_seconds)} received over ${call.live.protocol}; rolling verdict: `,
          l.verdict ? [VERDICT_TEXT[l.verdict] || l.verdict, " ", tierBadge(l.tier), ` P(spoof) ${pct(l.p_spoof)}`] : "waiting for enough speech"));
      pollTimer = setTimeout(refresh, POLL_MS);
    } else {
      live.append(el("p", {}, `Completed; ${call.decisions.length} recorded decision${call.decisions.length === 1 ? "" : "s"}.`));
    }
    clear(list);
    call.decisions.forEach((d, i) => list.append(decisionCard(d, `${d.kind} decision ${i + 1}`)));
  };
  await refresh();
}

/** One decision: its card, and its spectrogram when the audio is stored. */
export async function showDecision(id) {
  stopPolling();
  const root = clear($("detail-body"));
  $("detail-title").textContent = "Decision";
  const err = $("detail-error");
  showError(err, null);
  let d;
  try {
    d = await api(`/v1/decisions/${encodeURIComponent(id)}`);
  } catch (e) {
    showError(err, e);
    return;
  }
  root.append(decisionCard(d, d.call_id ? `Call ${d.call_id}` : `Decision ${d.id.slice(0, 8)}`));
  if (!d.audio_stored) {
    root.append(el("p", { class: "hint" }, "The raw audio is not stored (STORE_AUDIO is off), so no spectrogram."));
    return;
  }
  const canvas = el("canvas", { class: "timeline-canvas", role: "img", "aria-label": "Spectrogram with window scores" });
  root.append(el("figure", { class: "timeline" }, canvas));
  try {
    const spec = await api(`/v1/decisions/${encodeURIComponent(id)}/spectrogram`);
    const windows = d.timeline || [];
    const top = windows.map((w, i) => [w.score, i]).sort((a, b) => b[0] - a[0]).slice(0, 3).map(([, i]) => i);
    new Timeline(canvas).set({ bitmap: await spectrogramBitmap(spec), spec, windows, top,
      duration: spec.duration, thresholds: d.thresholds, prior: d.prior });
  } catch (e) {
    showError(err, e);
  }
}
