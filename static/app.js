/*
 * trendd dashboard: pages chosen by the URL hash, over one WebSocket.
 *
 *   #/live?window=5m&kind=all&sort=score&limit=20&lang=   live top terms
 *   #/term/KIND/TERM?range=24h (or from=…&to=…)           one term's history
 *   #/history?from=…&to=…&kind=…&limit=…&cmp=KIND:TERM    history explorer
 *   #/sources                                             sources
 *
 * The older form "#window=5m&sort=count" still opens the live page. Moving
 * between pages hides one section and shows another; the connection (core.js)
 * stays open and only its subscription changes. Everything that comes from
 * the server is put into the page with textContent or setAttribute, never as
 * HTML.
 */
import { setSubscription, startConnection } from './core.js';
import * as live from './live.js';
import * as term from './term.js';
import * as historyPage from './history.js';
import * as sources from './sources.js';
import { $, cssVar } from './util.js';

const PAGES = {
  live: { mod: live, section: 'page-live', heading: 'trends-title', title: 'trendd · live trends' },
  term: { mod: term, section: 'page-term', heading: 'term-title' },
  history: { mod: historyPage, section: 'page-history', heading: 'history-title' },
  sources: { mod: sources, section: 'page-sources', heading: 'src-title' },
};

let current = null;

function safeDecode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function parseHash(hash) {
  const raw = hash.replace(/^#/, '');
  if (!raw.startsWith('/')) return { name: 'live', rest: [], params: new URLSearchParams(raw) };
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  const parts = path.split('/').slice(1);
  const name = PAGES[parts[0]] ? parts[0] : 'live';
  const rest = parts.slice(1).map(safeDecode);
  if (name === 'term' && (rest.length < 2 || !rest[1])) return { name: 'live', rest: [], params: new URLSearchParams() };
  // a term may contain "/": everything after the kind is the term
  if (name === 'term' && rest.length > 2) return { name, rest: [rest[0], rest.slice(1).join('/')], params };
  return { name, rest, params };
}

function route({ focus }) {
  const r = parseHash(location.hash);
  const page = PAGES[r.name];
  if (current && current !== page) current.mod.leave();
  for (const [name, p] of Object.entries(PAGES)) {
    $(p.section).hidden = p !== page;
    const link = document.querySelector(`[data-nav="${name}"]`);
    if (link) {
      if (p === page || (name === 'live' && r.name === 'term')) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
  }
  const changed = current !== page;
  current = page;
  document.body.dataset.page = r.name;
  if (page.title) document.title = page.title;
  // every page but a term's keeps the live view subscribed: the numbers stay fresh
  if (r.name !== 'term' && r.name !== 'live') setSubscription(live.liveView());
  page.mod.enter(r);
  if (focus && changed) {
    // a new page: start reading at its heading, from the top
    window.scrollTo(0, 0);
    $(page.heading).focus({ preventScroll: true });
  }
}

function start() {
  if (window.Chart) {
    // charts take the page's colours (light or dark)
    window.Chart.defaults.color = cssVar('--muted', '#5b6675');
    window.Chart.defaults.borderColor = cssVar('--line', '#e3e8ef');
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  }
  for (const p of Object.values(PAGES)) p.mod.init();
  $('skip-link').addEventListener('click', (e) => {
    e.preventDefault();
    const heading = current ? $(current.heading) : null;
    (heading || $('main')).focus();
  });
  window.addEventListener('hashchange', () => route({ focus: true }));
  route({ focus: false });
  startConnection();
}

start();
