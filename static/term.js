/*
 * The term page (#/term/KIND/TERM): the term's history as a chart of count,
 * distinct authors and sentiment (two axes) over 1 h, 24 h, 7 days or
 * 30 days, with zoom by dragging across the chart or by buttons that narrow,
 * widen and move the range (each change asks the server again at the step
 * that fits the new span), its place in the live view from the WebSocket,
 * and from GET /api/terms/{term}/related the terms most often in the same
 * recent posts ("Often with", each opening its own page) and the newest of
 * those posts.
 */
import { bus, effective, setSubscription } from './core.js';
import { describeView, liveView } from './live.js';
import {
  $, DAY, HOUR, MIN, STEP_MS, ceilTo, cssVar, floorTo, fmtDateTime, fmtInt, fmtSentiment,
  fmtSpan, getJSON, h, isKind, isoOf, kindBadge, parseTime, query, safeHref, setSentiment,
  sentimentChip, stepFor, termHref, timeAxis,
} from './util.js';
import { densify, exportHref, seriesOf } from './history_api.js';

const PRESETS = {
  '1h': { span: HOUR, step: '1m' },
  '24h': { span: DAY, step: '1m' },
  '7d': { span: 7 * DAY, step: '1h' },
  '30d': { span: 30 * DAY, step: '1d' },
};
const MIN_SPAN = 10 * MIN;
const MAX_SPAN = 400 * DAY;
const RANK_LIMIT = 200;
const TABLE_ROWS_MAX = 500;
const RELATED_TERMS = 12;
const EXAMPLE_POSTS = 5;
const RELATED_REFRESH_MS = 30000;

const el = {};
const state = {
  active: false,
  kind: '', term: '',
  preset: '24h',          // a "last …" range that follows the clock, or null when zoomed
  from: 0, to: 0, step: '1m',
  abort: null,
  relatedAbort: null,
  relatedTimer: 0,
  chart: null,
  refreshTimer: 0,
  drag: null,
  sub: null,
};

export function init() {
  Object.assign(el, {
    title: $('term-title'), kind: $('term-kind'), rank: $('term-rank'), count: $('term-count'),
    countLabel: $('term-count-label'), authors: $('term-authors'), sent: $('term-sent'),
    liveView: $('term-live-view'), ranges: $('term-ranges'), rangeText: $('term-range-text'),
    box: $('term-chart-box'), canvas: $('term-chart'), drag: $('term-drag'),
    status: $('term-status'), summary: $('term-summary'), sumTotal: $('term-sum-total'),
    sumPeak: $('term-sum-peak'), sumPeakLabel: $('term-sum-peak-label'), sumSent: $('term-sum-sent'),
    table: $('term-table'), csv: $('term-csv'),
    related: $('term-related'), relatedList: $('term-related-list'),
    relatedStatus: $('term-related-status'),
    posts: $('term-posts'), postsList: $('term-posts-list'), postsStatus: $('term-posts-status'),
  });
  el.ranges.addEventListener('change', (e) => {
    if (e.target.name === 'term-range') setPreset(e.target.value);
  });
  $('term-zoom-in').addEventListener('click', () => zoom(0.5));
  $('term-zoom-out').addEventListener('click', () => zoom(2));
  $('term-earlier').addEventListener('click', () => pan(-0.5));
  $('term-later').addEventListener('click', () => pan(0.5));
  initDrag();
  bus.addEventListener('trends', (e) => {
    if (state.active) renderLive(e.detail);
  });
  document.addEventListener('visibilitychange', () => {
    if (state.active && !document.hidden && state.preset) load();
    if (state.active && !document.hidden) loadRelated({ quiet: true });
  });
}

/* route.rest = [kind, term]; route.params: range=1h|24h|7d|30d, or from/to */
export function enter(route) {
  const [kind, term] = route.rest;
  const same = state.active && kind === state.kind && term === state.term;
  state.active = true;
  state.kind = isKind(kind) ? kind : 'word';
  state.term = term || '';
  readRange(route.params);
  document.title = `trendd · ${state.term}`;
  el.title.textContent = state.term;
  el.kind.replaceWith((el.kind = kindBadge(state.kind)));
  el.kind.id = 'term-kind';
  if (!same) {
    for (const n of [el.rank, el.count, el.authors]) n.textContent = '–';
    setSentiment(el.sent, null);
    el.liveView.textContent = 'Waiting for the live view…';
    el.related.hidden = true;
    el.posts.hidden = true;
    el.relatedList.replaceChildren();
    el.postsList.replaceChildren();
    clearChart();
  }
  const v = liveView();
  state.sub = { ...v, limit: RANK_LIMIT, kind: v.kind === 'all' || v.kind === state.kind ? v.kind : 'all' };
  setSubscription(state.sub);
  syncRangeControls();
  load();
  if (!same) loadRelated();
}

export function leave() {
  state.active = false;
  clearTimeout(state.refreshTimer);
  clearTimeout(state.relatedTimer);
  if (state.abort) state.abort.abort();
  if (state.relatedAbort) state.relatedAbort.abort();
  cancelDrag();
}

/* ---- the range ---- */

function readRange(p) {
  const from = parseTime(p.get('from') || '');
  const to = parseTime(p.get('to') || '');
  if (Number.isFinite(from) && Number.isFinite(to) && to - from >= MIN_SPAN && to - from <= MAX_SPAN) {
    state.preset = null;
    state.from = from;
    state.to = to;
    state.step = stepFor(to - from);
    return;
  }
  state.preset = PRESETS[p.get('range')] ? p.get('range') : '24h';
  presetTimes();
}

function presetTimes() {
  const p = PRESETS[state.preset];
  state.to = Date.now();
  state.from = state.to - p.span;
  state.step = p.step;
}

function writeHash() {
  const q = state.preset ? { range: state.preset } : { from: isoOf(state.from), to: isoOf(state.to) };
  history.replaceState(null, '', termHref(state.kind, state.term) + query(q));
}

function syncRangeControls() {
  for (const input of el.ranges.querySelectorAll('input'))
    input.checked = input.value === state.preset;
  $('term-later').disabled = !!state.preset || state.to >= Date.now() - MIN;
  $('term-zoom-in').disabled = state.to - state.from <= MIN_SPAN;
  $('term-zoom-out').disabled = state.to - state.from >= MAX_SPAN;
  const span = state.to - state.from;
  el.rangeText.textContent = (state.preset ? `Last ${fmtSpan(span)}` : 'Zoomed') +
    `: ${fmtDateTime(state.from)} – ${fmtDateTime(state.to)} · one point per ` +
    { '1m': 'minute', '1h': 'hour', '1d': 'day' }[state.step];
}

function setPreset(name) {
  state.preset = name;
  presetTimes();
  writeHash();
  syncRangeControls();
  load();
}

function setRange(from, to) {
  const now = Date.now();
  let span = Math.min(MAX_SPAN, Math.max(MIN_SPAN, to - from));
  if (to > now) to = now;
  from = to - span;
  state.preset = null;
  state.from = Math.round(from);
  state.to = Math.round(to);
  state.step = stepFor(span);
  writeHash();
  syncRangeControls();
  load();
}

function zoom(factor) {
  const mid = (state.from + state.to) / 2;
  const span = (state.to - state.from) * factor;
  setRange(mid - span / 2, mid + span / 2);
}

function pan(fraction) {
  const d = (state.to - state.from) * fraction;
  setRange(state.from + d, state.to + d);
}

/* ---- drag to zoom ---- */

function initDrag() {
  const px = (e) => e.clientX - el.canvas.getBoundingClientRect().left;
  el.canvas.addEventListener('pointerdown', (e) => {
    if (e.button !== 0 || !state.chart) return;
    const area = state.chart.chartArea;
    const x = px(e);
    if (!area || x < area.left || x > area.right) return;
    state.drag = { x0: x, x1: x, id: e.pointerId };
    el.canvas.setPointerCapture(e.pointerId);
  });
  el.canvas.addEventListener('pointermove', (e) => {
    const d = state.drag;
    if (!d || e.pointerId !== d.id) return;
    const area = state.chart.chartArea;
    d.x1 = Math.max(area.left, Math.min(area.right, px(e)));
    const left = Math.min(d.x0, d.x1), width = Math.abs(d.x1 - d.x0);
    el.drag.hidden = width < 2;
    el.drag.style.left = `${left}px`;
    el.drag.style.width = `${width}px`;
    el.drag.style.top = `${area.top}px`;
    el.drag.style.height = `${area.bottom - area.top}px`;
  });
  const finish = (e) => {
    const d = state.drag;
    if (!d || e.pointerId !== d.id) return;
    cancelDrag();
    if (Math.abs(d.x1 - d.x0) < 8) return; // a click, not a drag
    const scale = state.chart.scales.x;
    const a = scale.getValueForPixel(Math.min(d.x0, d.x1));
    const b = scale.getValueForPixel(Math.max(d.x0, d.x1));
    if (Number.isFinite(a) && Number.isFinite(b)) setRange(a, b);
  };
  el.canvas.addEventListener('pointerup', finish);
  el.canvas.addEventListener('pointercancel', cancelDrag);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && state.drag) cancelDrag();
  });
}

function cancelDrag() {
  state.drag = null;
  el.drag.hidden = true;
}

/* ---- the live view ---- */

function renderLive({ msg, sub, warming }) {
  if (!state.sub || sub.window !== state.sub.window || sub.kind !== state.sub.kind ||
      sub.sort !== state.sub.sort || sub.lang !== state.sub.lang)
    return;
  const list = Array.isArray(msg.trends) ? msg.trends : [];
  const i = list.findIndex((t) => String(t.term) === state.term && String(t.kind) === state.kind);
  const shown = effective(sub);
  const desc = describeView({ ...sub, sort: shown.sort });
  el.countLabel.textContent = `Count (${msg.window})`;
  if (i < 0) {
    el.rank.textContent = list.length >= RANK_LIMIT ? `below #${RANK_LIMIT}` : 'not in view';
    el.count.textContent = '–';
    el.authors.textContent = '–';
    setSentiment(el.sent, null);
  } else {
    const t = list[i];
    el.rank.textContent = `#${i + 1}`;
    el.count.textContent = fmtInt(t.count);
    el.authors.textContent = fmtInt(t.authors);
    setSentiment(el.sent, Number(t.sentiment) || 0);
  }
  const text = `Live view: ${desc}` + (warming && sub.sort === 'score' ? ' (trending is warming up)' : '');
  if (el.liveView.textContent !== text) el.liveView.textContent = text;
}

/* ---- history ---- */

function clearChart() {
  if (state.chart) {
    state.chart.destroy();
    state.chart = null;
  }
  el.summary.hidden = true;
  el.table.replaceChildren();
}

function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  if (!state.active || !state.preset) return;
  state.refreshTimer = setTimeout(() => {
    if (!state.active || !state.preset) return;
    presetTimes();
    syncRangeControls();
    load({ quiet: true });
  }, state.step === '1m' ? 20000 : 300000);
}

async function load({ quiet = false } = {}) {
  if (state.abort) state.abort.abort();
  const ac = new AbortController();
  state.abort = ac;
  const ms = STEP_MS[state.step];
  const params = { kind: state.kind, from: isoOf(floorTo(state.from, ms)), to: isoOf(ceilTo(state.to, ms)),
    step: state.step };
  el.csv.href = exportHref('term', { term: state.term, ...params });
  if (!quiet) {
    el.status.textContent = 'Loading history…';
    el.box.setAttribute('aria-busy', 'true');
  }
  let doc;
  try {
    doc = await getJSON(`api/terms/${encodeURIComponent(state.term)}` + query(params), { signal: ac.signal });
  } catch (e) {
    if (e.name === 'AbortError' || state.abort !== ac) return;
    el.box.removeAttribute('aria-busy');
    if (e.status === 404 && e.message === 'not found') {
      el.status.textContent = 'This trendd does not serve term history yet.';
      el.csv.hidden = true;
    } else {
      el.status.textContent = `Cannot load the history: ${e.message}`;
    }
    clearChart();
    el.box.hidden = true;
    scheduleRefresh();
    return;
  }
  if (state.abort !== ac || !state.active) return;
  el.box.removeAttribute('aria-busy');
  el.box.hidden = false;
  el.csv.hidden = false;
  const points = densify(seriesOf(doc), state.from, state.to, state.step);
  renderChart(points);
  renderSummary(points);
  renderTable(points);
  const total = points.reduce((a, p) => a + p.count, 0);
  el.status.textContent = total > 0 ? `${fmtInt(total)} uses in this range.`
    : 'No uses of this term in this range.';
  scheduleRefresh();
}

function renderChart(points) {
  if (!window.Chart) return;
  const counts = points.map((p) => ({ x: p.t, y: p.count }));
  const authors = points.map((p) => ({ x: p.t, y: p.authors }));
  const sent = points.map((p) => ({ x: p.t, y: p.count > 0 && p.sentiment !== null ? p.sentiment : null }));
  const x = timeAxis(points.length ? Math.min(points[0].t, state.from) : state.from, state.to,
    cssVar('--muted', '#5b6675'));
  if (state.chart) {
    state.chart.data.datasets[0].data = counts;
    state.chart.data.datasets[1].data = authors;
    state.chart.data.datasets[2].data = sent;
    state.chart.options.scales.x = x;
    state.chart.update('none');
    return;
  }
  const accent = cssVar('--accent', '#2f6fed');
  const muted = cssVar('--muted', '#5b6675');
  const sentColour = cssVar('--sent-line', '#b5179e');
  const grid = cssVar('--line', '#e3e8ef');
  state.chart = new window.Chart(el.canvas, {
    type: 'line',
    data: {
      datasets: [
        { label: 'Count', data: counts, yAxisID: 'y', borderColor: accent, backgroundColor: accent + '26',
          fill: true, borderWidth: 1.6, pointRadius: 0, tension: 0.2 },
        { label: 'Authors', data: authors, yAxisID: 'y', borderColor: muted, borderDash: [4, 3],
          borderWidth: 1.2, pointRadius: 0, tension: 0.2, fill: false },
        { label: 'Sentiment', data: sent, yAxisID: 'y1', borderColor: sentColour, borderWidth: 1.4,
          pointRadius: 0, tension: 0.2, spanGaps: false, fill: false },
      ],
    },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false, parsing: false, normalized: true,
      interaction: { mode: 'index', intersect: false },
      plugins: {
        legend: { position: 'top', align: 'end', labels: { boxWidth: 14, color: muted } },
        tooltip: {
          callbacks: {
            title: (items) => items.length ? fmtDateTime(items[0].parsed.x) : '',
            label: (item) => item.dataset.yAxisID === 'y1'
              ? ` Sentiment ${item.parsed.y === null ? '–' : fmtSentiment(item.parsed.y)}`
              : ` ${item.dataset.label} ${fmtInt(item.parsed.y)}`,
          },
        },
      },
      scales: {
        x,
        y: { position: 'left', beginAtZero: true, title: { display: true, text: 'count', color: muted },
          ticks: { precision: 0, color: muted }, grid: { color: grid } },
        y1: { position: 'right', min: -1, max: 1, title: { display: true, text: 'sentiment', color: muted },
          ticks: { stepSize: 0.5, color: muted }, grid: { display: false } },
      },
    },
  });
}

function renderSummary(points) {
  let total = 0, peak = null, sw = 0;
  for (const p of points) {
    total += p.count;
    if (p.count > 0 && (!peak || p.count > peak.count)) peak = p;
    if (p.count > 0 && p.sentiment !== null) sw += p.sentiment * p.count;
  }
  el.summary.hidden = false;
  el.sumTotal.textContent = fmtInt(total);
  el.sumPeakLabel.textContent = 'Busiest ' + { '1m': 'minute', '1h': 'hour', '1d': 'day' }[state.step];
  el.sumPeak.textContent = peak ? `${fmtInt(peak.count)} at ${fmtDateTime(peak.t)}` : '–';
  el.sumSent.replaceChildren(total > 0 ? sentimentChip(sw / total) : '–');
}

function renderTable(points) {
  const rows = points.filter((p) => p.count > 0).reverse();
  const shown = rows.slice(0, TABLE_ROWS_MAX).map((p) => h('tr', null,
    h('td', { text: fmtDateTime(p.t) }),
    h('td', { class: 'col-num', text: fmtInt(p.count) }),
    h('td', { class: 'col-num', text: fmtInt(p.authors) }),
    h('td', { class: 'col-num', text: p.sentiment === null ? '–' : fmtSentiment(p.sentiment) })));
  if (rows.length > TABLE_ROWS_MAX)
    shown.push(h('tr', null, h('td', { colspan: 4, class: 'muted', text: `${rows.length - TABLE_ROWS_MAX} older rows: download the CSV for all of them.` })));
  if (!rows.length) shown.push(h('tr', null, h('td', { colspan: 4, class: 'muted', text: 'No uses in this range.' })));
  el.table.replaceChildren(...shown);
}

/* ---- often with, example posts ---- */

async function loadRelated({ quiet = false } = {}) {
  clearTimeout(state.relatedTimer);
  if (state.relatedAbort) state.relatedAbort.abort();
  const ac = new AbortController();
  state.relatedAbort = ac;
  const { kind, term } = state;
  if (!quiet) {
    el.related.hidden = false;
    el.posts.hidden = false;
    el.relatedStatus.textContent = 'Looking through recent posts…';
    el.postsStatus.textContent = '';
  }
  let doc;
  try {
    doc = await getJSON(`api/terms/${encodeURIComponent(term)}/related` +
      query({ kind, limit: RELATED_TERMS, examples: EXAMPLE_POSTS }), { signal: ac.signal });
  } catch (e) {
    if (e.name === 'AbortError' || state.relatedAbort !== ac) return;
    if (e.status === 404 && e.message === 'not found') {
      // a trendd without the endpoint: nothing to show, no sections
      el.related.hidden = true;
      el.posts.hidden = true;
      return;
    }
    el.relatedStatus.textContent = `Cannot look through recent posts: ${e.message}`;
    el.relatedList.replaceChildren();
    el.postsList.replaceChildren();
    el.posts.hidden = true;
    scheduleRelated();
    return;
  }
  if (state.relatedAbort !== ac || !state.active || state.term !== term || state.kind !== kind) return;
  renderRelated(doc);
  scheduleRelated();
}

function scheduleRelated() {
  clearTimeout(state.relatedTimer);
  state.relatedTimer = setTimeout(() => {
    if (state.active && !document.hidden) loadRelated({ quiet: true });
  }, RELATED_REFRESH_MS);
}

function renderRelated(doc) {
  const related = Array.isArray(doc?.cooccurring) ? doc.cooccurring : [];
  const examples = Array.isArray(doc?.examples) ? doc.examples : [];
  const scanned = Number(doc?.scanned_posts) || 0;
  const matched = Number(doc?.matched_posts) || 0;
  el.related.hidden = false;
  el.posts.hidden = false;
  el.relatedStatus.textContent = matched > 0
    ? `In ${fmtInt(matched)} of the last ${fmtInt(scanned)} posts; terms counted by the posts they share with it.`
    : scanned > 0 ? `None of the last ${fmtInt(scanned)} posts has this term.`
      : 'No recent posts to look through yet.';
  el.relatedList.replaceChildren(...related.map((r) => {
    const term = String(r.term ?? '');
    const kind = isKind(String(r.kind)) ? String(r.kind) : 'word';
    const n = Number(r.count) || 0;
    return h('li', null, h('a', {
      class: 'term-chip', href: termHref(kind, term), dataset: { testid: 'related-term', kind },
      'aria-label': `${term} (${kind}), in ${fmtInt(n)} of the same posts`,
    }, term, h('span', { class: 'muted chip-count', text: ' ' + fmtInt(n) })));
  }));
  if (matched > 0 && !related.length)
    el.relatedList.replaceChildren(h('li', { class: 'muted', text: 'The posts with this term have no other terms.' }));
  el.postsStatus.textContent = examples.length ? '' : 'No recent post has this term.';
  el.postsList.replaceChildren(...examples.map(postItem));
}

/*
 * One post as a list item: author, time, source, a link to it (http/https
 * only, opened in a new tab without a referrer) and its text. Also used by
 * the source preview. Everything goes in as text.
 */
export function postItem(p) {
  const text = String(p.text ?? '') + (p.truncated ? '…' : '');
  const title = p.title ? String(p.title) : '';
  const href = p.url ? safeHref(p.url) : null;
  const when = parseTime(p.time ?? p.created_at ?? '');
  const head = h('div', { class: 'post-head' },
    p.author ? h('span', { class: 'post-author', text: String(p.author) }) : null,
    Number.isFinite(when) ? h('time', { datetime: new Date(when).toISOString(), text: fmtDateTime(when) }) : null,
    p.source ? h('span', { class: 'post-source', text: String(p.source) }) : null,
    Number.isFinite(Number(p.sentiment)) && p.sentiment !== null && p.sentiment !== undefined
      ? sentimentChip(Number(p.sentiment)) : null,
    href ? h('a', { href, rel: 'noopener noreferrer', target: '_blank', dataset: { testid: 'post-link' },
      text: 'open post' }) : null);
  return h('li', { class: 'post', dataset: { testid: 'post' } }, head,
    title ? h('div', { class: 'post-title', text: title, dataset: { testid: 'post-title' } }) : null,
    text ? h('div', { class: 'post-text', text: text.length > 400 ? text.slice(0, 400) + '…' : text,
      dataset: { testid: 'post-text' } }) : null);
}
