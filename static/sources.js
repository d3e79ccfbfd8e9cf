/*
 * The sources page (#/sources): every configured source with its live status
 * (the WebSocket "sources" message updates the cards in place, so focus and
 * half-typed forms survive), a form to add or edit one, enable/disable,
 * delete with confirmation and "poll now".
 *
 * Changes need the admin token. The page asks for it the first time, keeps
 * it in localStorage and offers to forget it; an answer 401 forgets it and
 * asks again, then repeats the request.
 */
import { announce, bus, shared } from './core.js';
import { STATE_WORDS, stateOf } from './live.js';
import { postItem } from './term.js';
import { $, ApiError, errorText, fmtInt, getJSON, h, readBody, relTime } from './util.js';

const TOKEN_KEY = 'trendd.adminToken';
const KIND_WORDS = {
  mastodon: 'Mastodon', rss: 'RSS', atom: 'Atom', jsonfeed: 'JSON Feed', reddit: 'Reddit', hn: 'Hacker News',
  jetstream: 'Bluesky Jetstream', push: 'Push',
};
const URL_HINTS = {
  mastodon: ['https://mastodon.social', 'The server’s address; trendd reads its public or hashtag timeline.'],
  rss: ['https://example.org/feed.xml', 'The feed’s address (RSS or Atom both work).'],
  atom: ['https://example.org/atom.xml', 'The feed’s address (RSS or Atom both work).'],
  jsonfeed: ['https://example.org/feed.json', 'The JSON Feed’s address.'],
  reddit: ['https://www.reddit.com/r/rust', 'A subreddit (its newest posts are read) or a listing URL.'],
  hn: ['https://hn.algolia.com', 'The HN Search API’s address.'],
  jetstream: ['wss://jetstream2.us-east.bsky.network/subscribe',
    'The Jetstream subscribe endpoint (ws:// or wss://); trendd keeps it open and reads new posts.'],
  push: ['', 'No address: other programs send posts to POST /api/ingest?source=<name> (NDJSON).'],
};
const MANAGED_PARAMS = {
  mastodon: ['timeline', 'tag', 'limit', 'stream'], reddit: ['limit'], hn: ['tags', 'query', 'hits_per_page'],
  rss: [], atom: [], jsonfeed: [], jetstream: [], push: [],
};
/* Mastodon stream names by timeline (the streaming API names them differently). */
const STREAM_OF = { public: 'public', local: 'public:local', tag: 'hashtag' };
const TIMELINE_OF = { public: 'public', 'public:local': 'local', hashtag: 'tag', 'hashtag:local': 'tag' };

const el = {};
const state = {
  active: false,
  cards: new Map(),      // id -> { li, parts…, src }
  lastStates: new Map(), // id -> state word, to announce changes
  editing: null,         // the source being edited, or null when adding
  opener: null,          // the button that opened the form
  previewMissing: false,
};

/* ---- the token ---- */

export const adminToken = {
  get() {
    try { return localStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
  },
  set(v) {
    try { localStorage.setItem(TOKEN_KEY, v); } catch { /* private mode: kept for nothing */ }
  },
  forget() {
    try { localStorage.removeItem(TOKEN_KEY); } catch { /* nothing to forget */ }
  },
};

function syncTokenBar() {
  const have = !!adminToken.get();
  el.tokenState.textContent = have
    ? 'Admin token saved in this browser.'
    : 'No admin token saved: trendd asks for it when you change a source.';
  el.tokenEnter.textContent = have ? 'Replace token' : 'Enter token';
  el.tokenForget.hidden = !have;
}

class Cancelled extends Error {}

/* Opens the token dialog; resolves true once a token is saved, false when cancelled. */
function askToken(message) {
  return new Promise((resolve) => {
    const dlg = el.tokenDialog;
    const back = document.activeElement;
    el.tokenError.textContent = message || '';
    el.tokenError.hidden = !message;
    el.tokenInput.value = '';
    dlg.returnValue = '';
    dlg.addEventListener('close', () => {
      const v = el.tokenInput.value.trim();
      el.tokenInput.value = '';
      const ok = dlg.returnValue === 'ok' && v !== '';
      if (ok) {
        adminToken.set(v);
        syncTokenBar();
        announce('Admin token saved');
      }
      if (back && back.isConnected) back.focus();
      resolve(ok);
    }, { once: true });
    dlg.showModal();
    el.tokenInput.focus();
  });
}

/* A mutating request with the admin token; asks for the token when there is none or it was refused. */
async function admin(method, path, body) {
  for (;;) {
    const tok = adminToken.get();
    if (!tok) {
      if (!(await askToken(''))) throw new Cancelled('cancelled');
      continue;
    }
    const headers = { authorization: 'Bearer ' + tok, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? '' : JSON.stringify(body),
        cache: 'no-store' });
    } catch {
      throw new ApiError(0, 'cannot reach trendd');
    }
    const b = await readBody(res);
    if (res.status === 401) {
      adminToken.forget();
      syncTokenBar();
      if (!(await askToken(`trendd refused the token (${errorText(401, b)}). Enter the current one.`)))
        throw new Cancelled('cancelled');
      continue;
    }
    return { status: res.status, ok: res.ok, body: b };
  }
}

function say(text) {
  el.status.textContent = text;
}

/* ---- page life cycle ---- */

export function init() {
  Object.assign(el, {
    status: $('src-status'), list: $('src-list'), empty: $('src-empty'), add: $('src-add'),
    tokenState: $('token-state'), tokenEnter: $('token-enter'), tokenForget: $('token-forget'),
    tokenDialog: $('token-dialog'), tokenInput: $('token-input'), tokenError: $('token-error'),
    confirm: $('confirm-dialog'), confirmText: $('confirm-text'),
    panel: $('src-form-panel'), formTitle: $('src-form-title'), form: $('src-form'),
    formError: $('src-form-error'), kind: $('src-kind'), name: $('src-name'), url: $('src-url'),
    urlHint: $('src-url-hint'), interval: $('src-interval'), enabled: $('src-enabled'),
    save: $('src-save'), preview: $('src-preview'), cancel: $('src-cancel'),
    previewBox: $('src-preview-box'), previewTitle: $('src-preview-title'), previewList: $('src-preview-list'),
    mTimeline: $('p-m-timeline'), mMode: $('p-m-mode'), mTag: $('p-m-tag'), mTagField: $('p-m-tag-field'), mLimit: $('p-m-limit'),
    rLimit: $('p-r-limit'), hTags: $('p-h-tags'), hQuery: $('p-h-query'), hHits: $('p-h-hits'),
  });
  syncTokenBar();
  el.tokenEnter.addEventListener('click', () => askToken(''));
  el.tokenForget.addEventListener('click', () => {
    adminToken.forget();
    syncTokenBar();
    say('The admin token was removed from this browser.');
    el.tokenEnter.focus();
  });
  $('token-cancel').addEventListener('click', () => el.tokenDialog.close('cancel'));
  el.add.addEventListener('click', () => openForm(null, el.add));
  el.cancel.addEventListener('click', closeForm);
  el.kind.addEventListener('change', syncKindFields);
  el.mTimeline.addEventListener('change', syncKindFields);
  el.form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitForm();
  });
  el.preview.addEventListener('click', previewSource);
  for (const input of el.form.querySelectorAll('input, select'))
    input.addEventListener('input', () => clearFieldError(input));
  bus.addEventListener('sources', (e) => {
    if (state.active) renderList(e.detail.sources);
  });
  setInterval(() => {
    if (state.active) refreshTimes();
  }, 1000);
  syncKindFields();
}

export async function enter() {
  state.active = true;
  document.title = 'trendd · sources';
  syncTokenBar();
  if (shared.sources) {
    renderList(shared.sources);
  } else {
    try {
      renderList(await getJSON('api/sources'));
    } catch (e) {
      say(`Cannot load the sources: ${e.message}`);
    }
  }
}

export function leave() {
  state.active = false;
}

async function refetch() {
  try {
    const list = await getJSON('api/sources');
    if (Array.isArray(list)) renderList(list);
  } catch { /* the WebSocket brings the list as well */ }
}

/* ---- the list ---- */

function renderList(list) {
  const sorted = (Array.isArray(list) ? list : []).filter((s) => s && s.id != null)
    .slice().sort((a, b) => Number(a.id) - Number(b.id));
  const ids = new Set();
  let prev = null;
  for (const src of sorted) {
    const id = String(src.id);
    ids.add(id);
    let card = state.cards.get(id);
    if (!card) {
      card = makeCard(id);
      state.cards.set(id, card);
    }
    updateCard(card, src);
    const want = prev ? prev.nextSibling : el.list.firstChild;
    if (want !== card.li) el.list.insertBefore(card.li, want);
    prev = card.li;
  }
  for (const [id, card] of state.cards) {
    if (!ids.has(id)) {
      const hadFocus = card.li.contains(document.activeElement);
      card.li.remove();
      state.cards.delete(id);
      state.lastStates.delete(id);
      if (hadFocus) el.add.focus();
    }
  }
  el.empty.hidden = sorted.length > 0;
}

function makeCard(id) {
  const c = {};
  c.title = h('h3', { class: 'source-title', id: `src-${id}-name`, dataset: { testid: 'source-name' } });
  c.kind = h('span', { class: 'kind kind-source' });
  c.state = h('span', { class: 'state', dataset: { testid: 'source-state' } });
  c.url = h('div', { class: 'source-url', dataset: { testid: 'source-url' } });
  c.posts = h('dd', { dataset: { testid: 'source-posts' } });
  c.lastOk = h('dd');
  c.next = h('dd');
  c.every = h('dd');
  c.error = h('p', { class: 'source-error', dataset: { testid: 'source-error' }, hidden: true });
  c.warning = h('p', { class: 'source-warning', dataset: { testid: 'source-warning' }, hidden: true });
  const btn = (text, testid, fn, cls = 'btn btn-small') => {
    const b = h('button', { type: 'button', class: cls, text, 'aria-describedby': `src-${id}-name`,
      dataset: { testid } });
    b.addEventListener('click', () => fn(c.src, b));
    return b;
  };
  c.poll = btn('Poll now', 'source-poll', pollNow);
  c.edit = btn('Edit', 'source-edit', (src, b) => openForm(src, b));
  c.toggle = btn('Disable', 'source-toggle', toggleEnabled);
  c.del = btn('Delete', 'source-delete', deleteSource, 'btn btn-small btn-danger-quiet');
  c.li = h('li', { class: 'source-card', dataset: { testid: 'source-card', id } },
    h('div', { class: 'card-head' }, c.title, c.kind, c.state),
    c.url,
    h('dl', { class: 'source-stats' },
      h('div', null, h('dt', { text: 'Posts seen' }), c.posts),
      h('div', null, h('dt', { text: 'Last success' }), c.lastOk),
      h('div', null, h('dt', { text: 'Next poll' }), c.next),
      h('div', null, h('dt', { text: 'Interval' }), c.every)),
    c.error,
    c.warning,
    h('div', { class: 'card-actions' }, c.poll, c.edit, c.toggle, c.del));
  return c;
}

function updateCard(c, src) {
  c.src = src;
  const st = src.status || {};
  const s = stateOf(src);
  const name = String(src.name ?? '');
  if (c.title.textContent !== name) c.title.textContent = name;
  c.li.dataset.name = name;
  c.kind.textContent = KIND_WORDS[src.kind] || String(src.kind ?? '');
  c.state.className = 'state state-' + s;
  c.state.textContent = STATE_WORDS[s];
  c.li.dataset.state = s;
  c.url.textContent = String(src.url ?? '');
  c.posts.textContent = st.posts_seen != null ? fmtInt(st.posts_seen) : '–';
  c.every.textContent = src.interval_s ? `${fmtInt(src.interval_s)} s` : '–';
  c.toggle.textContent = src.enabled === false ? 'Enable' : 'Disable';
  c.poll.disabled = src.enabled === false || c.busy === true;
  const err = st.last_error ? String(st.last_error) : '';
  c.error.hidden = !err;
  c.error.textContent = err ? `Last error: ${err}` : '';
  c.errorAt = st.last_error_at || null;
  // a document read although it was not well-formed: worth knowing, not a failure
  const warn = st.last_warning ? String(st.last_warning) : '';
  c.warning.hidden = !warn;
  c.warning.textContent = warn ? `Warning: ${warn}` : '';
  refreshCardTimes(c);
  const id = String(src.id);
  const before = state.lastStates.get(id);
  if (before !== undefined && before !== s) announce(`Source ${name}: ${STATE_WORDS[s]}`);
  state.lastStates.set(id, s);
}

function refreshCardTimes(c) {
  const st = (c.src && c.src.status) || {};
  c.lastOk.textContent = st.last_ok ? relTime(st.last_ok) : 'never';
  c.next.textContent = c.src.enabled === false ? '–' : st.next_poll ? relTime(st.next_poll) : '–';
  if (c.errorAt && !c.error.hidden) {
    const txt = `Last error: ${String(st.last_error)} (${relTime(c.errorAt)})`;
    if (c.error.textContent !== txt) c.error.textContent = txt;
  }
}

function refreshTimes() {
  for (const c of state.cards.values()) refreshCardTimes(c);
}

/* ---- actions ---- */

async function run(button, work) {
  const card = [...state.cards.values()].find((c) => c.li.contains(button));
  button.disabled = true;
  if (card) card.busy = true;
  try {
    await work();
  } catch (e) {
    if (!(e instanceof Cancelled)) say(`Failed: ${e.message}`);
  } finally {
    if (card) card.busy = false;
    button.disabled = false;
    if (card && card.src) updateCard(card, card.src);
  }
}

function pollNow(src, button) {
  return run(button, async () => {
    const r = await admin('POST', `api/sources/${encodeURIComponent(src.id)}/poll`);
    say(r.ok ? `Polling “${src.name}” now.` : `Cannot poll “${src.name}”: ${errorText(r.status, r.body)}`);
  });
}

function toggleEnabled(src, button) {
  const enable = src.enabled === false;
  return run(button, async () => {
    const r = await admin('PATCH', `api/sources/${encodeURIComponent(src.id)}`, { enabled: enable });
    if (r.ok) {
      say(`${enable ? 'Enabled' : 'Disabled'} “${src.name}”.`);
      refetch();
    } else {
      say(`Cannot change “${src.name}”: ${errorText(r.status, r.body)}`);
    }
  });
}

function confirmDelete(name) {
  return new Promise((resolve) => {
    const dlg = el.confirm;
    const back = document.activeElement;
    el.confirmText.textContent = `trendd stops polling “${name}” and removes it from the list.`;
    dlg.returnValue = '';
    dlg.addEventListener('close', () => {
      if (back && back.isConnected) back.focus();
      resolve(dlg.returnValue === 'yes');
    }, { once: true });
    dlg.showModal();
  });
}

function deleteSource(src, button) {
  return run(button, async () => {
    if (!(await confirmDelete(String(src.name)))) return;
    const r = await admin('DELETE', `api/sources/${encodeURIComponent(src.id)}`);
    if (r.ok || r.status === 404) {
      say(`Deleted “${src.name}”.`);
      const card = state.cards.get(String(src.id));
      if (card) {
        card.li.remove();
        state.cards.delete(String(src.id));
      }
      el.empty.hidden = state.cards.size > 0;
      el.add.focus();
      refetch();
    } else {
      say(`Cannot delete “${src.name}”: ${errorText(r.status, r.body)}`);
    }
  });
}

/* ---- the form ---- */

function syncKindFields() {
  const kind = el.kind.value;
  for (const fs of el.form.querySelectorAll('fieldset.params')) fs.hidden = fs.dataset.kind !== kind;
  const [ph, hint] = URL_HINTS[kind] || ['', ''];
  el.url.placeholder = ph;
  el.urlHint.textContent = hint;
  el.url.required = kind !== 'push';
  el.mTagField.hidden = el.mTimeline.value !== 'tag';
}

function openForm(src, opener) {
  state.editing = src;
  state.opener = opener || el.add;
  el.form.reset();
  for (const input of el.form.querySelectorAll('input, select')) clearFieldError(input);
  setFormError('');
  hidePreview();
  el.preview.hidden = state.previewMissing;
  if (src) {
    const p = src.params && typeof src.params === 'object' ? src.params : {};
    el.formTitle.textContent = `Edit “${String(src.name)}”`;
    el.save.textContent = 'Save changes';
    // a kind this form has no fields for (push, or newer ones) is kept as it is
    const kind = String(src.kind ?? '');
    if (kind && ![...el.kind.options].some((o) => o.value === kind))
      el.kind.append(h('option', { value: kind, text: kind }));
    el.kind.value = kind || 'mastodon';
    el.name.value = String(src.name ?? '');
    el.url.value = String(src.url ?? '');
    el.interval.value = String(src.interval_s ?? 60);
    el.enabled.checked = src.enabled !== false;
    const streamed = typeof p.stream === 'string' && p.stream in TIMELINE_OF;
    el.mMode.value = streamed ? 'stream' : 'poll';
    const tl = streamed ? TIMELINE_OF[p.stream] : p.timeline;
    el.mTimeline.value = ['public', 'local', 'tag'].includes(tl) ? tl : 'public';
    el.mTag.value = p.tag != null ? String(p.tag) : '';
    el.mLimit.value = src.kind === 'mastodon' && p.limit != null ? String(p.limit) : '';
    el.rLimit.value = src.kind === 'reddit' && p.limit != null ? String(p.limit) : '';
    el.hTags.value = p.tags != null ? String(p.tags) : '';
    el.hQuery.value = p.query != null ? String(p.query) : '';
    el.hHits.value = p.hits_per_page != null ? String(p.hits_per_page) : '';
  } else {
    el.formTitle.textContent = 'Add a source';
    el.save.textContent = 'Add source';
    el.interval.value = '60';
    el.enabled.checked = true;
  }
  syncKindFields();
  el.panel.hidden = false;
  el.panel.scrollIntoView({ block: 'nearest' });
  (src ? el.name : el.kind).focus();
}

function closeForm() {
  el.panel.hidden = true;
  state.editing = null;
  hidePreview();
  const back = state.opener && state.opener.isConnected ? state.opener : el.add;
  back.focus();
}

function setFormError(text) {
  el.formError.textContent = text;
  el.formError.hidden = !text;
}

function fieldError(input, text) {
  const err = $(input.id + '-err');
  input.setAttribute('aria-invalid', 'true');
  if (err) {
    err.textContent = text;
    err.hidden = false;
  }
}

function clearFieldError(input) {
  const err = $(input.id + '-err');
  input.removeAttribute('aria-invalid');
  if (err) {
    err.textContent = '';
    err.hidden = true;
  }
}

function intField(input, lo, hi, required) {
  const raw = input.value.trim();
  if (raw === '') {
    if (required) fieldError(input, `Enter a whole number from ${lo} to ${hi}.`);
    return required ? NaN : undefined;
  }
  const n = Number(raw);
  if (!Number.isInteger(n) || n < lo || n > hi) {
    fieldError(input, `Enter a whole number from ${lo} to ${hi}.`);
    return NaN;
  }
  return n;
}

/* The request body from the form, or null (with the errors shown and focus on the first). */
function readForm() {
  const bad = [];
  const kind = el.kind.value;
  for (const input of el.form.querySelectorAll('input, select')) clearFieldError(input);
  setFormError('');

  const name = el.name.value.trim();
  const nameBytes = new TextEncoder().encode(name).length;
  const others = (shared.sources || []).filter((s) => !state.editing || s.id !== state.editing.id);
  if (!name) bad.push([el.name, 'Enter a name.']);
  else if (nameBytes > 200) bad.push([el.name, 'The name is too long (at most 200 bytes).']);
  else if (others.some((s) => s.name === name)) bad.push([el.name, 'Another source has this name.']);

  const urlText = el.url.value.trim();
  let url = null;
  try {
    url = new URL(urlText);
  } catch { /* below */ }
  const wsKind = kind === 'jetstream';
  if (!urlText) {
    if (kind !== 'push') bad.push([el.url, 'Enter the address to poll.']);
  } else if (kind === 'push') {
    bad.push([el.url, 'A push source has no address: leave it empty.']);
  } else if (!url || !url.hostname ||
    !(wsKind ? ['ws:', 'wss:'] : ['http:', 'https:']).includes(url.protocol)) {
    bad.push([el.url, wsKind ? 'Enter a ws:// or wss:// address.' : 'Enter an http:// or https:// address.']);
  }

  const interval = intField(el.interval, 1, 86400, true);
  if (Number.isNaN(interval)) bad.push([el.interval, null]);

  const base = state.editing && state.editing.kind === kind && state.editing.params &&
    typeof state.editing.params === 'object' ? { ...state.editing.params } : {};
  for (const k of MANAGED_PARAMS[kind] || []) delete base[k];
  const params = base;
  if (kind === 'mastodon') {
    const timeline = el.mTimeline.value;
    if (el.mMode.value === 'stream') params.stream = STREAM_OF[timeline];
    else params.timeline = timeline;
    if (timeline === 'tag') {
      const tag = el.mTag.value.trim().replace(/^#/, '');
      if (!tag) bad.push([el.mTag, 'Enter the hashtag to follow.']);
      else if (/[\s/?#&%]/.test(tag)) bad.push([el.mTag, 'A hashtag has no spaces or / ? # & %.']);
      else params.tag = tag;
    }
    const limit = intField(el.mLimit, 1, 40, false);
    if (Number.isNaN(limit)) bad.push([el.mLimit, null]);
    else if (limit !== undefined) params.limit = limit;
  } else if (kind === 'reddit') {
    const limit = intField(el.rLimit, 1, 100, false);
    if (Number.isNaN(limit)) bad.push([el.rLimit, null]);
    else if (limit !== undefined) params.limit = limit;
  } else if (kind === 'hn') {
    if (el.hTags.value.trim()) params.tags = el.hTags.value.trim();
    if (el.hQuery.value.trim()) params.query = el.hQuery.value.trim();
    const hits = intField(el.hHits, 1, 1000, false);
    if (Number.isNaN(hits)) bad.push([el.hHits, null]);
    else if (hits !== undefined) params.hits_per_page = hits;
  }

  if (bad.length) {
    for (const [input, text] of bad) if (text) fieldError(input, text);
    setFormError(bad.length === 1 ? 'One field needs attention.' : `${bad.length} fields need attention.`);
    bad[0][0].focus();
    return null;
  }
  return { kind, name, url: urlText, interval_s: interval, enabled: el.enabled.checked, params };
}

async function submitForm() {
  const body = readForm();
  if (!body) return;
  el.save.disabled = true;
  try {
    const editing = state.editing;
    const r = editing
      ? await admin('PATCH', `api/sources/${encodeURIComponent(editing.id)}`, body)
      : await admin('POST', 'api/sources', body);
    if (!r.ok) {
      setFormError(`trendd refused it: ${errorText(r.status, r.body)}`);
      return;
    }
    closeForm();
    say(editing ? `Saved “${body.name}”.` : `Added “${body.name}”. trendd polls it now.`);
    refetch();
  } catch (e) {
    if (!(e instanceof Cancelled)) setFormError(`Cannot save: ${e.message}`);
  } finally {
    el.save.disabled = false;
  }
}

/* ---- test fetch (POST /api/sources/preview, when the server offers it) ---- */

function hidePreview() {
  el.previewBox.hidden = true;
  el.previewList.replaceChildren();
  el.previewTitle.textContent = '';
}

async function previewSource() {
  const body = readForm();
  if (!body) return;
  el.preview.disabled = true;
  el.previewBox.setAttribute('aria-busy', 'true');
  try {
    const r = await admin('POST', 'api/sources/preview', body);
    if (r.status === 200 && r.body && typeof r.body === 'object') {
      showPreview(r.body);
    } else {
      hidePreview();
      if ([404, 405, 501].includes(r.status)) {
        state.previewMissing = true; // this trendd cannot preview: stop offering it
        el.preview.hidden = true;
        el.save.focus();
      } else if (r.body && typeof r.body === 'object' && r.body.error) {
        el.previewBox.hidden = false;
        el.previewTitle.textContent = `Test fetch failed: ${errorText(r.status, r.body)}`;
      }
    }
  } catch (e) {
    hidePreview();
    if (!(e instanceof Cancelled) && e.status === 0) setFormError('Cannot reach trendd.');
  } finally {
    el.preview.disabled = false;
    el.previewBox.removeAttribute('aria-busy');
  }
}

function showPreview(doc) {
  const posts = Array.isArray(doc) ? doc : Array.isArray(doc.posts) ? doc.posts : Array.isArray(doc.items) ? doc.items : [];
  const d = doc.document && typeof doc.document === 'object' ? doc.document : doc;
  const title = d.title ? String(d.title) : '';
  const err = d.error ? String(d.error) : '';
  el.previewTitle.textContent = (title ? `“${title}”: ` : '') +
    `${posts.length} post${posts.length === 1 ? '' : 's'} read` + (err ? ` (problem: ${err})` : '');
  el.previewList.replaceChildren(...posts.slice(0, 10).map((p) => postItem(p && typeof p === 'object' ? p : { text: String(p) })));
  el.previewBox.hidden = false;
  announce(el.previewTitle.textContent);
}
