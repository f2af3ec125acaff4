// Entry point: API key form, hash routing between the views, startup config.

import { initAnalyze } from "./analyze.js";
import { api, getKey, setKey, showError } from "./api.js";
import { initDecisions, showCall, showDecision, showDecisions, stopPolling } from "./decisions.js";
import { showModels } from "./models.js";

const $ = (id) => document.getElementById(id);
const SECTIONS = { analyze: "analyze", decisions: "decisions", call: "detail", decision: "detail", models: "models" };
const NAV = { analyze: "analyze", decisions: "decisions", call: "decisions", decision: "decisions", models: "models" };
const TITLES = { analyze: "Analyze", decisions: "Recent decisions", call: "Call", decision: "Decision", models: "Models" };
let config = null;
let first = true;

function keyStatus() {
  const s = $("key-status");
  if (config && config.dev_mode) s.textContent = "Dev mode: no API key needed.";
  else s.textContent = getKey() ? "A key is set for this tab." : "No key set: most actions need one.";
}

function initKeyForm() {
  const input = $("api-key");
  input.value = getKey();
  $("key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    setKey(input.value.trim());
    keyStatus();
    route();
  });
  $("key-clear").addEventListener("click", () => {
    setKey("");
    input.value = "";
    keyStatus();
  });
}

async function route() {
  const [name, ...rest] = (location.hash.slice(1) || "analyze").split("/");
  const view = name in SECTIONS ? name : "analyze";
  const arg = decodeURIComponent(rest.join("/"));
  stopPolling();
  for (const section of document.querySelectorAll("[data-view]")) {
    section.hidden = section.dataset.view !== SECTIONS[view];
  }
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === NAV[view]) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${TITLES[view]} · audio-detect console`;
  if (!first) {
    const heading = document.querySelector(`[data-view="${SECTIONS[view]}"] h2`);
    if (heading) heading.focus();
  }
  first = false;
  if (view === "decisions") await showDecisions();
  else if (view === "models") await showModels();
  else if (view === "call") await showCall(arg);
  else if (view === "decision") await showDecision(arg);
}

async function start() {
  initKeyForm();
  try {
    config = await api("/v1/console/config");
    $("loaded-model").textContent = `Model: ${config.model.name} ${config.model.version}`;
  } catch (e) {
    showError($("alert"), e);
  }
  keyStatus();
  initAnalyze(config);
  initDecisions();
  window.addEventListener("hashchange", route);
  await route();
  document.body.dataset.ready = "true";
}

start();
