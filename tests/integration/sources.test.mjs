// Mastodon sources against a local fixture server replaying captured
// responses: good pages flow through, malformed statuses are skipped and
// counted, and a broken or unreachable source shows why and is retried with
// backoff while the others keep flowing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import { fixtureServer, freePort, httpGet, readCapture, startTrendd, tmpDir, waitFor } from '../lib/harness.mjs';

const PUBLIC = 'mastodon/timeline_public.http';

describe('mastodon sources against a fixture server', () => {
  let fx, t, closedPort, statuses, brokenPage;
  const seenQueries = [];

  before(async () => {
    statuses = JSON.parse(readCapture(PUBLIC).body.toString('utf8'));
    // Two statuses broken in different ways; the rest of the page is fine.
    const broken = structuredClone(statuses);
    delete broken[1].created_at;
    broken[3].id = { nested: true };
    brokenPage = JSON.stringify(broken);

    fx = await fixtureServer({
      '/good/api/v1/timelines/public': (req, res, url) => {
        seenQueries.push(url.search);
        if (url.searchParams.get('min_id')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('[]');
          return;
        }
        const c = readCapture(PUBLIC);
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
        res.end(c.body);
      },
      '/mixed/api/v1/timelines/public': (req, res, url) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(url.searchParams.get('min_id') ? '[]' : brokenPage);
      },
      '/fail/api/v1/timelines/public': (req, res) => {
        res.writeHead(500, { 'content-type': 'text/html' });
        res.end('<h1>Internal Server Error</h1>');
      },
    });
    closedPort = await freePort(); // nothing listens here
    const dir = tmpDir();
    const config = path.join(dir, 'trendd.json');
    fs.writeFileSync(config, JSON.stringify({
      sources: [
        { kind: 'mastodon', name: 'good', url: fx.base + '/good', interval_s: 1 },
        { kind: 'mastodon', name: 'mixed', url: fx.base + '/mixed', interval_s: 1 },
        { kind: 'mastodon', name: 'fail', url: fx.base + '/fail', interval_s: 1 },
        { kind: 'mastodon', name: 'gone', url: `http://127.0.0.1:${closedPort}`, interval_s: 1 },
      ],
    }));
    t = await startTrendd(['--config', config]);
  });
  after(async () => {
    if (t) await t.stop();
    if (fx) await fx.close();
  });

  const source = async (name) => (await httpGet(t.base, '/api/sources')).json.find((s) => s.name === name);

  it('ingests a captured public timeline and advances the min_id cursor', async () => {
    const s = await waitFor(async () => {
      const x = await source('good');
      return x && x.status.posts_seen === statuses.length && x.status.polls >= 2 ? x : null;
    }, { what: 'good source polled twice' });
    assert.equal(s.status.state, 'ok');
    assert.equal(s.status.items_skipped, 0);
    // the cursor is the newest status id, and later polls ask for what is newer
    const newest = statuses.map((x) => x.id).sort((a, b) => (a.length - b.length) || (a < b ? -1 : a > b ? 1 : 0)).at(-1);
    assert.equal(s.status.cursor, newest);
    assert.ok(seenQueries.some((q) => q.includes(`min_id=${newest}`)), seenQueries.join(' '));
  });

  it('skips malformed statuses, counts them, and uses the rest of the page', async () => {
    const s = await waitFor(async () => {
      const x = await source('mixed');
      return x && x.status.polls >= 1 && x.status.posts_seen > 0 ? x : null;
    }, { what: 'mixed source polled' });
    assert.equal(s.status.items_skipped, 2);
    assert.equal(s.status.posts_seen, statuses.length - 2);
    assert.equal(s.status.state, 'ok');
  });

  it('reports HTTP errors in plain words and backs off', async () => {
    const s = await waitFor(async () => {
      const x = await source('fail');
      return x && x.status.consecutive_errors >= 2 ? x : null;
    }, { what: 'fail source retried' });
    assert.match(s.status.last_error, /500/);
    assert.ok(['backoff', 'error'].includes(s.status.state), s.status.state);
  });

  it('reports an unreachable source and keeps retrying with growing delays', async () => {
    const s = await waitFor(async () => {
      const x = await source('gone');
      return x && x.status.consecutive_errors >= 3 ? x : null;
    }, { timeout: 40000, what: 'unreachable source retried three times' });
    assert.match(s.status.last_error, /refused|connect/i);
    assert.ok(['backoff', 'error'].includes(s.status.state), s.status.state);
    // backoff: the next poll is further away than the base interval
    const gap = Date.parse(s.status.next_poll) - Date.parse(s.status.last_error_at);
    assert.ok(gap > 1000, `next poll ${gap} ms after the error`);
    // and the good source kept flowing meanwhile
    const good = await source('good');
    assert.equal(good.status.state, 'ok');
  });

  it('sends the posts through analytics into history', async () => {
    // The captured statuses are months old: behind the watermark, so they
    // skip the live windows and go straight to the per-minute history.
    const doc = await waitFor(async () => {
      const r = await httpGet(t.base, '/api/trends');
      return r.json?.stats?.late_posts >= statuses.length ? r.json : null;
    }, { what: 'late posts counted' });
    assert.ok(doc.stats.posts_total >= 2 * statuses.length - 2);
    // Months old: past the 48 h minute retention, so they are kept as day rows.
    const created = Date.parse(statuses[0].created_at);
    const day = created - (created % 86400000);
    await waitFor(() => {
      const n = execFileSync('sqlite3', [t.db,
        `SELECT count(*) FROM term_day WHERE day_ms = ${day};`]).toString();
      return parseInt(n, 10) > 0;
    }, { what: 'term_day rows for the day of the newest status' });
  });

  it('never dies on bad input and stops cleanly', async () => {
    const r = await httpGet(t.base, '/healthz');
    assert.equal(r.status, 200);
    const { code, signal } = await t.stop();
    assert.equal(code, 0, t.log().slice(-3000));
    assert.equal(signal, null);
    t = null;
  });
});
