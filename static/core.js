/*
 * The one WebSocket connection (protocol trendd.v1) every page shares.
 *
 * Pages say which trends view they want with setSubscription(); the
 * connection sends it on open and whenever it changes, and passes on the
 * matching "trends" messages, every "sources" message and server errors as
 * events on `bus`. Switching pages only changes the subscription: the socket
 * stays open. When the connection drops, a banner says so and the page
 * reconnects with backoff (1 s, 2 s, 4 s, 8 s, then every 10 s).
 *
 * Trend scores need history: while the server says it is warming up, a
 * subscription sorted by score is sent as sort=count (the "fallback"), and
 * the pages say so.
 */
import { $ } from './util.js';

const PROTOCOL = 'trendd.v1';
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 10000;
const PING_EVERY_MS = 15000;
const PONG_TIMEOUT_MS = 10000;

export const bus = new EventTarget();

export const shared = {
  sources: null,      // newest "sources" list, or null before the first
  connection: 'connecting',
  fallback: false,    // score views are sent as count while warming up
  lastTrends: null,   // newest trends message for the current subscription
};

const conn = {
  ws: null,
  want: null,         // { window, kind, sort, limit, lang }
  retryMs: RETRY_MIN_MS,
  retryTimer: 0,
  countdownTimer: 0,
  pingTimer: 0,
  pongDeadline: 0,
};

const el = {};

function emit(type, detail) {
  bus.dispatchEvent(new CustomEvent(type, { detail }));
}

/* The subscription as sent: sort=count while score falls back. */
export function effective(sub) {
  if (!sub) return null;
  return { ...sub, sort: sub.sort === 'score' && shared.fallback ? 'count' : sub.sort };
}

function sameView(msg, sub) {
  return msg.window === sub.window && msg.kind === sub.kind && msg.sort === sub.sort &&
    String(msg.lang || '').toLowerCase() === String(sub.lang || '').toLowerCase();
}

export function setSubscription(sub) {
  const before = JSON.stringify(conn.want);
  conn.want = { ...sub };
  if (JSON.stringify(conn.want) === before) return;
  shared.lastTrends = null;
  sendSubscription();
}

export function subscription() {
  return conn.want;
}

function sendSubscription() {
  const s = effective(conn.want);
  if (!s) return;
  send({ type: 'subscribe', window: s.window, kind: s.kind, sort: s.sort, limit: s.limit,
    lang: s.lang || '' });
}

/* Says something to screen readers without showing it. */
export function announce(text) {
  const a = $('announcer');
  if (!a) return;
  a.textContent = '';
  setTimeout(() => { a.textContent = text; }, 50);
}

export function send(obj) {
  if (conn.ws && conn.ws.readyState === WebSocket.OPEN) conn.ws.send(JSON.stringify(obj));
}

function setConnection(kind, text) {
  shared.connection = kind;
  el.conn.dataset.state = kind;
  el.connText.textContent = text;
  document.body.dataset.connection = kind;
  emit('connection', { state: kind });
}

function connect() {
  clearTimeout(conn.retryTimer);
  clearInterval(conn.countdownTimer);
  setConnection('connecting', 'connecting…');
  const url = new URL('ws', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  url.hash = '';
  url.search = '';
  let ws;
  try {
    ws = new WebSocket(url.href, PROTOCOL);
  } catch {
    scheduleReconnect();
    return;
  }
  conn.ws = ws;
  ws.addEventListener('open', () => {
    if (conn.ws !== ws) return;
    conn.retryMs = RETRY_MIN_MS;
    const wasDown = shared.connection === 'disconnected';
    el.banner.hidden = true;
    setConnection('live', 'live');
    if (wasDown) announce('Connection to trendd restored');
    sendSubscription();
    startPing();
  });
  ws.addEventListener('message', (ev) => {
    if (conn.ws !== ws) return;
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    handleMessage(msg);
  });
  ws.addEventListener('close', () => {
    if (conn.ws !== ws) return;
    conn.ws = null;
    stopPing();
    scheduleReconnect();
  });
}

function scheduleReconnect() {
  const delay = conn.retryMs;
  conn.retryMs = Math.min(conn.retryMs * 2, RETRY_MAX_MS);
  let left = Math.round(delay / 1000);
  setConnection('disconnected', 'disconnected');
  el.banner.hidden = false;
  // the countdown is visual only: a live region would announce it every second
  el.bannerText.textContent = 'disconnected — retrying';
  const show = () => {
    el.bannerCountdown.textContent = ` in ${left} s`;
  };
  show();
  clearInterval(conn.countdownTimer);
  conn.countdownTimer = setInterval(() => {
    left = Math.max(0, left - 1);
    show();
  }, 1000);
  clearTimeout(conn.retryTimer);
  conn.retryTimer = setTimeout(connect, delay);
}

/* A connection that silently died (no FIN) is noticed by the missing pong. */
function startPing() {
  stopPing();
  conn.pingTimer = setInterval(() => {
    if (conn.pongDeadline && Date.now() > conn.pongDeadline) {
      const ws = conn.ws;
      conn.ws = null;
      if (ws) ws.close();
      stopPing();
      scheduleReconnect();
      return;
    }
    if (!conn.pongDeadline) conn.pongDeadline = Date.now() + PONG_TIMEOUT_MS;
    send({ type: 'ping' });
  }, PING_EVERY_MS);
}

function stopPing() {
  clearInterval(conn.pingTimer);
  conn.pingTimer = 0;
  conn.pongDeadline = 0;
}

function handleMessage(msg) {
  switch (msg && msg.type) {
    case 'trends': {
      const want = conn.want;
      if (!want || !sameView(msg, effective(want))) return; // answer to an older subscription
      const warming = msg.warming_up === true;
      if (warming !== shared.fallback) {
        shared.fallback = warming;
        if (want.sort === 'score') {
          sendSubscription();
          if (msg.sort !== effective(want).sort) return; // the next message counts
        }
      }
      shared.lastTrends = msg;
      emit('trends', { msg, sub: want, warming });
      break;
    }
    case 'sources':
      shared.sources = Array.isArray(msg.sources) ? msg.sources : [];
      emit('sources', { sources: shared.sources });
      break;
    case 'error':
      emit('server-error', { error: String(msg.error) });
      break;
    case 'pong':
      conn.pongDeadline = 0;
      break;
    default:
      break;
  }
}

/*
 * Server health (/healthz), polled while the page is open: a problem the
 * live view cannot show by itself - the database cannot be written, the
 * analytics thread stalls - gets a banner in plain words. Failing requests
 * are left to the connection banner.
 */
const HEALTH_EVERY_MS = 5000;

function describeHealth(h) {
  if (!h || h.status === 'ok' || !Array.isArray(h.problems)) return '';
  let words = h.problems.map(String);
  if (h.db && h.db.ok === false && h.db.error) {
    // the writer's own words replace the generic "database writer reports an error"
    words = words.filter((w) => !/^database/i.test(w));
    const since = h.db.error_since ? ` since ${new Date(h.db.error_since).toLocaleTimeString()}` : '';
    words.push(`Database: ${String(h.db.error)}${since}. Live trends keep updating; history is written when the database can be written again.`);
  }
  return words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(' · ');
}

async function checkHealth() {
  try {
    const r = await fetch('healthz', { cache: 'no-store' });
    if (!r.ok && r.status !== 503) return;
    const text = describeHealth(await r.json());
    $('health-text').textContent = text;
    $('health-banner').hidden = !text;
  } catch {
    /* unreachable: the connection banner says so */
  }
}

export function startConnection() {
  checkHealth();
  setInterval(checkHealth, HEALTH_EVERY_MS);
  el.conn = $('conn');
  el.connText = $('conn-text');
  el.banner = $('banner');
  el.bannerText = $('banner-text');
  el.bannerCountdown = $('banner-countdown');
  $('retry-now').addEventListener('click', () => {
    if (conn.ws) return; // already connecting
    conn.retryMs = RETRY_MIN_MS;
    connect();
  });
  connect();
}
