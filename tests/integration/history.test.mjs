// History through the real daemon: posts from a fixture Mastodon source go
// through ingest, analytics and the db writer into the minute, hour and day
// tables, and the history endpoints answer from them (on reader threads).
// The captured statuses are re-dated to the last few minutes so they land
// inside the default retention; their terms are what the tests look for.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { BIN, fixtureServer, httpGet, readCapture, startTrendd, tmpDir, waitFor } from '../lib/harness.mjs';

const MIN = 60000;

describe('history API', () => {
  let fx, t, base, statuses;

  before(async () => {
    statuses = JSON.parse(readCapture('mastodon/timeline_public.http').body.toString('utf8'));
    // Status i is dated base + 20 s * i: the eight span three minutes, ten minutes ago.
    base = Math.floor(Date.now() / MIN) * MIN - 10 * MIN;
    statuses.forEach((s, i) => { s.created_at = new Date(base + 20000 * i).toISOString(); });
    const page = JSON.stringify(statuses);
    fx = await fixtureServer({
      '/m/api/v1/timelines/public': (req, res, url) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(url.searchParams.get('min_id') ? '[]' : page);
      },
    });
    const dir = tmpDir();
    const config = path.join(dir, 'trendd.json');
    fs.writeFileSync(config, JSON.stringify({
      sources: [{ kind: 'mastodon', name: 'm', url: fx.base + '/m', interval_s: 1 }],
      retention: { minute_hours: 48, hour_days: 90, day_days: 0, snapshot_hours: 48 },
    }));
    t = await startTrendd(['--config', config], { db: path.join(dir, 'trendd.db') });
    // The statuses are older than the watermark: they go straight to history.
    await waitFor(async () => {
      const r = await httpGet(t.base, `/api/terms/kate?step=1h`);
      return r.status === 200 && r.json.points.reduce((a, p) => a + p.count, 0) === 1;
    }, { timeout: 30000, what: '"kate" in history' });
  });
  after(async () => {
    if (t) await t.stop();
    if (fx) await fx.close();
  });

  const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const from = () => iso(base - 60 * MIN);
  const to = () => iso(base + 60 * MIN);

  it('gives a term series at every step with the same counts', async () => {
    // "kate" is in status 5, dated base + 100 s: the minute base + 1 min
    const m = await httpGet(t.base, `/api/terms/kate?step=1m&from=${from()}&to=${to()}`);
    assert.equal(m.status, 200);
    assert.equal(m.json.term, 'kate');
    assert.equal(m.json.kind, 'word');
    assert.equal(m.json.step, '1m');
    assert.equal(typeof m.json.live, 'boolean');
    assert.equal(m.json.points.length, 120);
    const hit = m.json.points.filter((p) => p.count > 0);
    assert.deepEqual(hit.map((p) => p.t), [iso(base + MIN)]);
    assert.equal(hit[0].authors, 1);
    for (const p of m.json.points) assert.deepEqual(Object.keys(p), ['t', 'count', 'authors', 'sentiment', 'pos', 'neg']);

    const h = await httpGet(t.base, `/api/terms/kate?step=1h&from=${from()}&to=${to()}`);
    assert.equal(h.json.points.reduce((a, p) => a + p.count, 0), 1);
    const d = await httpGet(t.base, `/api/terms/kate?step=1d&from=${from()}&to=${to()}`);
    assert.equal(d.json.points.reduce((a, p) => a + p.count, 0), 1);

    // the sigil names the kind; %23 is '#'
    const tag = await httpGet(t.base, '/api/terms/%23nothing');
    assert.equal(tag.status, 200);
    assert.equal(tag.json.term, '#nothing');
    assert.equal(tag.json.kind, 'hashtag');
  });

  it('compares terms', async () => {
    const r = await httpGet(t.base, `/api/terms?terms=kate,plane,editor&step=1h&from=${from()}&to=${to()}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.series.map((s) => s.term), ['kate', 'plane', 'editor']);
    for (const s of r.json.series) assert.equal(s.points.reduce((a, p) => a + p.count, 0), 1, s.term);
  });

  it('lists the top terms of a range', async () => {
    const r = await httpGet(t.base, `/api/history/top?kind=word&limit=100&from=${from()}&to=${to()}`);
    assert.equal(r.status, 200);
    assert.equal(r.json.kind, 'word');
    const byTerm = Object.fromEntries(r.json.terms.map((x) => [x.term, x]));
    for (const w of ['kate', 'editor', 'plane', 'internet', 'television']) {
      assert.ok(byTerm[w], `${w} missing from ${JSON.stringify(r.json.terms.map((x) => x.term))}`);
      assert.equal(byTerm[w].count, 1);
      assert.equal(byTerm[w].kind, 'word');
    }
    for (let i = 1; i < r.json.terms.length; i++) assert.ok(r.json.terms[i - 1].count >= r.json.terms[i].count);
    const bi = await httpGet(t.base, `/api/history/top?kind=bigram&from=${from()}&to=${to()}`);
    assert.ok(bi.json.terms.some((x) => x.term === 'text editor'));
    assert.ok(bi.json.terms.every((x) => x.kind === 'bigram'));
    // unix seconds work as well as RFC 3339
    const s = await httpGet(t.base, `/api/history/top?kind=word&limit=100&from=${Math.floor(base / 1000) - 3600}&to=${Math.floor(base / 1000) + 3600}`);
    assert.deepEqual(s.json.terms, r.json.terms);
  });

  it('gives the volume and sentiment timeline', async () => {
    const r = await httpGet(t.base, '/api/sentiment?window=1h');
    assert.equal(r.status, 200);
    assert.equal(r.json.step, '1m');
    assert.equal(r.json.points.length, 60);
    for (const p of r.json.points) {
      assert.deepEqual(Object.keys(p), ['t', 'posts', 'sentiment', 'pos', 'neg', 'neu']);
      assert.equal(p.neu, p.posts - p.pos - p.neg);
    }
    const d = await httpGet(t.base, '/api/sentiment');
    assert.equal(d.json.step, '1h');
    assert.equal(d.json.points.length, 24);
  });

  it('exports CSV', async () => {
    const res = await fetch(`${t.base}/api/export.csv?what=term&term=kate&step=1m&from=${iso(base)}&to=${iso(base + 3 * MIN)}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/csv/);
    assert.match(res.headers.get('content-disposition'), /attachment; filename="trendd-term.csv"/);
    const lines = (await res.text()).split('\r\n');
    assert.equal(lines[0], 't,term,kind,count,authors,sentiment,pos,neg');
    assert.match(lines[2], new RegExp(`^${iso(base + MIN)},kate,word,1,1,`));
    assert.equal(lines.length, 5); // header, three minutes, and the final empty string
    const top = await (await fetch(`${t.base}/api/export.csv?what=top&kind=bigram&from=${from()}&to=${to()}`)).text();
    assert.match(top, /^term,kind,count,authors,sentiment\r\n/);
    assert.match(top, /\r\ntext editor,bigram,1,1,/);
  });

  it('answers bad requests with 400 and a reason', async () => {
    const cases = [
      ['/api/terms/kate?step=5m', /step must be 1m, 1h or 1d/],
      ['/api/terms/kate?from=2026-11-26T00:00:00Z&to=2026-11-25T00:00:00Z', /from must be before to/],
      ['/api/terms/kate?from=tomorrow', /from is not a time/],
      ['/api/terms/kate?from=2016-01-01&to=2026-01-01&step=1m', /points; a series has at most 20000/],
      ['/api/terms/kate?kind=all', /kind must be/],
      ['/api/terms?terms=a,b,c,d,e,f', /at most 5/],
      ['/api/history/top?limit=0', /limit must be an integer from 1 to 1000/],
      ['/api/history/top?kind=tags', /kind must be/],
      ['/api/sentiment?window=2d', /window must be 5m, 1h or 24h/],
      ['/api/snapshots?sort=hot', /sort must be score or count/],
      ['/api/export.csv?what=nope', /what must be one of/],
    ];
    for (const [p, re] of cases) {
      const r = await httpGet(t.base, p);
      assert.equal(r.status, 400, p);
      assert.match(r.json.error, re, p);
    }
    const none = await httpGet(t.base, '/api/snapshots?at=2001-01-01T00:00:00Z');
    assert.equal(none.status, 404);
    assert.match(none.json.error, /no 5m snapshot/);
    const post = await fetch(`${t.base}/api/history/top`, { method: 'POST', body: '' });
    assert.equal(post.status, 405);
  });

  it('serves the stored minute snapshot', async () => {
    const r = await waitFor(async () => {
      const x = await httpGet(t.base, '/api/snapshots?window=1h&sort=count');
      return x.status === 200 && x;
    }, { what: 'a stored snapshot' });
    assert.equal(r.json.window, '1h');
    assert.equal(r.json.sort, 'count');
    assert.ok(Array.isArray(r.json.trends));
  });

  it('leaves a consistent database with the rollups', async () => {
    const { code, signal } = await t.stop();
    assert.equal(code, 0, t.log().slice(-3000));
    assert.equal(signal, null);
    const db = t.db;
    t = null;
    assert.equal(execFileSync('sqlite3', [db, 'PRAGMA integrity_check;']).toString().trim(), 'ok');
    const q = (sql) => execFileSync('sqlite3', [db, sql]).toString().trim();
    assert.equal(q("SELECT sum(count) FROM term_hour JOIN terms ON terms.id = term_id WHERE term = 'kate';"), '1');
    assert.equal(q("SELECT sum(count) FROM term_day JOIN terms ON terms.id = term_id WHERE term = 'kate';"), '1');
    assert.equal(q('PRAGMA user_version;'), '5');
  });

  it('refuses a retention setting it does not understand', () => {
    const dir = tmpDir();
    for (const [retention, re] of [
      [{ minute_hours: -1 }, /retention.minute_hours must be a number from 0/],
      [{ hours: 5 }, /unknown retention key "hours"/],
      [[48], /"retention" must be an object/],
    ]) {
      const config = path.join(dir, 'bad.json');
      fs.writeFileSync(config, JSON.stringify({ retention }));
      let err;
      try {
        execFileSync(BIN, ['--config', config, '--db', path.join(dir, 'x.db'), '--listen', '127.0.0.1:0'],
          { stdio: 'pipe', timeout: 10000 });
      } catch (e) {
        err = e;
      }
      assert.ok(err, JSON.stringify(retention));
      assert.equal(err.status, 2);
      assert.match(err.stderr.toString(), re);
    }
  });
});
