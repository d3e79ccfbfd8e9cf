// The whole path end to end: trendd --demo polls its built-in Mastodon-style
// feed over HTTP, analyses the posts, stores them, and serves the trends over
// REST and WebSocket.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import WebSocket from 'ws';
import { httpGet, startTrendd, waitFor } from '../lib/harness.mjs';

const KINDS = ['word', 'hashtag', 'mention', 'cashtag', 'domain', 'emoji', 'bigram'];

describe('trendd --demo', () => {
  let t;
  before(async () => { t = await startTrendd(['--demo']); });
  after(async () => { if (t) await t.stop(); });

  it('serves non-empty trends in the documented shape', async () => {
    const doc = await waitFor(async () => {
      const r = await httpGet(t.base, '/api/trends?sort=count&limit=50');
      return r.status === 200 && r.json.trends.length >= 10 ? r.json : null;
    }, { timeout: 30000, what: 'trends from the demo feed' });
    assert.equal(doc.window, '5m');
    assert.match(doc.generated_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    for (const tr of doc.trends) {
      assert.equal(typeof tr.term, 'string');
      assert.ok(tr.term.length > 0);
      assert.ok(KINDS.includes(tr.kind), tr.kind);
      assert.ok(Number.isInteger(tr.count) && tr.count > 0);
      assert.ok(Number.isInteger(tr.authors) && tr.authors >= 1 && tr.authors <= tr.count);
      assert.equal(typeof tr.score, 'number');
      assert.ok(tr.sentiment >= -1 && tr.sentiment <= 1);
      assert.ok(Array.isArray(tr.series) && tr.series.length > 0);
      assert.equal(tr.series.reduce((a, b) => a + b, 0) <= tr.count + tr.error, true);
    }
    // sorted by count, and the demo's text yields several kinds of terms
    for (let i = 1; i < doc.trends.length; i++)
      assert.ok(doc.trends[i - 1].count >= doc.trends[i].count);
    const kinds = new Set(doc.trends.map((x) => x.kind));
    assert.ok(kinds.size >= 3, [...kinds].join(','));
    assert.ok(doc.stats.posts_total > 0);
    // a fresh trendd has no history to score against yet, and says so
    assert.equal(doc.warming_up, true);
    assert.equal(doc.history_needed_s, 300);
    assert.ok(doc.history_s < 300);
  });

  it('filters by kind and honours limit', async () => {
    const r = await waitFor(async () => {
      const x = await httpGet(t.base, '/api/trends?kind=hashtag&sort=count&limit=5');
      return x.status === 200 && x.json.trends.length === 5 ? x : null;
    }, { what: 'five hashtags' });
    for (const tr of r.json.trends) {
      assert.equal(tr.kind, 'hashtag');
      assert.ok(tr.term.startsWith('#'));
    }
  });

  it('keeps separate views per language and per source', async () => {
    const de = await waitFor(async () => {
      const r = await httpGet(t.base, '/api/trends?lang=de&sort=count&limit=20');
      return r.status === 200 && r.json.trends.length >= 5 ? r.json : null;
    }, { what: 'German trends' });
    const all = (await httpGet(t.base, '/api/trends?sort=count&limit=200')).json;
    // the German view counts fewer posts than the global one, and its own words
    assert.ok(de.overall.posts > 0 && de.overall.posts < all.overall.posts);
    const deWords = de.trends.filter((x) => x.kind === 'word').map((x) => x.term);
    assert.ok(deWords.some((w) => /^(heute|schon|zug|nicht|wieder|endlich|über|wetter)$/.test(w)),
      deWords.join(','));
    // a region subtag finds the language's view
    const deAt = (await httpGet(t.base, '/api/trends?lang=de-AT&sort=count&limit=20')).json;
    assert.equal(deAt.overall.posts > 0, true);
    const srcs = (await httpGet(t.base, '/api/sources')).json;
    const demo = srcs.find((x) => x.name === 'demo');
    const bySource = (await httpGet(t.base, `/api/trends?source=${demo.id}&sort=count`)).json;
    assert.ok(bySource.trends.length > 0);
    const none = (await httpGet(t.base, '/api/trends?source=999999&sort=count')).json;
    assert.deepEqual(none.trends, []);
  });

  it('rejects bad parameters and unknown URLs with JSON errors', async () => {
    for (const q of ['window=7m', 'kind=verbs', 'limit=0', 'limit=abc', 'sort=random']) {
      const r = await httpGet(t.base, '/api/trends?' + q);
      assert.equal(r.status, 400, q);
      assert.equal(typeof r.json.error, 'string', q);
    }
    for (const p of ['/api/nope', '/definitely/not/here', '/api/trends/extra']) {
      const r = await httpGet(t.base, p);
      assert.equal(r.status, 404, p);
      assert.equal(typeof r.json.error, 'string', p);
    }
  });

  it('lists the demo source with a healthy status', async () => {
    const src = await waitFor(async () => {
      const r = await httpGet(t.base, '/api/sources');
      const s = r.json?.find((x) => x.name === 'demo');
      return s && s.status.posts_seen > 0 ? s : null;
    }, { what: 'demo source status' });
    assert.equal(src.kind, 'mastodon');
    assert.match(src.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(src.status.state, 'ok');
    assert.equal(src.status.last_error, null);
    const h = await httpGet(t.base, '/healthz');
    assert.equal(h.status, 200);
  });

  it('pushes a trends message every tick over /ws', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${t.port}/ws`, 'trendd.v1');
    const msgs = [];
    ws.on('message', (d) => msgs.push(JSON.parse(d.toString())));
    await new Promise((res, rej) => { ws.on('open', res); ws.on('error', rej); });
    assert.equal(ws.protocol, 'trendd.v1');
    ws.send(JSON.stringify({ type: 'subscribe', window: '5m', kind: 'all', limit: 10, sort: 'count' }));
    await waitFor(() => msgs.filter((m) => m.type === 'trends').length >= 3,
      { timeout: 15000, what: 'three trends messages' });
    const tr = msgs.filter((m) => m.type === 'trends');
    for (let i = 1; i < tr.length; i++) assert.ok(tr[i].seq > tr[i - 1].seq);
    assert.ok(tr.at(-1).trends.length > 0 && tr.at(-1).trends.length <= 10);
    ws.close();
  });

  it('persists sources and snapshots in SQLite', async () => {
    await waitFor(async () => {
      const out = execFileSync('sqlite3', [t.db, 'SELECT count(*) FROM snapshots;']).toString();
      return parseInt(out, 10) > 0;
    }, { what: 'a stored snapshot' });
    const src = execFileSync('sqlite3', [t.db, "SELECT kind, url FROM sources WHERE name='demo';"]).toString();
    assert.match(src, /^mastodon\|http:\/\/127\.0\.0\.1:\d+/);
  });
});
