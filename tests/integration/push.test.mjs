// POST /api/ingest: NDJSON posts for a push source, acknowledged once they
// are durable, idempotent by (source, id), per-line errors; an acknowledged
// post shows in history at once and survives kill -9 counted exactly once.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { httpGet, startTrendd, waitFor } from '../lib/harness.mjs';

describe('push ingestion (POST /api/ingest)', () => {
  let t, token;
  const minute = Math.floor(Date.now() / 60000) * 60000;
  const created = new Date(minute + 1000).toISOString();

  const call = async (method, path, body, { auth = token, type = 'application/json' } = {}) => {
    const headers = { 'content-type': type };
    if (auth) headers.authorization = `Bearer ${auth}`;
    const res = await fetch(t.base + path, { method, headers, body });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, json, text };
  };
  const line = (id, author, text) => JSON.stringify({ id, author, text, created_at: created, lang: 'en' });
  // Count of #pushtrend in the minute the posts are dated, over the history API.
  const historyCount = async () => {
    const from = new Date(minute).toISOString(), to = new Date(minute + 120000).toISOString();
    const r = await httpGet(t.base, `/api/terms/%23pushtrend?from=${from}&to=${to}&step=1m`);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json.points.reduce((s, p) => s + p.count, 0);
  };

  before(async () => {
    t = await startTrendd(['--lateness', '3000', '--checkpoint-ms', '500']);
    token = fs.readFileSync(t.db + '.token', 'utf8').trim();
    let r = await call('POST', '/api/sources', JSON.stringify({ kind: 'push', name: 'pushy' }));
    assert.equal(r.status, 201, r.text);
    r = await call('POST', '/api/sources', JSON.stringify({ kind: 'mastodon', name: 'polled', url: 'http://127.0.0.1:9' }));
    assert.equal(r.status, 201, r.text);
    await waitFor(async () => (await httpGet(t.base, '/api/sources')).json.length === 2, { what: 'both sources listed' });
  });
  after(async () => { if (t) await t.stop(); });

  it('refuses requests without the token, without a push source, or for another kind', async () => {
    const body = line('x', 'a', 'hi');
    assert.equal((await call('POST', '/api/ingest?source=pushy', body, { auth: null })).status, 401);
    let r = await call('POST', '/api/ingest', body);
    assert.equal(r.status, 400);
    assert.match(r.json.error, /source=NAME/);
    assert.equal((await call('POST', '/api/ingest?source=nope', body)).status, 404);
    r = await call('POST', '/api/ingest?source=polled', body);
    assert.equal(r.status, 409);
    assert.match(r.json.error, /not a push source/);
    assert.equal((await call('GET', '/api/ingest?source=pushy')).status, 405);
  });

  it('accepts good lines, reports bad ones by number, and counts them in history at once', async () => {
    const body = [
      line('p1', 'alice', 'Loving the #pushtrend today'),
      line('p2', 'bob', 'the #pushtrend is great'),
      '{"id":"bad","text":"no time"}',
      line('p3', 'carol', 'so #pushtrend'),
      line('p1', 'alice', 'Loving the #pushtrend today'),
    ].join('\n') + '\n';
    const r = await call('POST', '/api/ingest?source=pushy', body, { type: 'application/x-ndjson' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.accepted, 3);
    assert.deepEqual(r.json.duplicates, 1);
    assert.equal(r.json.errors.length, 1);
    assert.equal(r.json.errors[0].line, 3);
    assert.match(r.json.errors[0].error, /created_at/);
    // acknowledged: the open minute already has them
    assert.equal(await historyCount(), 3);
  });

  it('is idempotent: sending the same posts again changes nothing', async () => {
    const body = [line('p1', 'alice', 'Loving the #pushtrend today'), line('p2', 'bob', 'the #pushtrend is great')].join('\n');
    const r = await call('POST', '/api/ingest?source=pushy', body);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.accepted, 0);
    assert.equal(r.json.duplicates, 2);
    assert.equal(await historyCount(), 3);
  });

  it('keeps acknowledged posts through kill -9, counted exactly once', async () => {
    const body = [line('k1', 'dave', 'late #pushtrend'), line('k2', 'erin', 'more #pushtrend')].join('\n');
    const r = await call('POST', '/api/ingest?source=pushy', body);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.accepted, 2);
    // no time for a checkpoint: the posts are only in the log
    const { port, db } = t;
    t.proc.kill('SIGKILL');
    await t.exited;
    t = await startTrendd(['--lateness', '3000', '--checkpoint-ms', '500'], { port, db });
    await waitFor(async () => (await historyCount()) === 5, { what: 'the five pushed posts after the restart' });
    // and they stay five after another checkpoint and a clean restart
    await new Promise((res) => setTimeout(res, 1500));
    await t.stop();
    t = await startTrendd(['--lateness', '3000', '--checkpoint-ms', '500'], { port, db });
    await new Promise((res) => setTimeout(res, 1500));
    assert.equal(await historyCount(), 5);
  });
});
