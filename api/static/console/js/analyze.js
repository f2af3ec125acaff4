// The analyze view: file / drag-and-drop / microphone input, the verdict, the timeline.

import { api, showError } from "./api.js";
import { clear, el, num, pct, seconds, tierBadge, VERDICT_TEXT } from "./dom.js";
import { Player } from "./playback.js";
import { spectrogramBitmap, Timeline } from "./timeline.js";

const $ = (id) => document.getElementById(id);
const state = {
  file: null, config: null, player: new Player(), loading: null, timeline: null, result: null,
};
const MIC_TIMEOUT_MS = 8000;

/** Wire up the analyze view (config may be null when /v1/console/config failed). */
export function initAnalyze(config) {
  state.config = config;
  state.timeline = new Timeline($("timeline-canvas"));
  state.timeline.onPick = (i) => playWindow(i);
  $("file-input").addEventListener("change", (ev) => {
    if (ev.target.files.length) setFile(ev.target.files[0]);
  });
  initDropZone($("drop-zone"));
  initRecorder($("record-btn"), $("record-status"));
  $("analyze-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    analyze();
  });
}

function initDropZone(zone) {
  const stop = (ev) => {
    ev.preventDefault();
    ev.stopPropagation();
  };
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (ev) => {
      stop(ev);
      zone.classList.add("dragging");
    });
  }
  zone.addEventListener("dragleave", (ev) => {
    stop(ev);
    zone.classList.remove("dragging");
  });
  zone.addEventListener("drop", (ev) => {
    stop(ev);
    zone.classList.remove("dragging");
    const files = ev.dataTransfer && ev.dataTransfer.files;
    if (files && files.length) {
      try {
        $("file-input").files = files;
      } catch {
        /* some browsers refuse; the dropped file is used anyway */
      }
      setFile(files[0]);
    }
  });
}

async function setFile(file, label = null) {
  state.file = file;
  showError($("analyze-error"), null);
  const kb = (file.size / 1024).toFixed(1);
  const info = $("file-info");
  info.textContent = `${label || file.name || "recording"} (${kb} KiB)`;
  const select = $("channel-select");
  const hint = $("channel-hint");
  select.disabled = false;
  hint.textContent = "";
  state.loading = state.player.load(file);
  try {
    const { channels, duration } = await state.loading;
    info.textContent += `, ${seconds(duration)}, ${channels} channel${channels > 1 ? "s" : ""}`;
    if (channels < 2) {
      select.value = "mix";
      select.disabled = true;
      hint.textContent = "Mono recording: nothing to pick.";
    } else {
      hint.textContent = "Stereo: pick the channel the caller is on.";
    }
  } catch {
    hint.textContent = "This browser cannot decode the file, so playback is off; the service may still analyze it.";
  }
}

function initRecorder(button, status) {
  const supported = !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.MediaRecorder);
  if (!supported) {
    button.disabled = true;
    status.textContent = "Microphone recording is not available here (it needs a secure page and MediaRecorder). Upload a file instead.";
    return;
  }
  let recorder = null;
  let timer = null;
  button.addEventListener("click", async () => {
    if (recorder) {
      recorder.stop();
      return;
    }
    status.textContent = "Asking for the microphone…";
    let stream;
    try {
      const timeout = new Promise((_, reject) =>
        setTimeout(() => reject(Object.assign(new Error("no answer"), { name: "TimeoutError" })), MIC_TIMEOUT_MS));
      stream = await Promise.race([navigator.mediaDevices.getUserMedia({ audio: true }), timeout]);
    } catch (err) {
      const why = {
        NotAllowedError: "permission was denied",
        NotFoundError: "no microphone was found",
        NotReadableError: "the microphone is in use or unreadable",
        TimeoutError: "the permission request got no answer",
      }[err.name] || err.message || err.name;
      status.textContent = `Microphone unavailable: ${why}. Upload a file instead.`;
      return;
    }
    const chunks = [];
    recorder = new MediaRecorder(stream);
    const started = Date.now();
    recorder.addEventListener("dataavailable", (ev) => ev.data.size && chunks.push(ev.data));
    recorder.addEventListener("stop", () => {
      clearInterval(timer);
      stream.getTracks().forEach((t) => t.stop());
      const type = recorder.mimeType || "audio/webm";
      const ext = type.includes("ogg") ? "ogg" : type.includes("mp4") ? "m4a" : "webm";
      recorder = null;
      button.textContent = "Record from microphone";
      button.setAttribute("aria-pressed", "false");
      const file = new File(chunks, `microphone.${ext}`, { type });
      status.textContent = `Recorded ${((Date.now() - started) / 1000).toFixed(1)} s. Press Analyze.`;
      setFile(file, "Microphone recording");
    });
    recorder.start(250);
    button.textContent = "Stop recording";
    button.setAttribute("aria-pressed", "true");
    timer = setInterval(() => {
      status.textContent = `Recording… ${((Date.now() - started) / 1000).toFixed(0)} s`;
    }, 1000);
  });
}

async function analyze() {
  const errorBox = $("analyze-error");
  const status = $("analyze-status");
  const button = $("analyze-btn");
  showError(errorBox, null);
  if (!state.file) {
    showError(errorBox, new Error("Choose a recording (or record one) first."));
    $("file-input").focus();
    return;
  }
  const limit = state.config && state.config.max_upload_bytes;
  if (limit && state.file.size > limit) {
    showError(errorBox, new Error(`payload_too_large: the file is larger than the ${limit}-byte upload limit.`));
    return;
  }
  const channel = $("channel-select").disabled ? "mix" : $("channel-select").value;
  const callId = $("call-id").value.trim();
  const form = new FormData();
  form.append("file", state.file, state.file.name || "recording");
  form.append("channel", channel);
  if (callId) form.append("call_id", callId);
  button.disabled = true;
  delete $("timeline-canvas").dataset.rendered;
  $("result").setAttribute("aria-busy", "true");
  status.textContent = "Analyzing…";
  const specPromise = api(`/v1/analyze/spectrogram?channel=${encodeURIComponent(channel)}`, {
    method: "POST", body: state.file, headers: { "Content-Type": "application/octet-stream" },
  }).catch((err) => err);
  try {
    const result = await api("/v1/analyze", { method: "POST", body: form });
    state.result = result;
    renderVerdict(result);
    const spec = await specPromise;
    await renderTimeline(result, spec instanceof Error ? null : spec, channel);
    status.textContent = `Done: ${VERDICT_TEXT[result.verdict]}, risk tier ${result.tier}, P(spoof) ${pct(result.p_spoof)}.`;
    $("result").hidden = false;
    $("result-title").focus();
  } catch (err) {
    $("result").hidden = true;
    status.textContent = "The recording was rejected.";
    showError(errorBox, err);
  } finally {
    button.disabled = false;
    $("result").removeAttribute("aria-busy");
  }
}

function renderVerdict(r) {
  const card = $("verdict-card");
  card.className = `verdict-card tier-${r.tier}`;
  card.dataset.verdict = r.verdict;
  card.dataset.tier = r.tier;
  card.dataset.pSpoof = r.p_spoof === null ? "" : String(r.p_spoof);
  const m = r.model;
  clear(card).append(
    el("p", { class: "verdict", id: "verdict-text" }, VERDICT_TEXT[r.verdict] || r.verdict),
    el("p", { class: "tier-line" }, "Risk tier ", tierBadge(r.tier)),
    el("dl", { class: "facts" },
      el("dt", {}, "P(spoof)"), el("dd", { id: "p-spoof" }, pct(r.p_spoof)),
      el("dt", {}, "LLR"), el("dd", {}, num(r.llr)),
      el("dt", {}, "Model"), el("dd", { id: "model-used" }, `${m.name} ${m.version}`,
        el("span", { class: "mono" }, ` (${m.sha256.slice(0, 12)})`)),
      el("dt", {}, "Speech"), el("dd", {}, `${seconds(r.speech_seconds)} of ${seconds(r.duration)}`),
      el("dt", {}, "Prior"), el("dd", {}, num(r.prior, 3)),
      el("dt", {}, "Decision"), el("dd", { class: "mono" }, el("a", { href: `#decision/${r.decision_id}` }, r.decision_id)),
      r.call_id ? [el("dt", {}, "Call"), el("dd", {}, el("a", { href: `#call/${encodeURIComponent(r.call_id)}` }, r.call_id))] : null,
    ),
  );
}

/** The indices of the highest-scoring windows (the model's top-k, at least 3). */
export function topWindows(windows, k) {
  return windows.map((w, i) => [w.score, i]).sort((a, b) => b[0] - a[0])
    .slice(0, Math.max(3, k || 0)).map(([, i]) => i);
}

async function renderTimeline(r, spec, channel) {
  const windows = r.timeline || [];
  const top = topWindows(windows, state.config && state.config.top_k);
  if (state.loading) await state.loading.catch(() => null);
  let bitmap = null;
  const note = $("timeline-note");
  note.textContent = "";
  if (spec) {
    try {
      bitmap = await spectrogramBitmap(spec);
    } catch {
      note.textContent = "The spectrogram image could not be decoded.";
    }
  } else {
    note.textContent = "Spectrogram unavailable for this recording.";
  }
  $("result").hidden = false;
  state.timeline.set({ bitmap, spec, windows, top, duration: (spec && spec.duration) || r.duration,
    thresholds: r.thresholds, prior: r.prior });
  const canvas = $("timeline-canvas");
  const best = top.length ? windows[top[0]] : null;
  canvas.setAttribute("aria-label", `Spectrogram of ${seconds(r.duration)} with the spoof score of ` +
    `${windows.length} windows; ${best ? `highest P(spoof) ${pct(best.p_spoof)} at ` +
    `${best.start.toFixed(1)}–${best.end.toFixed(1)} s` : "no scored windows"}.`);
  renderWindowList(windows, top, channel);
}

function renderWindowList(windows, top, channel) {
  const list = clear($("top-windows"));
  if (!windows.length) list.append(el("li", {}, "No window had enough speech to score."));
  top.forEach((wi, rank) => {
    const w = windows[wi];
    const btn = el("button", { type: "button", class: "play", "data-window": wi,
      disabled: !state.player.ready },
    `Play ${rank + 1}: ${w.start.toFixed(1)}–${w.end.toFixed(1)} s`);
    btn.addEventListener("click", () => playWindow(wi, channel));
    list.append(el("li", {}, btn, ` P(spoof) ${pct(w.p_spoof)}, LLR ${num(w.llr)}`));
  });
  $("playback-note").textContent = state.player.ready ? ""
    : "Playback needs a format this browser can decode.";
  const body = clear($("window-table-body"));
  windows.forEach((w, i) => body.append(el("tr", {},
    el("td", {}, i + 1), el("td", {}, w.start.toFixed(2)), el("td", {}, w.end.toFixed(2)),
    el("td", {}, pct(w.p_spoof)), el("td", {}, num(w.llr)))));
}

async function playWindow(index, channel = null) {
  const w = state.result && state.result.timeline[index];
  if (!w || !state.player.ready) return;
  const ch = channel || ($("channel-select").disabled ? "mix" : $("channel-select").value);
  state.timeline.select(index);
  const status = $("playback-status");
  status.textContent = `Playing ${w.start.toFixed(1)}–${w.end.toFixed(1)} s`;
  try {
    await state.player.play(w.start, w.end, ch, () => { status.textContent = ""; });
  } catch (err) {
    status.textContent = `Playback failed: ${err.message}`;
  }
}
