// The sources API: add, read, edit, disable, poll now and delete sources
// without a restart, behind the admin token, with readable errors; changes
// are stored and survive a restart.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { BIN, fixtureServer, httpGet, readCapture, sleep, startTrendd, waitFor } from '../lib/harness.mjs';

describe('sources API', () => {
  let fx, t, token, id;
  const hits = { a: 0, b: 0 };

  const call = async (method, path, body, { auth = token, headers = {} } = {}) => {
    const h = { ...headers };
    if (auth) h.authorization = `Bearer ${auth}`;
    if (body !== undefined) h['content-type'] = 'application/json';
    const res = await fetch(t.base + path, {
      method, headers: h, body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
    });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, json, text };
  };
  const listed = async (sid) => (await httpGet(t.base, '/api/sources')).json.find((s) => s.id === sid);

  before(async () => {
    const page = readCapture('mastodon/timeline_public.http').body;
    const timeline = (key) => (req, res, url) => {
      hits[key]++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(url.searchParams.get('min_id') ? '[]' : page);
    };
    fx = await fixtureServer({
      '/a/api/v1/timelines/public': timeline('a'),
      '/b/api/v1/timelines/public': timeline('b'),
    });
    t = await startTrendd([]);
    token = fs.readFileSync(t.db + '.token', 'utf8').trim();
    assert.match(token, /^[0-9a-f]{48}$/);
    assert.equal(fs.statSync(t.db + '.token').mode & 0o777, 0o600);
  });
  after(async () => {
    if (t) await t.stop();
    if (fx) await fx.close();
  });

  it('refuses mutations without the right token or from another origin', async () => {
    const body = { kind: 'mastodon', name: 'x', url: fx.base + '/a' };
    let r = await call('POST', '/api/sources', body, { auth: null });
    assert.equal(r.status, 401);
    assert.match(r.json.error, /Bearer/);
    r = await call('POST', '/api/sources', body, { auth: 'f'.repeat(48) });
    assert.equal(r.status, 401);
    r = await call('POST', '/api/sources', body, { headers: { origin: 'http://evil.example' } });
    assert.equal(r.status, 403);
    assert.deepEqual((await httpGet(t.base, '/api/sources')).json, []);
  });

  it('rejects bad sources with readable errors', async () => {
    const cases = [
      ['{"kind":', /not JSON/],
      ['[1,2]', /JSON object/],
      [{ kind: 'gopher', name: 'g', url: 'http://127.0.0.1:1/' }, /unsupported source kind/],
      [{ kind: 'mastodon', name: 'm' }, /required/],
      [{ kind: 'mastodon', name: 'm', url: 'ftp://example.com/' }, /http/],
      [{ kind: 'mastodon', name: '', url: fx.base }, /name/],
      [{ kind: 'mastodon', name: 'm', url: fx.base, interval_s: 0 }, /interval_s/],
      [{ kind: 'mastodon', name: 'm', url: fx.base, params: [] }, /params/],
      [{ kind: 'mastodon', name: 'm', url: fx.base, colour: 'red' }, /unknown field/],
    ];
    for (const [body, re] of cases) {
      const r = await call('POST', '/api/sources', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.json.error, re, JSON.stringify(body));
    }
  });

  it('adds a source that starts polling at once', async () => {
    const name = 'Fixture "A" ☕ <b>&';
    const r = await call('POST', '/api/sources', {
      kind: 'mastodon', name, url: fx.base + '/a', interval_s: 3600,
      params: { timeline: 'public', limit: 40 },
    });
    assert.equal(r.status, 201, r.text);
    id = r.json.id;
    assert.ok(Number.isInteger(id) && id > 0);
    assert.equal(r.json.name, name);
    assert.equal(r.json.kind, 'mastodon');
    assert.deepEqual(r.json.params, { timeline: 'public', limit: 40 });
    const s = await waitFor(async () => {
      const x = await listed(id);
      return x && x.status.posts_seen > 0 ? x : null;
    }, { what: 'the new source polled' });
    assert.equal(s.name, name);
    assert.equal(s.status.state, 'ok');
    const again = await call('POST', '/api/sources', { kind: 'mastodon', name, url: fx.base + '/a' });
    assert.equal(again.status, 409);
    assert.match(again.json.error, /already exists/);
  });

  it('reads one source, and 404s for others', async () => {
    const r = await call('GET', `/api/sources/${id}`, undefined, { auth: null });
    assert.equal(r.status, 200);
    assert.equal(r.json.id, id);
    assert.equal((await call('GET', '/api/sources/999999')).status, 404);
    assert.equal((await call('GET', '/api/sources/abc')).status, 404);
    assert.equal((await call('PUT', `/api/sources/${id}`, {})).status, 405);
  });

  it('polls now on request', async () => {
    const before = (await listed(id)).status.polls;
    const r = await call('POST', `/api/sources/${id}/poll`);
    assert.equal(r.status, 202);
    await waitFor(async () => (await listed(id)).status.polls > before, { what: 'a poll on request' });
    assert.equal((await call('POST', '/api/sources/424242/poll')).status, 404);
  });

  it('edits and disables a source', async () => {
    let r = await call('PATCH', `/api/sources/${id}`, { url: fx.base + '/b', interval_s: 1 });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.url, fx.base + '/b');
    await waitFor(() => hits.b > 0, { what: 'the edited URL polled' });
    r = await call('PATCH', `/api/sources/${id}`, { enabled: false });
    assert.equal(r.status, 200);
    await waitFor(async () => (await listed(id))?.status.state === 'disabled', { what: 'disabled' });
    const b = hits.b;
    await sleep(2500);
    assert.equal(hits.b, b, 'a disabled source is not polled');
    assert.equal((await call('PATCH', '/api/sources/999999', { enabled: true })).status, 404);
    assert.equal((await call('PATCH', `/api/sources/${id}`, { interval_s: 'soon' })).status, 400);
  });

  it('keeps sources across a restart, then deletes them', async () => {
    const port = t.port, db = t.db;
    await t.stop();
    t = await startTrendd([], { port, db });
    const s = await waitFor(() => listed(id), { what: 'the stored source after restart' });
    assert.equal(s.url, fx.base + '/b');
    assert.equal(s.enabled, false);
    const r = await call('DELETE', `/api/sources/${id}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { id, deleted: true });
    await waitFor(async () => !(await listed(id)), { what: 'the source gone from the list' });
    assert.equal((await call('DELETE', `/api/sources/${id}`)).status, 404);
    const rows = execFileSync('sqlite3', [db, 'SELECT count(*) FROM sources;']).toString();
    assert.equal(parseInt(rows, 10), 0);
  });

  it('rotates the admin token', async () => {
    const fresh = execFileSync(BIN, ['token', '--rotate', '--db', t.db]).toString().trim();
    assert.notEqual(fresh, token);
    t.proc.kill('SIGHUP');
    await waitFor(async () => (await call('POST', '/api/sources/1/poll', undefined, { auth: fresh })).status === 404,
      { what: 'the new token accepted' });
    assert.equal((await call('POST', '/api/sources/1/poll')).status, 401);
    token = fresh;
  });
});
