// docs/API.md is a contract: every example request in it runs here, in the
// order written, against a live `trendd --demo`, and the answer must have the
// documented status and the shape of the documented response.
//
// An example is a fenced block tagged `http request status=NNN`: a request
// line, optional headers, a blank line and an optional body. $TOKEN (the admin
// token) and $DEMO_URL (the demo source's URL) are filled in. The block after
// it may be `json response-shape` (the answer has every key shown, with a
// value of the same JSON type, recursively; an array's first element is the
// shape of the answer's elements; null matches any value; keys starting with
// "…" are prose) or `text response-start` (the answer starts with its first line).
//
// A `ws session` block is a WebSocket conversation on /ws: `→ {json}` is sent,
// `← {json}` is the shape of the next received message of that "type".
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { TOP, httpGet, startTrendd, waitFor } from '../lib/harness.mjs';

const DOC = path.join(TOP, 'docs/API.md');

/* The examples of the document, in order. */
export function extractExamples(md) {
  const blocks = [];
  // fences may be indented (inside a list): the indentation is not part of the text
  const re = /^([ \t]*)```([^\n]*)\n([\s\S]*?)^[ \t]*```[ \t]*$/gm;
  for (let m; (m = re.exec(md));) {
    const text = m[3].split('\n').map((l) => (l.startsWith(m[1]) ? l.slice(m[1].length) : l)).join('\n');
    blocks.push({ info: m[2].trim(), text, at: md.slice(0, m.index).split('\n').length });
  }
  const out = [];
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i];
    const m = /^http request status=(\d{3})$/.exec(b.info);
    if (!m) continue;
    const [head, ...rest] = b.text.split(/\r?\n\r?\n/);
    const lines = head.split('\n').filter((l) => l.length);
    const [method, target] = lines[0].split(' ');
    const headers = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
    }
    const body = rest.join('\n\n').replace(/\n$/, '');
    const ex = { line: b.at, method, target, headers, body: body.length ? body : undefined, status: Number(m[1]) };
    const next = blocks[i + 1];
    if (next && next.info === 'json response-shape') ex.shape = JSON.parse(next.text);
    if (next && next.info === 'text response-start') ex.start = next.text.split('\n')[0];
    out.push(ex);
  }
  return out;
}

/* The lines of the `ws session` blocks: [{ dir: '→'|'←', msg, line }]. */
export function extractWsSessions(md) {
  const sessions = [];
  const re = /^```ws session\n([\s\S]*?)^```[ \t]*$/gm;
  for (let m; (m = re.exec(md));) {
    const at = md.slice(0, m.index).split('\n').length;
    sessions.push(m[1].split('\n').map((l, i) => ({ l, line: at + 1 + i })).filter(({ l }) => l.trim())
      .map(({ l, line }) => ({ dir: l.trim()[0], msg: JSON.parse(l.trim().slice(1)), line })));
  }
  return sessions;
}

const typeOf = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/* Returns the first way actual does not have the shape, or null. */
export function shapeMismatch(shape, actual, where = '$') {
  if (shape === null) return null;
  if (typeOf(shape) !== typeOf(actual)) return `${where}: ${typeOf(actual)}, documented ${typeOf(shape)}`;
  if (Array.isArray(shape)) {
    if (shape.length && actual.length) {
      for (let i = 0; i < actual.length; i++) {
        const why = shapeMismatch(shape[0], actual[i], `${where}[${i}]`);
        if (why) return why;
      }
    }
    return null;
  }
  if (typeof shape === 'object') {
    for (const [k, v] of Object.entries(shape)) {
      if (k.startsWith('…')) continue;
      if (!(k in actual)) return `${where}.${k}: missing`;
      const why = shapeMismatch(v, actual[k], `${where}.${k}`);
      if (why) return why;
    }
  }
  return null;
}

/* What DESIGN §6 lists (and this trendd serves): each needs a documented, runnable example. */
const ENDPOINTS = [
  ['GET', /^\/api\/trends(\?|$)/], ['GET', /^\/api\/terms\/[^/?]+/], ['GET', /^\/api\/terms\?/],
  ['GET', /^\/api\/terms\/[^/?]+\/related/],
  ['GET', /^\/api\/history\/top/], ['GET', /^\/api\/sentiment/], ['GET', /^\/api\/snapshots/],
  ['GET', /^\/api\/export\.csv/], ['GET', /^\/api\/sources$/], ['POST', /^\/api\/sources$/],
  ['GET', /^\/api\/sources\/\d+$/], ['PATCH', /^\/api\/sources\/\d+$/],
  ['DELETE', /^\/api\/sources\/\d+$/], ['POST', /^\/api\/sources\/\d+\/poll$/],
  ['POST', /^\/api\/sources\/preview$/], ['GET', /^\/healthz$/], ['GET', /^\/metrics$/],
  ['POST', /^\/api\/ingest\?source=/],
];

describe('docs/API.md examples', { timeout: 180000 }, () => {
  const md = fs.readFileSync(DOC, 'utf8');
  const examples = extractExamples(md);
  let t, token, demoUrl;

  before(async () => {
    t = await startTrendd(['--demo']);
    token = fs.readFileSync(t.db + '.token', 'utf8').trim();
    // a snapshot, a stored minute and a polled demo source, as the examples assume
    await waitFor(async () => (await httpGet(t.base, '/api/trends')).status === 200, { what: 'a snapshot' });
    await waitFor(async () => {
      const s = (await httpGet(t.base, '/api/sources')).json;
      return s?.[0]?.status?.last_ok && s[0].status.next_poll && s[0].status.posts_seen > 0;
    }, { what: 'the demo source polled' });
    await waitFor(async () => (await httpGet(t.base, '/api/snapshots')).status === 200, { what: 'a stored snapshot' });
    await waitFor(async () => (await httpGet(t.base, '/healthz')).json?.db !== null, { what: 'the db status' });
    demoUrl = (await httpGet(t.base, '/api/sources')).json[0].url;
  });
  after(async () => {
    if (t) await t.stop();
  });

  it('has examples for every endpoint, errors included', () => {
    assert.ok(examples.length >= 25, `only ${examples.length} examples`);
    for (const [method, re] of ENDPOINTS) {
      assert.ok(examples.some((e) => e.method === method && re.test(e.target)), `no ${method} ${re} example`);
    }
    for (const status of [200, 201, 202, 304, 400, 401, 403, 404, 405, 409, 422, 426]) {
      assert.ok(examples.some((e) => e.status === status), `no example answering ${status}`);
    }
  });

  it('the shape checker catches what it should', () => {
    assert.equal(shapeMismatch({ a: 1, b: [{ c: 's' }] }, { a: 2, b: [{ c: 'x' }, { c: 'y' }], z: 1 }), null);
    assert.match(shapeMismatch({ a: 1 }, { a: '1' }), /\$\.a: string, documented number/);
    assert.match(shapeMismatch({ b: [{ c: 's' }] }, { b: [{ c: 's' }, {}] }), /\$\.b\[1\]\.c: missing/);
    assert.equal(shapeMismatch({ a: null }, { a: { deep: 1 } }), null);
  });

  it('cacheable answers carry an ETag that If-None-Match turns into a 304', async () => {
    const paths = ['/api/trends?kind=hashtag', '/api/sources', '/api/history/top?kind=word&limit=3',
      '/api/sentiment?window=1h', '/api/export.csv?what=top&limit=3', '/app.js'];
    for (const p of paths) {
      // the live answers change every second: a few tries see one stay the same
      let seen = false;
      for (let i = 0; i < 5 && !seen; i++) {
        const first = await fetch(t.base + p);
        await first.text();
        assert.equal(first.status, 200, p);
        const tag = first.headers.get('etag');
        assert.match(tag ?? '', /^"[^"]+"$/, `${p}: ETag ${tag}`);
        assert.match(first.headers.get('cache-control') ?? '', /no-cache|max-age/, p);
        const again = await fetch(t.base + p, { headers: { 'if-none-match': `W/"other", ${tag}` } });
        const body = await again.text();
        if (again.status === 200) {
          assert.notEqual(again.headers.get('etag'), tag, `${p}: same tag, yet a 200`);
          continue;
        }
        assert.equal(again.status, 304, p);
        assert.equal(body, '', p);
        assert.equal(again.headers.get('etag'), tag, p);
        seen = true;
      }
      assert.ok(seen, `${p}: never a 304`);
    }
  });

  it('the WebSocket session runs as documented', async () => {
    const sessions = extractWsSessions(md);
    assert.ok(sessions.length >= 1 && sessions[0].length >= 6, 'no ws session in docs/API.md');
    for (const steps of sessions) {
      const ws = new WebSocket(`ws://127.0.0.1:${t.port}/ws`, 'trendd.v1');
      const inbox = [];
      ws.on('message', (d) => inbox.push(JSON.parse(d.toString())));
      await new Promise((res, rej) => { ws.on('open', res); ws.on('error', rej); });
      for (const step of steps) {
        const where = `docs/API.md:${step.line}`;
        if (step.dir === '→') {
          ws.send(JSON.stringify(step.msg));
          continue;
        }
        assert.equal(step.dir, '←', `${where}: a line starts with → or ←`);
        const got = await waitFor(() => {
          const i = inbox.findIndex((m) => m.type === step.msg.type);
          return i < 0 ? null : inbox.splice(0, i + 1).at(-1);
        }, { timeout: 10000, interval: 20, what: `${where}: a ${step.msg.type} message` });
        const why = shapeMismatch(step.msg, got);
        assert.equal(why, null, `${where}: ${why}\n${JSON.stringify(got).slice(0, 400)}`);
        if (step.msg.type === 'error') assert.equal(got.error, step.msg.error, where);
      }
      ws.close();
    }
  });

  it('every example answers as documented', async () => {
    const fill = (s) => s?.replaceAll('$TOKEN', token).replaceAll('$DEMO_URL', demoUrl);
    for (const ex of examples) {
      const where = `docs/API.md:${ex.line} ${ex.method} ${ex.target}`;
      const headers = Object.fromEntries(Object.entries(ex.headers).map(([k, v]) => [k, fill(v)]));
      const res = await fetch(t.base + fill(ex.target), { method: ex.method, headers, body: fill(ex.body) });
      const text = await res.text();
      assert.equal(res.status, ex.status, `${where}: status ${res.status}, documented ${ex.status}: ${text.slice(0, 300)}`);
      if (ex.status === 304) {
        assert.equal(text, '', `${where}: a 304 has no body`);
        continue;
      }
      if (ex.start !== undefined) {
        assert.ok(text.startsWith(ex.start), `${where}: answer starts ${JSON.stringify(text.slice(0, 120))}`);
        continue;
      }
      if (ex.method === 'HEAD') continue;
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/, `${where}: not JSON`);
      const json = JSON.parse(text);
      if (ex.status >= 400) {
        assert.equal(typeof json.error, 'string', `${where}: an error is {"error":"…"}`);
        assert.ok(json.error.length > 0);
      }
      if (ex.shape !== undefined) {
        const why = shapeMismatch(ex.shape, json);
        assert.equal(why, null, `${where}: ${why}\n${text.slice(0, 600)}`);
      }
    }
  });
});
