/*
 * The history explorer (#/history): the most used terms of a time range
 * (GET /api/history/top) in a table, up to five of them compared on one
 * chart (GET /api/terms?terms=…), and CSV exports of both. The range, kind,
 * row count and compared terms live in the URL, so a view can be bookmarked.
 */
import { announce } from './core.js';
import {
  $, DAY, HOUR, MIN, STEP_MS, ceilTo, cssVar, debounce, floorTo, fmtDateTime, fmtInt, fmtSpan, fromLocalInput,
  getJSON, h, isKind, isoOf, kindBadge, parseTime, query, sentimentChip, stepFor, termHref,
  timeAxis, toLocalInput,
} from './util.js';
import { densify, exportHref, multiSeriesOf, topOf } from './history_api.js';

const MAX_COMPARE = 5;
const LIMITS = ['20', '50', '100', '200'];
const PRESETS = { '1h': HOUR, '24h': DAY, '7d': 7 * DAY, '30d': 30 * DAY };
const PALETTE = ['#2f6fed', '#e8590c', '#1a7f45', '#b5179e', '#8a6d00'];

const el = {};
const state = {
  active: false,
  from: 0, to: 0, kind: 'all', limit: '50',
  top: [],
  selected: [],        // [{ term, kind }], in the order ticked
  loadedKey: '',       // the query the table shows
  abortTop: null,
  abortCmp: null,
  chart: null,
};

const keyOf = (t) => t.kind + '\u0000' + t.term;

export function init() {
  Object.assign(el, {
    form: $('hist-form'), from: $('hist-from'), to: $('hist-to'), kind: $('hist-kind'),
    limit: $('hist-limit'), formError: $('hist-form-error'), status: $('hist-status'),
    table: $('hist-table'), body: $('hist-body'), topCsv: $('hist-top-csv'),
    cmpStatus: $('hist-cmp-status'), cmpBox: $('hist-cmp-box'), cmpCanvas: $('hist-cmp-chart'),
    cmpCsv: $('hist-cmp-csv'), cmpClear: $('hist-cmp-clear'),
  });
  el.form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (readForm()) {
      writeHash();
      loadTop();
    }
  });
  for (const b of el.form.querySelectorAll('[data-preset]')) {
    b.addEventListener('click', () => {
      // the inputs hold whole minutes: end with the minute now under way, so it is included
      const to = floorTo(Date.now(), MIN) + MIN;
      el.to.value = toLocalInput(to);
      el.from.value = toLocalInput(to - PRESETS[b.dataset.preset]);
      el.form.requestSubmit();
    });
  }
  for (const input of [el.from, el.to]) input.addEventListener('input', () => setFormError(''));
  el.cmpClear.addEventListener('click', () => {
    state.selected = [];
    syncChecks();
    writeHash();
    loadCompare();
    el.table.querySelector('input[type="checkbox"]')?.focus();
  });
}

/* #/history?from=…&to=…&kind=…&limit=…&cmp=KIND:TERM… */
export function enter(route) {
  state.active = true;
  document.title = 'trendd · history';
  const p = route.params;
  const from = parseTime(p.get('from') || ''), to = parseTime(p.get('to') || '');
  if (Number.isFinite(from) && Number.isFinite(to) && from < to) {
    state.from = from;
    state.to = to;
  } else if (!state.to) {
    state.to = Date.now();
    state.from = state.to - DAY;
  }
  if (p.get('kind') === 'all' || isKind(p.get('kind'))) state.kind = p.get('kind');
  if (LIMITS.includes(p.get('limit'))) state.limit = p.get('limit');
  if (p.has('cmp')) {
    state.selected = p.getAll('cmp').slice(0, MAX_COMPARE).map((c) => {
      const i = c.indexOf(':');
      return i > 0 ? { kind: c.slice(0, i), term: c.slice(i + 1) } : { kind: 'word', term: c };
    }).filter((t) => t.term);
  }
  el.from.value = toLocalInput(state.from);
  el.to.value = toLocalInput(state.to);
  el.kind.value = state.kind;
  el.limit.value = state.limit;
  writeHash();
  if (state.loadedKey !== topKey()) loadTop();
  else loadCompare();
}

export function leave() {
  state.active = false;
}

function setFormError(text) {
  el.formError.textContent = text;
  el.formError.hidden = !text;
  for (const input of [el.from, el.to]) {
    if (text) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }
}

function readForm() {
  const from = fromLocalInput(el.from.value), to = fromLocalInput(el.to.value);
  if (!Number.isFinite(from) || !Number.isFinite(to)) {
    setFormError('Enter both a start and an end time.');
    (Number.isFinite(from) ? el.to : el.from).focus();
    return false;
  }
  if (from >= to) {
    setFormError('The start must be before the end.');
    el.from.focus();
    return false;
  }
  setFormError('');
  state.from = from;
  state.to = to;
  state.kind = el.kind.value;
  state.limit = el.limit.value;
  return true;
}

function writeHash() {
  const q = query({ from: isoOf(state.from), to: isoOf(state.to), kind: state.kind, limit: state.limit,
    cmp: state.selected.map((t) => `${t.kind}:${t.term}`) });
  history.replaceState(null, '', '#/history' + q);
}

function topParams() {
  return { from: isoOf(floorTo(state.from, MIN)), to: isoOf(ceilTo(state.to, MIN)), kind: state.kind,
    limit: state.limit };
}
const topKey = () => JSON.stringify(topParams());

function missing(e) {
  return e.status === 404 && e.message === 'not found';
}

/* ---- top terms ---- */

async function loadTop() {
  if (state.abortTop) state.abortTop.abort();
  const ac = new AbortController();
  state.abortTop = ac;
  const params = topParams();
  el.status.textContent = 'Loading top terms…';
  el.table.setAttribute('aria-busy', 'true');
  let doc;
  try {
    doc = await getJSON('api/history/top' + query(params), { signal: ac.signal });
  } catch (e) {
    if (e.name === 'AbortError' || state.abortTop !== ac) return;
    el.table.removeAttribute('aria-busy');
    el.status.textContent = missing(e) ? 'This trendd does not serve history yet.'
      : `Cannot load the top terms: ${e.message}`;
    el.table.hidden = true;
    el.topCsv.hidden = true;
    state.top = [];
    state.loadedKey = '';
    loadCompare();
    return;
  }
  if (state.abortTop !== ac) return;
  el.table.removeAttribute('aria-busy');
  state.top = topOf(doc);
  state.loadedKey = JSON.stringify(params);
  el.topCsv.href = exportHref('top', params);
  el.topCsv.hidden = false;
  renderTop();
  const span = fmtSpan(state.to - state.from);
  el.status.textContent = state.top.length
    ? `${state.top.length} most used terms from ${fmtDateTime(state.from)} to ${fmtDateTime(state.to)} (${span}).`
    : 'No terms were counted in this range.';
  loadCompare();
}

function renderTop() {
  const rows = state.top.map((t, i) => {
    const id = `cmp-${i}`;
    const check = h('input', { type: 'checkbox', id, class: 'cmp-check',
      'aria-label': `Compare ${t.term}`, dataset: { testid: 'compare-check', key: keyOf(t) } });
    check.addEventListener('change', () => toggle(t, check.checked));
    const rangeQ = query({ from: isoOf(state.from), to: isoOf(state.to) });
    return h('tr', { dataset: { testid: 'history-row', term: t.term, kind: t.kind } },
      h('td', { class: 'col-check' }, check),
      h('td', { class: 'col-rank', text: String(i + 1) }),
      h('td', { class: 'col-term' }, h('a', { class: 'term-link', href: termHref(t.kind, t.term) + rangeQ,
        text: t.term, title: t.term, dataset: { testid: 'history-term' } })),
      h('td', { class: 'col-kind' }, kindBadge(t.kind)),
      h('td', { class: 'col-num', text: fmtInt(t.count) }),
      h('td', { class: 'col-num col-authors', text: fmtInt(t.authors) }),
      h('td', { class: 'col-sent' }, t.sentiment === null ? '–' : sentimentChip(t.sentiment)));
  });
  el.body.replaceChildren(...rows);
  el.table.hidden = rows.length === 0;
  syncChecks();
}

function toggle(t, on) {
  const k = keyOf(t);
  state.selected = state.selected.filter((s) => keyOf(s) !== k);
  if (on) {
    if (state.selected.length >= MAX_COMPARE) return syncChecks();
    state.selected.push({ term: t.term, kind: t.kind });
  }
  syncChecks();
  writeHash();
  loadCompareSoon();
}

function syncChecks() {
  const keys = new Set(state.selected.map(keyOf));
  const full = keys.size >= MAX_COMPARE;
  for (const c of el.body.querySelectorAll('input.cmp-check')) {
    c.checked = keys.has(c.dataset.key);
    c.disabled = full && !c.checked;
    c.closest('tr').classList.toggle('selected', c.checked);
  }
  el.cmpClear.hidden = keys.size === 0;
}

/* ---- compare ---- */

const loadCompareSoon = debounce(() => loadCompare(), 250);

async function loadCompare() {
  if (state.abortCmp) state.abortCmp.abort();
  const sel = state.selected.slice();
  if (!sel.length) {
    el.cmpStatus.textContent = 'Tick up to five terms to compare them over the range.';
    el.cmpBox.hidden = true;
    el.cmpCsv.hidden = true;
    destroyChart();
    return;
  }
  const ac = new AbortController();
  state.abortCmp = ac;
  const step = stepFor(state.to - state.from);
  const ms = STEP_MS[step];
  // one kind= applies to every term; without it trendd reads each term's kind from its sigil
  const kinds = new Set(sel.map((t) => t.kind));
  const params = { term: sel.map((t) => t.term), kind: kinds.size === 1 ? sel[0].kind : undefined,
    from: isoOf(floorTo(state.from, ms)), to: isoOf(ceilTo(state.to, ms)), step };
  el.cmpCsv.href = exportHref('compare', params);
  el.cmpStatus.textContent = `Loading ${sel.length} series…`;
  let doc;
  try {
    doc = await getJSON('api/terms' + query(params), { signal: ac.signal });
  } catch (e) {
    if (e.name === 'AbortError' || state.abortCmp !== ac) return;
    el.cmpStatus.textContent = missing(e) ? 'This trendd does not serve term history yet.'
      : `Cannot load the series: ${e.message}`;
    el.cmpBox.hidden = true;
    el.cmpCsv.hidden = true;
    destroyChart();
    return;
  }
  if (state.abortCmp !== ac) return;
  const got = multiSeriesOf(doc);
  // match answers to the selection by term (and kind when the server says it)
  const series = sel.map((t) => {
    const s = got.find((g) => g.term === t.term && (!g.kind || g.kind === t.kind)) ||
      got.find((g) => g.term === t.term);
    return { ...t, points: densify(s ? s.points : [], state.from, state.to, step) };
  });
  el.cmpBox.hidden = false;
  el.cmpCsv.hidden = false;
  drawCompare(series, step);
  el.cmpStatus.textContent = `Comparing ${series.map((s) => s.term).join(', ')} — one point per ` +
    { '1m': 'minute', '1h': 'hour', '1d': 'day' }[step] + '.';
  announce(`Comparing ${series.length} terms`);
}

function destroyChart() {
  if (state.chart) {
    state.chart.destroy();
    state.chart = null;
  }
}

function drawCompare(series, step) {
  if (!window.Chart) return;
  const datasets = series.map((s, i) => ({
    label: s.term, data: s.points.map((p) => ({ x: p.t, y: p.count })),
    borderColor: PALETTE[i % PALETTE.length], backgroundColor: PALETTE[i % PALETTE.length],
    borderWidth: 1.8, pointRadius: s.points.length < 60 ? 2 : 0, tension: 0.2, fill: false,
  }));
  const muted = cssVar('--muted', '#5b6675');
  const grid = cssVar('--line', '#e3e8ef');
  const yTitle = 'count per ' + { '1m': 'minute', '1h': 'hour', '1d': 'day' }[step];
  const x = timeAxis(state.from, state.to, muted);
  if (state.chart) {
    state.chart.data.datasets = datasets;
    state.chart.options.scales.x = x;
    state.chart.options.scales.y.title.text = yTitle;
    state.chart.update('none');
    return;
  }
  state.chart = new window.Chart(el.cmpCanvas, {
    type: 'line',
    data: { datasets },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false, parsing: false,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      plugins: {
        legend: { position: 'top', align: 'start', labels: { boxWidth: 14, color: muted } },
        tooltip: { callbacks: {
          title: (items) => items.length ? fmtDateTime(items[0].parsed.x) : '',
          label: (item) => ` ${item.dataset.label}: ${fmtInt(item.parsed.y)}`,
        } },
      },
      scales: { x, y: { beginAtZero: true, ticks: { precision: 0, color: muted }, grid: { color: grid },
        title: { display: true, text: yTitle, color: muted } } },
    },
  });
}
