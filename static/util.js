/*
 * Small helpers shared by the dashboard pages: building elements (text goes
 * in as text nodes, never as HTML), number and time formats, sentiment
 * colours, and JSON requests with readable errors.
 */

export const $ = (id) => document.getElementById(id);

/*
 * h('a', { class: 'x', href: '#', text: 'label', dataset: { testid: 'y' } }, child…)
 * Strings among the children become text nodes; attributes are set with
 * setAttribute, so nothing is ever parsed as markup.
 */
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = String(v);
    else if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'hidden') node.hidden = true;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export const SVG_NS = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  return node;
}

export const KINDS = ['word', 'hashtag', 'mention', 'cashtag', 'domain', 'emoji', 'bigram'];
export const isKind = (k) => KINDS.includes(k);

export function kindBadge(kind) {
  const k = String(kind);
  return h('span', { class: 'kind kind-' + (isKind(k) ? k : 'other'), text: k });
}

export const numberFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
export const rateFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
export const scoreFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
export const fmtInt = (v) => numberFmt.format(Number(v) || 0);

export function fmtSentiment(v) {
  const n = Number(v) || 0;
  return (n > 0 ? '+' : '') + n.toFixed(2);
}

/* red (-1) – grey (0) – green (+1) */
export function sentimentColour(v) {
  const grey = [139, 148, 158], red = [211, 47, 47], green = [27, 135, 72];
  const t = Math.max(-1, Math.min(1, Number(v) || 0));
  const to = t < 0 ? red : green;
  const a = Math.min(1, Math.abs(t) * 1.6);
  const c = grey.map((g, i) => Math.round(g + (to[i] - g) * a));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

export function sentimentWord(v) {
  const n = Number(v) || 0;
  return n > 0.05 ? 'positive' : n < -0.05 ? 'negative' : 'neutral';
}

/* A coloured chip showing a mean sentiment; the colour is set through the CSSOM (CSP-safe). */
export function setSentiment(chip, v) {
  if (v === null || v === undefined || !Number.isFinite(Number(v))) {
    chip.textContent = '–';
    chip.style.backgroundColor = '';
    chip.title = 'no posts';
    return;
  }
  const n = Number(v);
  chip.textContent = fmtSentiment(n);
  chip.style.backgroundColor = sentimentColour(n);
  chip.title = `mean sentiment ${n.toFixed(3)} (${sentimentWord(n)})`;
}

export function sentimentChip(v) {
  const chip = h('span', { class: 'chip' });
  setSentiment(chip, v);
  return chip;
}

/* ---- time ---- */

export const MIN = 60e3, HOUR = 3600e3, DAY = 86400e3;

/* "in 5 s", "3 min ago" for an RFC 3339 time, '' when there is none. */
export function relTime(iso, now = Date.now()) {
  if (!iso) return '';
  const t = new Date(iso);
  if (isNaN(t)) return '';
  const s = Math.round((t.getTime() - now) / 1000);
  const a = Math.abs(s);
  const txt = a < 60 ? `${a} s` : a < 3600 ? `${Math.round(a / 60)} min`
    : a < 172800 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86400)} days`;
  if (a < 1) return 'now';
  return s >= 0 ? `in ${txt}` : `${txt} ago`;
}

const dtFull = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dtTime = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dtDay = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const dtDayTime = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

export const fmtDateTime = (ms) => dtFull.format(new Date(ms));

/* A tick or tooltip label for time ms on an axis spanning spanMs. */
export function fmtAxisTime(ms, spanMs) {
  const d = new Date(ms);
  if (spanMs <= 36 * HOUR) {
    return d.getHours() === 0 && d.getMinutes() === 0 ? dtDay.format(d) : dtTime.format(d);
  }
  if (spanMs <= 10 * DAY) return dtDayTime.format(d);
  return dtDay.format(d);
}

const TICK_STEPS = [MIN, 5 * MIN, 10 * MIN, 15 * MIN, 30 * MIN, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR,
  12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 182 * DAY, 365 * DAY];

/* Round local times between min and max for a time axis: at most maxTicks of them. */
export function timeTicks(min, max, maxTicks = 8) {
  const span = max - min;
  if (!(span > 0)) return [];
  const step = TICK_STEPS.find((s) => span / s <= maxTicks) || TICK_STEPS[TICK_STEPS.length - 1];
  const tz = new Date(min).getTimezoneOffset() * MIN; // local wall time = t - tz
  const out = [];
  for (let t = Math.ceil((min - tz) / step) * step + tz; t <= max && out.length < 100; t += step) out.push(t);
  return out;
}

/* Chart.js options for a linear x axis of times from min to max. */
export function timeAxis(min, max, colour) {
  const span = max - min;
  return {
    type: 'linear', min, max,
    afterBuildTicks: (axis) => {
      const width = axis.width || 600;
      axis.ticks = timeTicks(min, max, Math.max(2, Math.min(8, Math.floor(width / 90))))
        .map((value) => ({ value }));
    },
    ticks: { maxRotation: 0, autoSkip: false, color: colour, callback: (v) => fmtAxisTime(v, span) },
    grid: { display: false },
  };
}

export function fmtSpan(ms) {
  if (ms < HOUR) return `${Math.round(ms / MIN)} min`;
  if (ms < 2 * DAY) return `${+(ms / HOUR).toFixed(1)} h`;
  return `${+(ms / DAY).toFixed(1)} days`;
}

/* Accepts RFC 3339 text, unix seconds or milliseconds; NaN when it is none of them. */
export function parseTime(v) {
  if (typeof v === 'number') return v < 1e11 ? v * 1000 : v;
  if (typeof v === 'string' && v.trim() !== '') {
    if (/^\d+(\.\d+)?$/.test(v)) return parseTime(Number(v));
    return Date.parse(v);
  }
  return NaN;
}

export const isoOf = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/* For <input type="datetime-local">: local wall time to the minute. */
export function toLocalInput(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
export function fromLocalInput(s) {
  if (!s) return NaN;
  const t = new Date(s); // "YYYY-MM-DDTHH:MM" without a zone is local time
  return t.getTime();
}

/* The history step for a range: as the term page's presets, minutes up to a day and a half. */
export function stepFor(spanMs) {
  if (spanMs <= 36 * HOUR) return '1m';
  if (spanMs <= 10 * DAY) return '1h';
  return '1d';
}
export const STEP_MS = { '1m': MIN, '1h': HOUR, '1d': DAY };

/* History ranges are whole steps, aligned to the Unix epoch (UTC), as the server wants them. */
export const floorTo = (t, ms) => Math.floor(t / ms) * ms;
export const ceilTo = (t, ms) => Math.ceil(t / ms) * ms;

/* ---- requests ---- */

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export async function readBody(res) {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function errorText(status, body) {
  if (body && typeof body === 'object' && typeof body.error === 'string') return body.error;
  if (status === 0) return 'cannot reach trendd';
  return `the server answered ${status}`;
}

/* GET a JSON document; throws ApiError with the server's message. */
export async function getJSON(path, { signal } = {}) {
  let res;
  try {
    res = await fetch(path, { signal, headers: { accept: 'application/json' }, cache: 'no-store' });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'cannot reach trendd');
  }
  const body = await readBody(res);
  if (!res.ok) throw new ApiError(res.status, errorText(res.status, body), body);
  return body;
}

export function query(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => p.append(k, x));
    else p.set(k, String(v));
  }
  // URLSearchParams writes a space as "+"; %20 means a space to every server
  const s = p.toString().replace(/\+/g, '%20');
  return s ? '?' + s : '';
}

/* Calls fn at most once per ms, with the last arguments. */
export function debounce(fn, ms) {
  let t = 0;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

export const prefersReducedMotion = () =>
  window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;

export function cssVar(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/* A link to a term's page. */
export function termHref(kind, term) {
  return `#/term/${encodeURIComponent(String(kind))}/${encodeURIComponent(String(term))}`;
}

/* Only http(s) links from the server become hrefs. */
export function safeHref(u) {
  try {
    const url = new URL(String(u), location.href);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}
