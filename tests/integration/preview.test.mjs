// POST /api/sources/preview against the real binary: trendd fetches a source
// once from a local fixture server and answers what the kind's parser makes of
// it, stores nothing, answers fetch failures with 422 in plain words, bad
// bodies with 400, and more test fetches than it runs at once with 503.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fixtureServer, httpGet, startTrendd, waitFor } from '../lib/harness.mjs';

describe('source preview', { timeout: 120000 }, () => {
  let fx, t, token;
  const hung = [];

  const preview = async (body, { auth = token, headers = {} } = {}) => {
    const h = { 'content-type': 'application/json', ...headers };
    if (auth) h.authorization = `Bearer ${auth}`;
    const res = await fetch(t.base + '/api/sources/preview', {
      method: 'POST', headers: h, body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, headers: res.headers, json, text };
  };

  before(async () => {
    fx = await fixtureServer({
      '/bbc.rss': (req, res) => {
        res.writeHead(200, { 'content-type': 'application/rss+xml' });
        res.end(fs.readFileSync(new URL('../fixtures/feeds/real/rss2/rss_2.0_bbc.xml', import.meta.url)));
      },
      '/m/api/v1/timelines/public': 'mastodon/timeline_public.http',
      '/gone': (req, res) => { res.writeHead(410, { 'content-type': 'text/plain' }); res.end('gone'); },
      '/page.html': (req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><html><body>not a feed</body></html>');
      },
      '/slow': (req, res) => { hung.push(res); },
    });
    t = await startTrendd([]);
    token = fs.readFileSync(t.db + '.token', 'utf8').trim();
  });
  after(async () => {
    for (const res of hung) res.destroy();
    if (t) await t.stop();
    if (fx) await fx.close();
  });

  it('fetches an RSS feed once and answers its document and posts', async () => {
    const before = fx.hits['/bbc.rss'] || 0;
    const r = await preview({ kind: 'rss', name: 'bbc', url: `${fx.base}/bbc.rss` });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.deepEqual(r.json.document, { title: 'In Our Time', format: 'rss', wellformed: true, error: null });
    assert.ok(r.json.posts.length >= 1 && r.json.posts.length <= 20);
    const p = r.json.posts[0];
    assert.deepEqual(Object.keys(p).sort(), ['author', 'created_at', 'id', 'lang', 'text', 'title', 'url']);
    assert.equal(p.id, 'urn:bbc:podcast:m000sjxt');
    assert.equal(p.title, 'Marcus Aurelius');
    assert.equal(p.created_at, '2021-02-25T10:15:00Z');
    assert.equal(fx.hits['/bbc.rss'], before + 1);
    // nothing stored, nothing polled afterwards
    assert.deepEqual((await httpGet(t.base, '/api/sources')).json, []);
  });

  it('previews a Mastodon timeline through its API path', async () => {
    const r = await preview({ kind: 'mastodon', name: 'm', url: `${fx.base}/m`, params: { timeline: 'public' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.document.format, 'mastodon');
    assert.equal(r.json.posts.length, 8);
    assert.ok(r.json.posts.every((p) => typeof p.text === 'string' && p.author.length > 0));
  });

  it('answers fetch failures with 422 in plain words', async () => {
    let r = await preview({ kind: 'rss', name: 'x', url: `${fx.base}/gone` });
    assert.equal(r.status, 422);
    assert.deepEqual(r.json, { error: 'HTTP 410 Gone' });
    r = await preview({ kind: 'rss', name: 'x', url: `${fx.base}/page.html` });
    assert.equal(r.status, 422);
    assert.match(r.json.error, /^not a feed/);
    r = await preview({ kind: 'rss', name: 'x', url: 'http://127.0.0.1:1/feed' });
    assert.equal(r.status, 422);
    assert.equal(r.json.error, 'connection refused');
    r = await preview({ kind: 'jetstream', name: 'j', url: 'wss://jetstream.example/subscribe' });
    assert.equal(r.status, 422);
    assert.equal(r.json.error, 'preview is not available for streaming sources');
  });

  it('refuses bad bodies with 400 and mutations without the token or from another origin', async () => {
    let r = await preview('{"kind":');
    assert.equal(r.status, 400);
    assert.match(r.json.error, /not JSON/);
    r = await preview({ kind: 'gopher', name: 'g', url: 'http://x.example/' });
    assert.equal(r.status, 400);
    assert.match(r.json.error, /unsupported source kind/);
    r = await preview({ kind: 'rss', name: 'f', url: 'ftp://x.example/feed' });
    assert.equal(r.status, 400);
    assert.match(r.json.error, /http/);
    r = await preview({ kind: 'rss', url: `${fx.base}/bbc.rss` }, { auth: null });
    assert.equal(r.status, 401);
    r = await preview({ kind: 'rss', url: `${fx.base}/bbc.rss` }, { headers: { origin: 'http://evil.example' } });
    assert.equal(r.status, 403);
  });

  it('runs at most 4 test fetches at once and answers 503 with Retry-After beyond', async () => {
    const slow = { kind: 'rss', name: 's', url: `${fx.base}/slow`, params: { timeout_s: 2 } };
    const pending = [1, 2, 3, 4].map(() => preview(slow));
    await waitFor(() => hung.length >= 1, { timeout: 10000, what: 'the first slow fetch' });
    await waitFor(async () => {
      const r = await preview(slow);
      if (r.status !== 503) throw new Error(`status ${r.status}`);
      assert.equal(r.headers.get('retry-after'), '1');
      assert.match(r.json.error, /too many test fetches/);
      return true;
    }, { timeout: 5000, interval: 50, what: 'a 503' });
    const answers = await Promise.all(pending);
    for (const r of answers) {
      assert.equal(r.status, 422);
      assert.equal(r.json.error, 'timed out after 2 s');
    }
    // the worker is free again
    const r = await preview({ kind: 'rss', name: 'bbc', url: `${fx.base}/bbc.rss` });
    assert.equal(r.status, 200);
  });
});
