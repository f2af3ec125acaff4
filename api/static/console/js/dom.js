// Small DOM and formatting helpers shared by the console modules.

/**
 * Create an element: el("a", {href: "#x", class: "link"}, "text", child).
 * Attributes whose value is null/undefined/false are skipped; true sets "".
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Remove every child of a node. */
export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

/** 0.1234 -> "12.3 %" ("–" for null). */
export function pct(p, digits = 1) {
  return p === null || p === undefined ? "–" : `${(100 * p).toFixed(digits)} %`;
}

/** A number with fixed digits ("–" for null). */
export function num(x, digits = 2) {
  return x === null || x === undefined ? "–" : Number(x).toFixed(digits);
}

/** Seconds -> "1:05.2" or "5.2 s". */
export function seconds(s) {
  if (s === null || s === undefined) return "–";
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m}:${(s - 60 * m).toFixed(1).padStart(4, "0")}`;
}

/** ISO timestamp -> local date and time. */
export function when(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** Human words for a verdict. */
export const VERDICT_TEXT = {
  spoof: "Spoof: likely synthetic voice",
  bonafide: "Bona fide: likely genuine voice",
  not_enough_speech: "Not enough speech to decide",
};

/** A risk-tier badge. */
export function tierBadge(tier) {
  const label = tier === "not_enough_speech" ? "no speech" : tier;
  return el("span", { class: `badge tier-${tier}`, "data-tier": tier }, label);
}

/** Posterior P(spoof) at an LLR threshold for a prior. */
export function pAtLlr(llr, prior) {
  const z = llr + Math.log(prior / (1 - prior));
  return 1 / (1 + Math.exp(-z));
}
