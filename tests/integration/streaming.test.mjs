// Streamed sources end to end: a Mastodon streaming server (Server-Sent
// Events, the captured stream plus generated statuses) that drops the
// connection mid-event and restarts, and a Jetstream server (WebSocket,
// replaying the captured corpus) that dies mid-stream. trendd reconnects,
// catches up (REST for Mastodon, cursor= for Jetstream), and every post
// sent is counted exactly once: in the source's status, in the analytics
// totals and in the trend counts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { WebSocketServer } from 'ws';
import { BIN, FIXTURES, freePort, httpGet, readCapture, sleep, startTrendd, tmpDir, waitFor } from '../lib/harness.mjs';

const run = promisify(execFile);

async function startWithSources(sources) {
  const dir = tmpDir();
  const config = path.join(dir, 'trendd.json');
  fs.writeFileSync(config, JSON.stringify({ sources }));
  return startTrendd(['--config', config]);
}

const sourceNamed = async (t, name) => (await httpGet(t.base, '/api/sources')).json.find((s) => s.name === name);

// Waits until the status of source `name` passes check; returns it.
const waitSource = (t, name, check, what, timeout = 20000) =>
  waitFor(async () => {
    const s = await sourceNamed(t, name);
    return s && check(s.status) ? s : null;
  }, { timeout, interval: 100, what });

const trendCount = async (t, term) => {
  const r = await httpGet(t.base, '/api/trends?window=5m&kind=hashtag&sort=count&limit=50');
  return r.json?.trends?.find((x) => x.term === term)?.count ?? 0;
};

describe('mastodon streaming (SSE) with REST catch-up', () => {
  const BASE_ID = 117024237000000000n;
  const GENERATED = 35;
  const CAPTURED_UPDATES = 2; // stream_user.http: two updates, the rest ignored
  let t, port, server;
  const sockets = new Set();
  const streams = [];     // responses of open streams
  const requests = [];    // request URLs, in order
  const timeline = [];    // statuses the REST API knows, oldest first

  const id = (n) => String(BASE_ID + BigInt(n));
  const status = (n) => ({
    id: id(n), created_at: new Date().toISOString(), language: 'en',
    url: `https://m.example/@gen/${id(n)}`, uri: `https://m.example/statuses/${id(n)}`,
    content: `<p>generated status ${n} #streamtest</p>`, spoiler_text: '', reblog: null,
    account: { id: String(n % 9), acct: `u${n % 9}`, url: `https://m.example/@u${n % 9}` },
  });
  const publish = (from, to) => { for (let n = from; n <= to; n++) timeline.push(status(n)); };
  const sendUpdate = (res, n) => res.write(`event: update\ndata: ${JSON.stringify(status(n))}\n\n`);

  function handler(req, res) {
    const url = new URL(req.url, 'http://x');
    requests.push(req.url);
    if (url.pathname === '/api/v1/streaming/public') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      res.write(':)\n');
      streams.push(res);
      return;
    }
    if (url.pathname === '/api/v1/timelines/public') {
      const limit = Number(url.searchParams.get('limit') || 20);
      const minId = BigInt(url.searchParams.get('min_id') || '0');
      const page = timeline.filter((s) => BigInt(s.id) > minId).slice(0, limit).reverse();
      const headers = { 'content-type': 'application/json; charset=utf-8' };
      if (page.length) {
        const here = `http://127.0.0.1:${port}/api/v1/timelines/public?limit=${limit}`;
        headers.link = `<${here}&max_id=${page.at(-1).id}>; rel="next", <${here}&min_id=${page[0].id}>; rel="prev"`;
      }
      res.writeHead(200, headers);
      res.end(JSON.stringify(page));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"Record not found"}');
  }

  async function listen() {
    server = http.createServer(handler);
    server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
    await new Promise((r) => server.listen(port, '127.0.0.1', r));
  }

  async function kill() {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
    streams.length = 0;
  }

  before(async () => {
    port = await freePort();
    await listen();
    t = await startWithSources([{ kind: 'mastodon', name: 'live', url: `http://127.0.0.1:${port}`,
      interval_s: 1, params: { stream: 'public', limit: 5 } }]);
  });
  after(async () => {
    if (t) await t.stop();
    await kill().catch(() => {});
  });

  it('streams the captured events, reconnects after drops and a restart, and counts each status once', async () => {
    await waitFor(() => streams.length === 1, { what: 'first stream' });
    const first = streams[0];
    // The captured stream, byte for byte (its own framing), in small pieces.
    const captured = readCapture('mastodon/stream_user.http').body;
    for (let i = 0; i < captured.length; i += 333) first.write(captured.subarray(i, i + 333));
    first.write('\n'); // the capture ends inside a heartbeat (":"); this ends that line
    publish(1, 10);
    for (let n = 1; n <= 10; n++) sendUpdate(first, n);
    await waitSource(t, 'live', (s) => s.posts_seen === CAPTURED_UPDATES + 10, '12 posts streamed');

    // Status 11 is cut off mid-event; 11..20 are published while the stream is down.
    publish(11, 20);
    first.write(`event: update\ndata: ${JSON.stringify(status(11)).slice(0, 80)}`);
    first.socket.destroy();
    await waitFor(() => streams.length === 2, { what: 'reconnect after the drop' });
    sendUpdate(streams[1], 20); // the catch-up finds it too
    await waitSource(t, 'live', (s) => s.posts_seen === CAPTURED_UPDATES + 20, 'catch-up to 20');

    // The server goes away entirely, 21..30 appear meanwhile, and it comes back.
    await kill();
    publish(21, 30);
    const down = await waitSource(t, 'live', (s) => s.state === 'backoff', 'backoff while down');
    assert.match(down.status.last_error, /stream/);
    await sleep(1500);
    await listen();
    await waitFor(() => streams.length === 1, { timeout: 20000, what: 'reconnect after restart' });
    publish(31, GENERATED);
    for (let n = 29; n <= GENERATED; n++) sendUpdate(streams[0], n); // 29, 30 again

    const s = await waitSource(t, 'live',
      (st) => st.posts_seen >= CAPTURED_UPDATES + GENERATED && st.cursor === id(GENERATED),
      'every status counted');
    await sleep(1500); // anything counted twice would show up by now
    const again = await sourceNamed(t, 'live');
    assert.equal(again.status.posts_seen, CAPTURED_UPDATES + GENERATED);
    assert.equal(again.status.items_skipped, 0);
    assert.equal(again.status.state, 'ok');
    assert.equal(again.status.next_poll, null);
    assert.equal(again.status.stream.connected, true);
    assert.ok(again.status.stream.connects >= 3, JSON.stringify(again.status.stream));
    assert.ok(again.status.stream.catchup_pages >= 3, JSON.stringify(again.status.stream));
    assert.equal(s.status.cursor, id(GENERATED));

    // The catch-ups started right after the last status seen and followed the Link headers.
    assert.ok(requests.includes(`/api/v1/timelines/public?limit=5&min_id=${id(10)}`), requests.join('\n'));
    assert.ok(requests.some((u) => u.includes(`min_id=${id(15)}`)), requests.join('\n'));

    // Analytics saw each post once: the totals and the hashtag count agree.
    const doc = await waitFor(async () => {
      const r = await httpGet(t.base, '/api/trends');
      return r.json?.stats?.posts_total >= CAPTURED_UPDATES + GENERATED ? r.json : null;
    }, { what: 'posts through analytics' });
    assert.equal(doc.stats.posts_total, CAPTURED_UPDATES + GENERATED);
    await waitFor(async () => (await trendCount(t, '#streamtest')) === GENERATED,
      { what: `#streamtest counted ${GENERATED} times` });

    // A stream open at shutdown does not hold trendd up.
    const { code, signal } = await t.stop();
    assert.equal(code, 0, t.log().slice(-3000));
    assert.equal(signal, null);
    t = null;
  });
});

describe('bluesky jetstream (WebSocket) resuming from its cursor', () => {
  const corpus = fs.readFileSync(path.join(FIXTURES, 'jetstream/corpus_expected_v1.jsonl'), 'utf8')
    .split('\n').filter((l) => l.trim());
  const events = corpus.map((l) => JSON.parse(l));
  const isPost = (e) => e.kind === 'commit' && e.commit.operation === 'create' &&
    e.commit.collection === 'app.bsky.feed.post';
  const CUT = 100;
  const FRESH = 5;
  let t, wss;
  const conns = []; // { url, ws }

  // Posts made now, so that they reach the live windows.
  const fresh = (i) => JSON.stringify({
    did: `did:plc:fresh${i}`, time_us: 1783175888500000 + i, kind: 'commit',
    commit: { rev: 'r', operation: 'create', collection: 'app.bsky.feed.post', rkey: `3fresh${i}`,
      record: { $type: 'app.bsky.feed.post', text: `fresh post ${i} #jetstreamtest`,
        createdAt: new Date().toISOString(), langs: ['en'] } },
  });

  before(async () => {
    const port = await freePort();
    wss = new WebSocketServer({ host: '127.0.0.1', port });
    wss.on('connection', (ws, req) => conns.push({ url: req.url, ws }));
    await new Promise((r) => wss.once('listening', r));
    t = await startWithSources([{ kind: 'jetstream', name: 'bsky',
      url: `ws://127.0.0.1:${port}/subscribe`, interval_s: 1 }]);
  });
  after(async () => {
    if (t) await t.stop();
    for (const c of conns) c.ws.terminate();
    await new Promise((r) => wss.close(r));
  });

  it('replays the corpus, survives the server dying mid-stream and counts every post once', async () => {
    await waitFor(() => conns.length === 1, { what: 'first connection' });
    const u1 = new URL(conns[0].url, 'http://x');
    assert.equal(u1.pathname, '/subscribe');
    assert.deepEqual(u1.searchParams.getAll('wantedCollections'), ['app.bsky.feed.post']);
    assert.equal(u1.searchParams.get('cursor'), null);

    const first = events.slice(0, CUT);
    for (const line of corpus.slice(0, CUT)) conns[0].ws.send(line);
    const before = first.filter(isPost).length;
    await waitSource(t, 'bsky', (s) => s.posts_seen === before, `${before} posts before the drop`);
    conns[0].ws.terminate(); // no close frame: the server died

    await waitFor(() => conns.length === 2, { what: 'reconnect' });
    const u2 = new URL(conns[1].url, 'http://x');
    const maxSeen = Math.max(...first.map((e) => e.time_us));
    const cursor = Number(u2.searchParams.get('cursor'));
    assert.equal(cursor, maxSeen - 5_000_000, conns[1].url);
    assert.deepEqual(u2.searchParams.getAll('wantedCollections'), ['app.bsky.feed.post']);
    // Jetstream replays from the cursor: here that is the whole corpus again, then new posts.
    corpus.forEach((line, i) => { if (events[i].time_us >= cursor) conns[1].ws.send(line); });
    for (let i = 0; i < FRESH; i++) conns[1].ws.send(fresh(i));

    const total = events.filter(isPost).length + FRESH;
    assert.equal(total, 22);
    await waitSource(t, 'bsky', (s) => s.posts_seen >= total, 'every post');
    await sleep(1000);
    const s = await sourceNamed(t, 'bsky');
    assert.equal(s.status.posts_seen, total);
    assert.equal(s.status.items_skipped, 0);
    assert.equal(s.status.state, 'ok');
    assert.equal(s.status.stream.connects, 2);
    assert.equal(s.status.stream.duplicates, before);
    assert.equal(s.status.stream.resumed_from, cursor);
    assert.equal(s.status.polls, 2);
    await waitSource(t, 'bsky', (st) => st.cursor === String(1783175888500000 + FRESH - 1), 'cursor saved');

    const doc = await waitFor(async () => {
      const r = await httpGet(t.base, '/api/trends');
      return r.json?.stats?.posts_total >= total ? r.json : null;
    }, { what: 'posts through analytics' });
    assert.equal(doc.stats.posts_total, total);
    await waitFor(async () => (await trendCount(t, '#jetstreamtest')) === FRESH,
      { what: `#jetstreamtest counted ${FRESH} times` });

    const { code, signal } = await t.stop();
    assert.equal(code, 0, t.log().slice(-3000));
    assert.equal(signal, null);
    t = null;
  });
});

describe('trendd parse --format jetstream', () => {
  it('reads a JSONL file of events, with or without --format', async () => {
    const file = path.join(FIXTURES, 'jetstream/corpus_expected_v1.jsonl');
    for (const args of [['--format', 'jetstream', file], [file]]) {
      const { stdout } = await run(BIN, ['parse', ...args]);
      const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(lines[0], { type: 'document', format: 'jetstream', wellformed: true,
        error: null, title: '' });
      const posts = lines.slice(1);
      assert.equal(posts.length, 17);
      assert.deepEqual(posts[0], {
        type: 'post', id: 'at://did:plc:dclwtltrt2ggsryagfzk7dp4/app.bsky.feed.post/3mptbyoeyc22k',
        url: 'https://bsky.app/profile/did:plc:dclwtltrt2ggsryagfzk7dp4/post/3mptbyoeyc22k',
        title: '', text: 'www.youtube.com/watch?v=V5lD...', author: 'did:plc:dclwtltrt2ggsryagfzk7dp4',
        lang: 'en', created_at: '2026-07-04T14:38:06Z' });
    }
  });
});
