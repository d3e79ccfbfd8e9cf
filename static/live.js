/*
 * The live page: top terms of one view (window, order, kind, language),
 * updated in place from the WebSocket once a second. Rows are keyed by
 * (kind, term); when ranks change, rows slide to their new place. The
 * overview shows posts/s and the overall sentiment as gauges, the totals and
 * the window's volume; the side panel summarises the sources.
 */
import { bus, setSubscription, shared } from './core.js';
import {
  $, KINDS, SVG_NS, cssVar, fmtInt, h, isKind, prefersReducedMotion, rateFmt, relTime,
  scoreFmt, setSentiment, sentimentColour, svg, termHref,
} from './util.js';

const WINDOWS = ['5m', '1h', '24h'];
const LIMITS = [10, 20, 50, 100];
const WINDOW_WORDS = { '5m': '5 min', '1h': '1 hour', '24h': '24 hours' };
const LANG_RE = /^[A-Za-z0-9-]{1,15}$/;

const el = {};
const state = {
  active: false,
  view: { window: '5m', kind: 'all', sort: 'score', limit: 20, lang: '' },
  rows: new Map(),        // kind \0 term -> { tr, cells, count }
  chart: null,
  ppsHistory: [],         // recent posts/s values, for the gauge's scale
};

/* ---- the view, kept in the URL as #/live?window=…&kind=… ---- */

export function viewFromParams(p) {
  const view = { window: '5m', kind: 'all', sort: 'score', limit: 20, lang: '' };
  if (WINDOWS.includes(p.get('window'))) view.window = p.get('window');
  if (p.get('kind') === 'all' || isKind(p.get('kind'))) view.kind = p.get('kind');
  if (['score', 'count'].includes(p.get('sort'))) view.sort = p.get('sort');
  const limit = parseInt(p.get('limit'), 10);
  if (LIMITS.includes(limit)) view.limit = limit;
  const lang = p.get('lang') || '';
  if (LANG_RE.test(lang)) view.lang = lang;
  return view;
}

export function liveView() {
  return { ...state.view };
}

export function describeView(v) {
  const parts = [v.sort === 'score' ? 'Trending' : 'Most used', WINDOW_WORDS[v.window] || v.window];
  parts.push(v.kind === 'all' ? 'all kinds' : v.kind + 's');
  if (v.lang) parts.push(langName(v.lang));
  return parts.join(' · ');
}

function langName(code) {
  const opt = [...el.lang.options].find((o) => o.value === code);
  return opt ? opt.textContent : code;
}

function hashOf(view) {
  const p = new URLSearchParams({
    window: view.window, kind: view.kind, sort: view.sort, limit: String(view.limit),
  });
  if (view.lang) p.set('lang', view.lang);
  return '#/live?' + p.toString();
}

function writeHash() {
  history.replaceState(null, '', hashOf(state.view));
}

function syncControls() {
  for (const name of ['window', 'sort']) {
    for (const input of el.controls.querySelectorAll(`input[name="${name}"]`))
      input.checked = input.value === state.view[name];
  }
  el.kind.value = state.view.kind;
  el.limit.value = String(state.view.limit);
  if (state.view.lang && ![...el.lang.options].some((o) => o.value === state.view.lang))
    el.lang.append(h('option', { value: state.view.lang, text: state.view.lang }));
  el.lang.value = state.view.lang;
}

function onControlsChange() {
  const form = new FormData(el.controls);
  state.view = {
    window: form.get('window') || '5m',
    kind: form.get('kind') || 'all',
    sort: form.get('sort') || 'score',
    limit: parseInt(form.get('limit'), 10) || 20,
    lang: form.get('lang') || '',
  };
  writeHash();
  clearTable();
  subscribe();
}

function subscribe() {
  setSubscription({ ...state.view });
}

/* ---- page life cycle ---- */

export function init() {
  Object.assign(el, {
    controls: $('controls'), kind: $('kind'), limit: $('limit'), lang: $('lang'),
    alert: $('alert'), warmup: $('warmup'),
    body: $('trends-body'), empty: $('trends-empty'), meta: $('meta'),
    pps: $('stat-pps'), total: $('stat-total'), inWindow: $('stat-window'),
    sentiment: $('stat-sentiment'), volume: $('volume-chart'),
    ppsGauge: $('pps-gauge'), sentGauge: $('sent-gauge'),
    sources: $('sources'), sourcesEmpty: $('sources-empty'),
  });
  buildGauges();
  el.controls.addEventListener('change', onControlsChange);
  el.controls.addEventListener('submit', (e) => e.preventDefault());
  bus.addEventListener('trends', (e) => onTrends(e.detail));
  bus.addEventListener('sources', (e) => renderSources(e.detail.sources));
  bus.addEventListener('server-error', (e) => {
    el.alert.textContent = 'Server: ' + e.detail.error;
    el.alert.hidden = false;
  });
  setInterval(() => {
    if (state.active && shared.sources) renderSources(shared.sources);
  }, 5000);
}

/* Called for #/live (and the old #window=… form): params is a URLSearchParams. */
export function enter(route) {
  // "#/live" alone (the navigation link) keeps the view the page had
  const v = [...route.params.keys()].length ? viewFromParams(route.params) : { ...state.view };
  const changed = JSON.stringify(v) !== JSON.stringify(state.view);
  state.view = v;
  state.active = true;
  syncControls();
  writeHash();
  if (changed) clearTable();
  subscribe();
  if (shared.sources) renderSources(shared.sources);
}

export function leave() {
  state.active = false;
}

/* Trends messages arrive for whichever page subscribed; the table keeps only its own view. */
function onTrends({ msg, sub, warming }) {
  renderOverview(msg);
  const v = state.view;
  if (sub.window !== v.window || sub.kind !== v.kind || sub.sort !== v.sort || sub.lang !== v.lang)
    return;
  el.alert.hidden = true;
  renderWarmup(msg, warming);
  renderTrends(msg);
}

function renderWarmup(msg, warming) {
  if (state.view.sort === 'score' && warming) {
    const have = Math.floor((Number(msg.history_s) || 0) / 60);
    const need = Math.ceil((Number(msg.history_needed_s) || 0) / 60);
    el.warmup.textContent = `Warming up: trend scores compare with the ${need} min before ` +
      `the window, and trendd has ${have} min so far. Showing the most used terms until then.`;
    el.warmup.hidden = false;
  } else {
    el.warmup.hidden = true;
  }
}

/* ---- the trends table ---- */

function clearTable() {
  state.rows.clear();
  el.body.replaceChildren();
  el.empty.textContent = 'Loading…';
  el.empty.hidden = false;
}

function sparkline(node, series) {
  const w = 96, ht = 24, pad = 2;
  const values = Array.isArray(series) ? series.map((x) => Number(x) || 0) : [];
  const max = Math.max(1, ...values);
  const n = values.length;
  const pts = values.map((v, i) => {
    const x = n > 1 ? pad + (i * (w - 2 * pad)) / (n - 1) : w / 2;
    const y = ht - pad - (v / max) * (ht - 2 * pad);
    return [x.toFixed(1), y.toFixed(1)];
  });
  const line = node.querySelector('polyline');
  const area = node.querySelector('path');
  if (!pts.length) {
    line.setAttribute('points', '');
    area.setAttribute('d', '');
    return;
  }
  line.setAttribute('points', pts.map((p) => p.join(',')).join(' '));
  area.setAttribute('d', `M${pts[0][0]},${ht - pad} L` + pts.map((p) => p.join(',')).join(' L') +
                    ` L${pts[pts.length - 1][0]},${ht - pad} Z`);
}

function makeRow(kind, term) {
  const tr = h('tr', { dataset: { testid: 'trend-row' } });
  const cells = {};
  for (const [name, cls] of [['rank', 'col-rank'], ['term', 'col-term'], ['kind', 'col-kind'],
    ['count', 'col-num col-count'], ['authors', 'col-num col-authors'],
    ['score', 'col-num col-score'], ['sentiment', 'col-sent'], ['spark', 'col-spark']]) {
    cells[name] = h('td', { class: cls });
    tr.append(cells[name]);
  }
  cells.term.dataset.testid = 'trend-term';
  cells.count.dataset.testid = 'trend-count';
  const link = h('a', { class: 'term-link', href: termHref(kind, term), text: term, title: term,
    dataset: { testid: 'trend-link' } });
  cells.term.append(link);
  cells.countValue = h('span');
  cells.countDelta = h('span', { class: 'delta', 'aria-hidden': 'true' }); // visual extra
  cells.count.append(cells.countValue, cells.countDelta);
  cells.kind.append(h('span', { class: 'kind kind-' + (isKind(kind) ? kind : 'other'), text: kind }));
  cells.chip = h('span', { class: 'chip' });
  cells.sentiment.append(cells.chip);
  const spark = svg('svg', { class: 'spark', viewBox: '0 0 96 24', preserveAspectRatio: 'none',
    'aria-hidden': 'true' });
  spark.append(document.createElementNS(SVG_NS, 'path'), document.createElementNS(SVG_NS, 'polyline'));
  cells.spark.append(spark);
  cells.svg = spark;
  tr.dataset.term = term;
  tr.dataset.kind = kind;
  return { tr, cells, count: null };
}

function flash(td) {
  td.classList.remove('changed');
  void td.offsetWidth; // restart the transition
  td.classList.add('changed');
  setTimeout(() => td.classList.remove('changed'), 60);
}

function renderTrends(msg) {
  const trends = (Array.isArray(msg.trends) ? msg.trends : []).slice(0, state.view.limit);
  // FLIP: remember where rows were, move them, then slide each from its old place
  const animate = state.active && state.rows.size > 0 && !document.hidden && !prefersReducedMotion();
  const before = new Map();
  if (animate) for (const row of state.rows.values()) before.set(row, row.tr.getBoundingClientRect().top);

  const seen = new Set();
  const order = [];
  for (const t of trends) {
    const term = String(t.term);
    const kind = String(t.kind);
    const key = kind + '\u0000' + term;
    if (seen.has(key)) continue;
    seen.add(key);
    let row = state.rows.get(key);
    const isNew = !row;
    if (isNew) {
      row = makeRow(kind, term);
      state.rows.set(key, row);
    }
    row.cells.rank.textContent = String(order.length + 1);
    const count = Number(t.count) || 0;
    if (row.count !== count) {
      row.cells.countValue.textContent = fmtInt(count);
      if (!isNew && row.count !== null) {
        const d = count - row.count;
        row.cells.countDelta.textContent = (d > 0 ? '▲' : '▼') + fmtInt(Math.abs(d));
        row.cells.countDelta.className = 'delta ' + (d > 0 ? 'up' : 'down');
        flash(row.cells.count);
      }
      row.count = count;
    } else if (row.cells.countDelta.textContent) {
      row.cells.countDelta.textContent = ''; // the delta is since the previous snapshot
    }
    row.cells.authors.textContent = fmtInt(t.authors);
    row.cells.score.textContent = scoreFmt.format(Number(t.score) || 0);
    setSentiment(row.cells.chip, Number(t.sentiment) || 0);
    sparkline(row.cells.svg, t.series);
    row.isNew = isNew;
    order.push(row);
  }
  order.forEach((row, i) => {
    const at = el.body.children[i];
    if (at !== row.tr) el.body.insertBefore(row.tr, at || null); // move only rows out of place
  });
  for (const [key, row] of state.rows) {
    if (!seen.has(key)) {
      row.tr.remove();
      state.rows.delete(key);
    }
  }
  if (animate) {
    for (const row of order) {
      if (row.isNew) {
        row.tr.animate([{ opacity: 0 }, { opacity: 1 }], { duration: 400, easing: 'ease-out' });
        continue;
      }
      const dy = before.get(row) - row.tr.getBoundingClientRect().top;
      if (Math.abs(dy) > 1) {
        row.tr.animate([{ transform: `translateY(${dy}px)` }, { transform: 'translateY(0)' }],
          { duration: 450, easing: 'cubic-bezier(.2,.7,.2,1)' });
      }
    }
  }
  el.empty.textContent = state.view.lang && trends.length === 0
    ? 'No terms in this language yet: trendd counts a language once posts in it arrive.'
    : msg.sort === 'score'
      ? 'Nothing is trending in this view yet: a term trends once enough distinct authors use ' +
        'it more than usual. “Most used” lists every counted term.'
      : 'No terms in this view yet.';
  el.empty.hidden = trends.length > 0;
  const when = msg.generated_at ? new Date(msg.generated_at) : null;
  el.meta.textContent = `Window ${msg.window} · snapshot #${msg.seq}` +
    (msg.lang ? ` · language ${msg.lang}` : '') +
    (when && !isNaN(when) ? ` · updated ${when.toLocaleTimeString()}` : '') +
    countedEarlier(when, msg.computed_at);
}

/*
 * A language view may be carried over from an earlier snapshot (trendd
 * rebuilds those in turn within a time budget): say how much older its
 * numbers are than the snapshot, once that is a second or more.
 */
function countedEarlier(when, computedAt) {
  const counted = computedAt ? new Date(computedAt) : null;
  if (!when || isNaN(when) || !counted || isNaN(counted)) return '';
  const s = Math.round((when - counted) / 1000);
  return s >= 1 ? ` · counted ${s} s earlier` : '';
}

/* ---- overview: gauges, totals, volume ---- */

const ARC = 'M10,50 A40,40 0 0 1 90,50';

function buildGauges() {
  // posts/s: an arc filled up to the value on a scale that follows recent peaks
  el.ppsGauge.append(
    svg('path', { d: ARC, class: 'gauge-track', pathLength: 100 }),
    (el.ppsArc = svg('path', { d: ARC, class: 'gauge-fill', pathLength: 100, 'stroke-dasharray': '0 100' })),
    svg('text', { x: 10, y: 57, class: 'gauge-end', 'text-anchor': 'middle' }),
    (el.ppsMax = svg('text', { x: 90, y: 57, class: 'gauge-end', 'text-anchor': 'middle' })),
  );
  el.ppsGauge.children[2].textContent = '0';
  // sentiment: red to green track and a needle from -1 (left) to +1 (right)
  const grad = svg('linearGradient', { id: 'sent-grad', x1: 0, y1: 0, x2: 1, y2: 0 });
  for (const [off, v] of [[0, -1], [0.5, 0], [1, 1]])
    grad.append(svg('stop', { offset: off, 'stop-color': sentimentColour(v) }));
  const defs = svg('defs');
  defs.append(grad);
  el.sentGauge.append(defs,
    svg('path', { d: ARC, class: 'gauge-track gauge-grad', stroke: 'url(#sent-grad)' }),
    (el.needle = svg('line', { x1: 50, y1: 50, x2: 50, y2: 17, class: 'gauge-needle' })),
    svg('circle', { cx: 50, cy: 50, r: 3.5, class: 'gauge-hub' }),
    svg('text', { x: 10, y: 57, class: 'gauge-end', 'text-anchor': 'middle' }),
    svg('text', { x: 90, y: 57, class: 'gauge-end', 'text-anchor': 'middle' }),
  );
  el.sentGauge.children[4].textContent = '−1';
  el.sentGauge.children[5].textContent = '+1';
}

function niceCeil(v) {
  if (v <= 10) return 10;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function renderOverview(msg) {
  const stats = msg.stats || {};
  const overall = msg.overall || {};
  const pps = Number(stats.posts_per_s) || 0;
  el.pps.textContent = rateFmt.format(pps);
  state.ppsHistory.push(pps);
  if (state.ppsHistory.length > 300) state.ppsHistory.shift();
  const scale = niceCeil(Math.max(...state.ppsHistory) * 1.15);
  el.ppsArc.setAttribute('stroke-dasharray', `${Math.min(100, (pps / scale) * 100).toFixed(1)} 100`);
  el.ppsMax.textContent = fmtInt(scale);
  el.total.textContent = fmtInt(stats.posts_total);
  el.inWindow.textContent = fmtInt(overall.posts);
  const s = Math.max(-1, Math.min(1, Number(overall.sentiment) || 0));
  setSentiment(el.sentiment, s);
  el.needle.style.transform = `rotate(${(s * 90).toFixed(1)}deg)`; // CSSOM: allowed by the CSP
  if (state.active) renderVolume(overall);
}

function renderVolume(overall) {
  if (!window.Chart) return; // Chart.js is optional: the table works without it
  const series = Array.isArray(overall.volume_series) ? overall.volume_series : [];
  const step = Number(overall.series_step_ms) || 0;
  const labels = series.map((_, i) => {
    const agoS = Math.round(((series.length - 1 - i) * step) / 1000);
    return agoS === 0 ? 'now' : agoS < 120 ? `-${agoS}s` : `-${Math.round(agoS / 60)}m`;
  });
  if (!state.chart) {
    const accent = cssVar('--accent', '#2f6fed');
    state.chart = new window.Chart(el.volume, {
      type: 'line',
      data: { labels, datasets: [{ data: series, borderColor: accent, borderWidth: 1.5,
        pointRadius: 0, fill: false, tension: 0.3 }] },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { legend: { display: false }, tooltip: { intersect: false, mode: 'index' } },
        scales: { x: { display: false }, y: { display: false, beginAtZero: true } },
      },
    });
  } else {
    state.chart.data.labels = labels;
    state.chart.data.datasets[0].data = series;
    state.chart.update('none');
  }
}

/* ---- the sources summary ---- */

export function stateOf(src) {
  if (src && src.enabled === false) return 'disabled';
  const s = String((src && src.status && src.status.state) || 'idle');
  return ['ok', 'backoff', 'error', 'idle', 'disabled'].includes(s) ? s : 'idle';
}

export const STATE_WORDS = { ok: 'ok', backoff: 'backing off', error: 'error', idle: 'not polled yet', disabled: 'disabled' };

function renderSources(list) {
  const items = list.map((src) => {
    const st = (src && src.status) || {};
    const name = String(src.name ?? src.url ?? src.id);
    const s = stateOf(src);
    const li = h('li', { class: 'source', dataset: { testid: 'source' } },
      h('div', { class: 'source-head' },
        h('span', { class: 'source-name', text: name, title: String(src.url ?? '') }),
        h('span', { class: 'state state-' + s, text: STATE_WORDS[s], dataset: { testid: 'source-state' } })));
    const parts = [String(src.kind || '')];
    if (st.posts_seen != null) parts.push(`${fmtInt(st.posts_seen)} posts`);
    if (st.last_ok) parts.push(`ok ${relTime(st.last_ok)}`);
    li.append(h('div', { class: 'source-info', text: parts.filter(Boolean).join(' · ') }));
    if (st.last_error && s !== 'ok')
      li.append(h('div', { class: 'source-error', text: String(st.last_error), dataset: { testid: 'source-error' } }));
    return li;
  });
  el.sources.replaceChildren(...items);
  el.sourcesEmpty.hidden = items.length > 0;
}

export { KINDS };
