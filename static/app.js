/*
 * trendd dashboard: live top trends over the WebSocket protocol trendd.v1.
 *
 * One connection to /ws on the page's own host. On open it subscribes to the
 * view chosen in the controls; the server answers with a full "trends"
 * message and then one per snapshot, plus "sources" whenever the source list
 * changes. Rows are keyed by term and updated in place. When the connection
 * drops, a banner says so and the page reconnects with backoff (1 s, 2 s,
 * 4 s, 8 s, then every 10 s).
 *
 * Everything that comes from the server is put into the page with
 * textContent or setAttribute, never as HTML.
 */
(function () {
  'use strict';

  const PROTOCOL = 'trendd.v1';
  const RETRY_MIN_MS = 1000;
  const RETRY_MAX_MS = 10000;
  const PING_EVERY_MS = 15000;
  const PONG_TIMEOUT_MS = 10000;
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const KIND_LABELS = {
    word: 'word', hashtag: 'hashtag', mention: 'mention', cashtag: 'cashtag',
    domain: 'domain', emoji: 'emoji', bigram: 'bigram',
  };

  const $ = (id) => document.getElementById(id);
  const el = {
    conn: $('conn'), connText: $('conn-text'),
    banner: $('banner'), bannerText: $('banner-text'), retryNow: $('retry-now'),
    controls: $('controls'), kind: $('kind'), limit: $('limit'),
    alert: $('alert'), warmup: $('warmup'),
    body: $('trends-body'), empty: $('trends-empty'), meta: $('meta'),
    pps: $('stat-pps'), total: $('stat-total'), inWindow: $('stat-window'),
    sentiment: $('stat-sentiment'), volume: $('volume-chart'),
    sources: $('sources'), sourcesEmpty: $('sources-empty'),
  };

  const numberFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const rateFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
  const scoreFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

  const state = {
    view: readViewFromHash(),
    ws: null,
    retryMs: RETRY_MIN_MS,
    retryTimer: 0,
    countdownTimer: 0,
    pingTimer: 0,
    pongDeadline: 0,
    rows: new Map(),        // key -> { tr, cells, count }
    haveData: false,
    chart: null,
    // While trendd has too little history to score trends, the "Trending"
    // view shows the most used terms instead, and says so.
    fallback: false,
  };

  /* The sort actually subscribed: "count" while Trending falls back. */
  function effectiveSort() {
    return state.view.sort === 'score' && state.fallback ? 'count' : state.view.sort;
  }

  /* ---- the view (window, kind, sort, limit), kept in the URL hash ---- */

  function readViewFromHash() {
    const view = { window: '5m', kind: 'all', sort: 'score', limit: 20 };
    const p = new URLSearchParams(location.hash.slice(1));
    if (['5m', '1h', '24h'].includes(p.get('window'))) view.window = p.get('window');
    if (p.get('kind') === 'all' || KIND_LABELS[p.get('kind')]) view.kind = p.get('kind');
    if (['score', 'count'].includes(p.get('sort'))) view.sort = p.get('sort');
    const limit = parseInt(p.get('limit'), 10);
    if ([10, 20, 50, 100].includes(limit)) view.limit = limit;
    return view;
  }

  function writeViewToHash() {
    const p = new URLSearchParams({
      window: state.view.window, kind: state.view.kind,
      sort: state.view.sort, limit: String(state.view.limit),
    });
    history.replaceState(null, '', '#' + p.toString());
  }

  function syncControls() {
    for (const name of ['window', 'sort']) {
      for (const input of el.controls.querySelectorAll(`input[name="${name}"]`))
        input.checked = input.value === state.view[name];
    }
    el.kind.value = state.view.kind;
    el.limit.value = String(state.view.limit);
  }

  function onControlsChange() {
    const form = new FormData(el.controls);
    state.view = {
      window: form.get('window') || '5m',
      kind: form.get('kind') || 'all',
      sort: form.get('sort') || 'score',
      limit: parseInt(form.get('limit'), 10) || 20,
    };
    writeViewToHash();
    clearTable();
    subscribe();
  }

  /* ---- connection ---- */

  function setConnection(kind, text) {
    el.conn.dataset.state = kind;
    el.connText.textContent = text;
    document.body.dataset.connection = kind;
  }

  function connect() {
    clearTimeout(state.retryTimer);
    clearInterval(state.countdownTimer);
    setConnection('connecting', 'connecting…');
    const url = new URL('ws', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    url.hash = '';
    url.search = '';
    let ws;
    try {
      ws = new WebSocket(url.href, PROTOCOL);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    ws.addEventListener('open', () => {
      if (state.ws !== ws) return;
      state.retryMs = RETRY_MIN_MS;
      el.banner.hidden = true;
      setConnection('live', 'live');
      subscribe();
      startPing();
    });
    ws.addEventListener('message', (ev) => {
      if (state.ws !== ws) return;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      handleMessage(msg);
    });
    ws.addEventListener('close', () => {
      if (state.ws !== ws) return;
      state.ws = null;
      stopPing();
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    const delay = state.retryMs;
    state.retryMs = Math.min(state.retryMs * 2, RETRY_MAX_MS);
    let left = Math.round(delay / 1000);
    setConnection('disconnected', 'disconnected');
    el.banner.hidden = false;
    const show = () => {
      el.bannerText.textContent = `disconnected — retrying in ${left} s`;
    };
    show();
    clearInterval(state.countdownTimer);
    state.countdownTimer = setInterval(() => {
      left = Math.max(0, left - 1);
      show();
    }, 1000);
    clearTimeout(state.retryTimer);
    state.retryTimer = setTimeout(connect, delay);
  }

  function send(obj) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(obj));
  }

  function subscribe() {
    send({
      type: 'subscribe', window: state.view.window, kind: state.view.kind,
      sort: effectiveSort(), limit: state.view.limit,
    });
  }

  /* Switches between scored trends and the most-used fallback as history allows. */
  function checkWarmup(msg) {
    const warming = msg.warming_up === true;
    if (state.view.sort === 'score') {
      const want = warming;
      if (want !== state.fallback) {
        state.fallback = want;
        subscribe();
      }
    } else {
      state.fallback = false;
    }
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

  /* A connection that silently died (no FIN) is noticed by the missing pong. */
  function startPing() {
    stopPing();
    state.pingTimer = setInterval(() => {
      if (state.pongDeadline && Date.now() > state.pongDeadline) {
        const ws = state.ws;
        state.ws = null;
        if (ws) ws.close();
        stopPing();
        scheduleReconnect();
        return;
      }
      if (!state.pongDeadline) state.pongDeadline = Date.now() + PONG_TIMEOUT_MS;
      send({ type: 'ping' });
    }, PING_EVERY_MS);
  }

  function stopPing() {
    clearInterval(state.pingTimer);
    state.pingTimer = 0;
    state.pongDeadline = 0;
  }

  function handleMessage(msg) {
    switch (msg && msg.type) {
      case 'trends':
        if (msg.window !== state.view.window || msg.kind !== state.view.kind ||
            msg.sort !== effectiveSort()) return; // an answer to an older subscription
        el.alert.hidden = true;
        checkWarmup(msg);
        if (msg.sort !== effectiveSort()) return; // just switched; the next message counts
        renderTrends(msg);
        break;
      case 'sources':
        renderSources(Array.isArray(msg.sources) ? msg.sources : []);
        break;
      case 'error':
        el.alert.textContent = 'Server: ' + String(msg.error);
        el.alert.hidden = false;
        break;
      case 'pong':
        state.pongDeadline = 0;
        break;
      default:
        break;
    }
  }

  /* ---- trends ---- */

  function clearTable() {
    state.rows.clear();
    el.body.replaceChildren();
    el.empty.textContent = 'Loading…';
    el.empty.hidden = false;
  }

  function sentimentColour(v) {
    // red (-1) – grey (0) – green (+1)
    const grey = [139, 148, 158], red = [211, 47, 47], green = [27, 135, 72];
    const t = Math.max(-1, Math.min(1, Number(v) || 0));
    const to = t < 0 ? red : green;
    const a = Math.min(1, Math.abs(t) * 1.6);
    const c = grey.map((g, i) => Math.round(g + (to[i] - g) * a));
    return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
  }

  function setSentiment(chip, v) {
    const n = Number(v) || 0;
    chip.textContent = (n > 0 ? '+' : '') + n.toFixed(2);
    chip.style.backgroundColor = sentimentColour(n);
    const label = n > 0.05 ? 'positive' : n < -0.05 ? 'negative' : 'neutral';
    chip.title = `mean sentiment ${n.toFixed(3)} (${label})`;
  }

  function sparkline(svg, series) {
    const w = 96, h = 24, pad = 2;
    const values = Array.isArray(series) ? series.map((x) => Number(x) || 0) : [];
    const max = Math.max(1, ...values);
    const n = values.length;
    const pts = values.map((v, i) => {
      const x = n > 1 ? pad + (i * (w - 2 * pad)) / (n - 1) : w / 2;
      const y = h - pad - (v / max) * (h - 2 * pad);
      return [x.toFixed(1), y.toFixed(1)];
    });
    const line = svg.querySelector('polyline');
    const area = svg.querySelector('path');
    if (!pts.length) {
      line.setAttribute('points', '');
      area.setAttribute('d', '');
      return;
    }
    line.setAttribute('points', pts.map((p) => p.join(',')).join(' '));
    area.setAttribute('d', `M${pts[0][0]},${h - pad} L` + pts.map((p) => p.join(',')).join(' L') +
                      ` L${pts[pts.length - 1][0]},${h - pad} Z`);
  }

  function makeRow() {
    const tr = document.createElement('tr');
    tr.dataset.testid = 'trend-row';
    const cells = {};
    for (const [name, cls] of [['rank', 'col-rank'], ['term', 'col-term'], ['kind', 'col-kind'],
      ['count', 'col-num col-count'], ['authors', 'col-num col-authors'],
      ['score', 'col-num col-score'], ['sentiment', 'col-sent'], ['spark', 'col-spark']]) {
      const td = document.createElement('td');
      td.className = cls;
      tr.appendChild(td);
      cells[name] = td;
    }
    cells.term.dataset.testid = 'trend-term';
    cells.count.dataset.testid = 'trend-count';
    cells.countValue = document.createElement('span');
    cells.countDelta = document.createElement('span');
    cells.countDelta.className = 'delta';
    cells.countDelta.setAttribute('aria-hidden', 'true'); // visual extra; the count is read
    cells.count.append(cells.countValue, cells.countDelta);
    cells.kindBadge = document.createElement('span');
    cells.kind.appendChild(cells.kindBadge);
    cells.chip = document.createElement('span');
    cells.chip.className = 'chip';
    cells.sentiment.appendChild(cells.chip);
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('viewBox', '0 0 96 24');
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('aria-hidden', 'true');
    svg.append(document.createElementNS(SVG_NS, 'path'), document.createElementNS(SVG_NS, 'polyline'));
    cells.spark.appendChild(svg);
    cells.svg = svg;
    return { tr, cells, count: null };
  }

  function flash(td) {
    td.classList.remove('changed');
    void td.offsetWidth; // restart the transition
    td.classList.add('changed');
    setTimeout(() => td.classList.remove('changed'), 60);
  }

  function renderTrends(msg) {
    const trends = Array.isArray(msg.trends) ? msg.trends : [];
    const seen = new Set();
    trends.forEach((t, i) => {
      const term = String(t.term);
      const kind = String(t.kind);
      const key = kind + '\u0000' + term;
      seen.add(key);
      let row = state.rows.get(key);
      const isNew = !row;
      if (isNew) {
        row = makeRow();
        state.rows.set(key, row);
        row.cells.term.textContent = term;
        row.cells.term.title = term;
        row.tr.dataset.term = term;
        row.tr.dataset.kind = kind;
        row.cells.kindBadge.textContent = KIND_LABELS[kind] || kind;
        row.cells.kindBadge.className = 'kind kind-' + (KIND_LABELS[kind] ? kind : 'other');
      }
      row.cells.rank.textContent = String(i + 1);
      const count = Number(t.count) || 0;
      if (row.count !== count) {
        row.cells.countValue.textContent = numberFmt.format(count);
        if (!isNew && row.count !== null) {
          const d = count - row.count;
          row.cells.countDelta.textContent = (d > 0 ? '▲' : '▼') + numberFmt.format(Math.abs(d));
          row.cells.countDelta.className = 'delta ' + (d > 0 ? 'up' : 'down');
          flash(row.cells.count);
        }
        row.count = count;
      } else if (row.cells.countDelta.textContent) {
        row.cells.countDelta.textContent = ''; // the delta is since the previous snapshot
      }
      row.cells.authors.textContent = numberFmt.format(Number(t.authors) || 0);
      row.cells.score.textContent = scoreFmt.format(Number(t.score) || 0);
      setSentiment(row.cells.chip, t.sentiment);
      sparkline(row.cells.svg, t.series);
      // keep DOM moves to the rows that are out of place
      const at = el.body.children[i];
      if (at !== row.tr) el.body.insertBefore(row.tr, at || null);
    });
    for (const [key, row] of state.rows) {
      if (!seen.has(key)) {
        row.tr.remove();
        state.rows.delete(key);
      }
    }
    state.haveData = true;
    el.empty.textContent = msg.sort === 'score'
      ? 'Nothing is trending in this view yet: a term trends once enough distinct authors use ' +
        'it more than usual. “Most used” lists every counted term.'
      : 'No terms in this view yet.';
    el.empty.hidden = trends.length > 0;
    renderOverview(msg);
  }

  function renderOverview(msg) {
    const stats = msg.stats || {};
    const overall = msg.overall || {};
    el.pps.textContent = rateFmt.format(Number(stats.posts_per_s) || 0);
    el.total.textContent = numberFmt.format(Number(stats.posts_total) || 0);
    el.inWindow.textContent = numberFmt.format(Number(overall.posts) || 0);
    setSentiment(el.sentiment, overall.sentiment);
    const when = msg.generated_at ? new Date(msg.generated_at) : null;
    el.meta.textContent = `Window ${msg.window} · snapshot #${msg.seq}` +
      (when && !isNaN(when) ? ` · updated ${when.toLocaleTimeString()}` : '');
    renderVolume(overall);
  }

  function renderVolume(overall) {
    if (!window.Chart) return; // Chart.js is optional: the table works without it
    const series = Array.isArray(overall.volume_series) ? overall.volume_series : [];
    const step = Number(overall.series_step_ms) || 0;
    const labels = series.map((_, i) => {
      const agoS = Math.round(((series.length - 1 - i) * step) / 1000);
      return agoS === 0 ? 'now' : agoS < 120 ? `-${agoS}s` : `-${Math.round(agoS / 60)}m`;
    });
    const accent = getComputedStyle(document.documentElement).getPropertyValue('--accent').trim() || '#2f6fed';
    if (!state.chart) {
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

  /* ---- sources ---- */

  function relTime(iso) {
    if (!iso) return '';
    const t = new Date(iso);
    if (isNaN(t)) return '';
    const s = Math.round((t.getTime() - Date.now()) / 1000);
    const a = Math.abs(s);
    const txt = a < 60 ? `${a} s` : a < 3600 ? `${Math.round(a / 60)} min` : `${Math.round(a / 3600)} h`;
    return s >= 0 ? `in ${txt}` : `${txt} ago`;
  }

  function renderSources(list) {
    const items = list.map((src) => {
      const st = (src && src.status) || {};
      const li = document.createElement('li');
      li.className = 'source';
      li.dataset.testid = 'source';
      const head = document.createElement('div');
      head.className = 'source-head';
      const name = document.createElement('span');
      name.className = 'source-name';
      name.textContent = String(src.name ?? src.url ?? src.id);
      name.title = String(src.url ?? '');
      const badge = document.createElement('span');
      const stateName = src.enabled === false ? 'disabled' : String(st.state || 'idle');
      badge.className = 'state state-' + stateName.replace(/[^a-z]/g, '');
      badge.dataset.testid = 'source-state';
      badge.textContent = stateName;
      head.append(name, badge);
      li.appendChild(head);
      const info = document.createElement('div');
      info.className = 'source-info';
      const parts = [String(src.kind || '')];
      if (st.posts_seen != null) parts.push(`${numberFmt.format(Number(st.posts_seen) || 0)} posts`);
      if (st.last_ok) parts.push(`ok ${relTime(st.last_ok)}`);
      if (st.next_poll) parts.push(`next ${relTime(st.next_poll)}`);
      info.textContent = parts.filter(Boolean).join(' · ');
      li.appendChild(info);
      if (st.last_error) {
        const err = document.createElement('div');
        err.className = 'source-error';
        err.dataset.testid = 'source-error';
        err.textContent = String(st.last_error) + (st.last_error_at ? ` (${relTime(st.last_error_at)})` : '');
        li.appendChild(err);
      }
      return li;
    });
    el.sources.replaceChildren(...items);
    el.sourcesEmpty.hidden = items.length > 0;
  }

  /* ---- start ---- */

  syncControls();
  el.controls.addEventListener('change', onControlsChange);
  el.controls.addEventListener('submit', (e) => e.preventDefault());
  el.retryNow.addEventListener('click', () => {
    if (state.ws) return; // already connecting
    state.retryMs = RETRY_MIN_MS;
    connect();
  });
  window.addEventListener('hashchange', () => {
    const v = readViewFromHash();
    if (JSON.stringify(v) === JSON.stringify(state.view)) return;
    state.view = v;
    syncControls();
    clearTable();
    subscribe();
  });
  connect();
})();
