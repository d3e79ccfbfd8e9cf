// Exactly-once counting across crashes (docs/STORAGE.md, "Exactly-once").
//
// A fixture Mastodon server replays one fixed stream of real statuses
// (tests/fixtures/mastodon captures, re-id'd into a few thousand posts),
// page by page after min_id as Mastodon does. One trendd reads it without
// interruption; a second one, on a fresh database, is killed with SIGKILL at
// random moments (at least 20 times, restarted each time on the same
// database and port) until it has read the whole stream. Every per-term and
// per-minute count both give - live answers and database rows alike - must be
// equal, and the killed database must pass integrity_check.
//
// A third of the posts are hours old: behind the watermark in both runs, they
// go straight to the per-minute rows in the database (committed with the
// checkpoints). The rest are minutes old and stay in the open windows of a
// 50-minute lateness in both runs, so their counts come from the restored
// window state through the live answers.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fixtureServer, freePort, httpGet, readCapture, sleep, startTrendd, tmpDir, waitFor } from '../lib/harness.mjs';
import { observeCounts, q, storedCounts } from '../lib/counts.mjs';

const CAPTURES = [
  'mastodon/timeline_public.http', 'mastodon/timeline_public_local_remote.http',
  'mastodon/timeline_home.http', 'mastodon/timeline_list.http', 'mastodon/timeline_tag.http',
  'mastodon/timeline_tag_page1.http', 'mastodon/timeline_tag_page3.http',
  'mastodon/account_statuses_limit5.http',
];
const NPOSTS = 3000;
const PAGE = 20;
const KILLS = 20;
const MIN = 60000;

/* The fixed stream: ids 1..NPOSTS, authors and a hashtag varied, event times fixed at start. */
function buildStream(now) {
  const templates = new Map();
  for (const c of CAPTURES)
    for (const s of JSON.parse(readCapture(c).body.toString('utf8'))) templates.set(s.id, s);
  const t = [...templates.values()];
  const posts = [];
  for (let i = 1; i <= NPOSTS; i++) {
    const s = structuredClone(t[i % t.length]);
    s.id = String(i);
    const old = i % 3 === 0;
    // old: 2.5-3 h ago (late in any run); recent: 35-5 minutes ago (open windows)
    const at = old ? now - 3 * 3600000 + ((i * 7919) % (30 * MIN)) : now - 35 * MIN + ((i * 104729) % (30 * MIN));
    s.created_at = new Date(at).toISOString();
    const a = i % 257;
    s.account = { ...s.account, id: `9${a}`, username: `u${a}`, acct: `u${a}@crash.example` };
    s.content = `${s.content}<p>#crash${i % 41} word${i % 13}</p>`;
    s.reblog = null;
    posts.push(s);
  }
  return { posts, first: Math.min(...posts.map((p) => Date.parse(p.created_at))) };
}

/* Mastodon's min_id paging: the PAGE statuses just after min_id, newest first. */
function serve(posts, state) {
  return async (req, res, url) => {
    const min = parseInt(url.searchParams.get('min_id') || '0', 10);
    const limit = Math.min(parseInt(url.searchParams.get('limit') || '20', 10), 40);
    if (state.delay) await sleep(state.delay);
    const page = posts.slice(min, min + limit).reverse();
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(page));
  };
}


describe('exactly-once counts across SIGKILL', { timeout: 170000 }, () => {
  let fx, posts, first, config, dir;
  const state = { delay: 0 };
  const running = [];
  let from, to;

  before(async () => {
    const now = Date.now();
    ({ posts, first } = buildStream(now));
    from = new Date(Math.floor(first / MIN) * MIN - MIN).toISOString();
    to = new Date(Math.floor(now / MIN) * MIN + 15 * MIN).toISOString();
    fx = await fixtureServer({ '/api/v1/timelines/public': serve(posts, state) });
    dir = tmpDir();
    config = path.join(dir, 'trendd.json');
    fs.writeFileSync(config, JSON.stringify({
      checkpoint_ms: 500,
      lateness_s: 3000,
      sources: [{ kind: 'mastodon', name: 'replay', url: fx.base, interval_s: 1,
                  params: { timeline: 'public', limit: PAGE, max_catchup_pages: 100 } }],
    }));
  });
  after(async () => {
    for (const t of running) if (t.proc.exitCode === null && t.proc.signalCode === null) t.proc.kill('SIGKILL');
    if (fx) await fx.close();
  });

  const start = async (opts) => {
    const t = await startTrendd(['--config', config], opts);
    running.push(t);
    return t;
  };

  const observe = (t) => observeCounts(t, from, to);
  const stored = storedCounts;

  const last = String(NPOSTS);
  const checkpointedCursor = (db) => {
    if (!fs.existsSync(db)) return '';
    try { return q(db, "SELECT cursor FROM sources WHERE name = 'replay';"); } catch { return ''; }
  };
  const countedAll = async (t) => {
    const r = await httpGet(t.base, '/api/trends');
    return r.json?.stats?.posts_total === NPOSTS;
  };

  let reference, referenceDb;

  it('counts the stream in one uninterrupted run', async () => {
    const t = await start();
    await waitFor(() => countedAll(t), { timeout: 60000, what: 'every post counted' });
    reference = await observe(t);
    assert.ok(reference.terms.length > 50, `${reference.terms.length} terms`);
    const total = reference.volume.reduce((s, p) => s + p[1], 0);
    assert.equal(total, NPOSTS);
    const r = await t.stop();
    assert.equal(r.code, 0, t.log().slice(-3000));
    referenceDb = stored(t.db);
    assert.ok(referenceDb.minutes.split('\n').length > 100, 'late posts reached the minute rows');
    assert.equal(checkpointedCursor(t.db), last);
  });

  it('counts the same after being killed at random moments', async () => {
    assert.ok(reference, 'the uninterrupted run ran');
    const port = await freePort();
    const db = path.join(tmpDir(), 'trendd.db');
    state.delay = 60; // pages come slowly, so kills land mid-stream
    let kills = 0;
    let seed = 12345;
    const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
    const cursors = [];
    while (kills < KILLS || checkpointedCursor(db) !== last) {
      assert.ok(kills < 80, `stream not consumed after ${kills} kills (cursor ${checkpointedCursor(db)})`);
      const t = await start({ port, db });
      await sleep(150 + Math.floor(rnd() * 900));
      t.proc.kill('SIGKILL');
      const r = await t.exited;
      assert.equal(r.signal, 'SIGKILL', t.log().slice(-3000));
      assert.doesNotMatch(t.log(), /runtime error|AddressSanitizer/);
      kills++;
      cursors.push(checkpointedCursor(db));
    }
    // progress was made across kills, and at least one kill landed mid-stream
    assert.ok(cursors.some((c) => c !== '' && c !== last), cursors.join(' '));
    state.delay = 0;
    const t = await start({ port, db });
    await waitFor(() => countedAll(t), { timeout: 30000, what: 'every post counted once (restored posts_total)' });
    const killed = await observe(t);
    assert.deepEqual(killed.volume, reference.volume);
    assert.deepEqual(killed.terms, reference.terms);
    assert.deepEqual(killed.series, reference.series);
    const r = await t.stop();
    assert.equal(r.code, 0, t.log().slice(-3000));
    assert.equal(q(db, 'PRAGMA integrity_check;'), 'ok');
    const got = stored(db);
    assert.equal(got.volume, referenceDb.volume);
    assert.equal(got.minutes, referenceDb.minutes);
    assert.equal(got.hours, referenceDb.hours);
    // one epoch at least per cursor the killed runs committed
    assert.ok(Number(q(db, 'SELECT epoch FROM checkpoint;')) >= new Set(cursors).size - 1);
  });
});
