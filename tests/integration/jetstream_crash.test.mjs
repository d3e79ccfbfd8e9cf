// Exactly-once counting of a Bluesky Jetstream source across crashes
// (docs/STORAGE.md, "Exactly-once").
//
// A local WebSocket server plays Jetstream. Its stream is fixed: the real
// events of tests/fixtures/jetstream (a production capture) that a
// subscription with wantedCollections=app.bsky.feed.post gets - post commits,
// identity and account events - copied COPIES times with new record keys,
// authors, creation times and time_us (each copy 320 ms after the previous,
// keeping the capture's own steps back of up to 33 ms). Events "happen" at
// `rate` per second from the start of a run. A connection with cursor=T gets
// every event that has happened with time_us >= T at once, in time_us order
// as Jetstream replays its log, then the later ones as they happen, in the
// order they happen; a connection without a cursor starts at the beginning
// of the stream (nothing came before it).
//
// One trendd reads the stream without interruption. A second one, on a fresh
// database, is killed with SIGKILL at random moments while the stream plays
// (at least KILLS times), restarted each time on the same database and port,
// until its checkpoint holds the end of the stream. Every per-term and
// per-minute count both give - live answers and database rows alike - must be
// equal, and the killed database must pass integrity_check.
//
// As in crash.test.mjs, a third of the posts are hours old (late in both
// runs: straight to the minute rows of the checkpoints) and the rest minutes
// old (open windows of a 50-minute lateness: counted through the restored
// window state).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { FIXTURES, freePort, httpGet, sleep, startTrendd, tmpDir, waitFor } from '../lib/harness.mjs';
import { observeCounts, q, storedCounts } from '../lib/counts.mjs';

const COPIES = 120;
const KILLS = 12;
const RATE_KILLED = 110;     // events/s while trendd is being killed: ~20 s of stream
const RATE_REFERENCE = 4000; // the uninterrupted run reads it as one catch-up
const MIN = 60000;
const SPAN_US = 320000;      // the capture spans 318 ms of time_us

const isPost = (e) => e.kind === 'commit' && e.commit.operation === 'create' &&
  e.commit.collection === 'app.bsky.feed.post';

/* The fixed stream; creation times relative to now. */
function buildStream(now) {
  const corpus = fs.readFileSync(path.join(FIXTURES, 'jetstream/corpus_expected_v1.jsonl'), 'utf8')
    .split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l))
    .filter((e) => e.kind !== 'commit' || e.commit.collection === 'app.bsky.feed.post');
  const events = [];
  let n = 0;
  for (let k = 0; k < COPIES; k++) {
    for (const orig of corpus) {
      const e = structuredClone(orig);
      e.time_us = orig.time_us + k * SPAN_US;
      e.did = `${orig.did}c${k % 9}`;
      if (e.commit) e.commit.rkey = `${orig.commit.rkey}k${k}`;
      if (isPost(e)) {
        const i = ++n;
        e.did = `did:plc:jscrash${i % 257}`;
        const old = i % 3 === 0;
        const at = old ? now - 3 * 3600000 + ((i * 7919) % (30 * MIN)) : now - 35 * MIN + ((i * 104729) % (30 * MIN));
        e.commit.record.createdAt = new Date(at).toISOString();
        e.commit.record.text = `${orig.commit.record.text} #jsc${i % 41} word${i % 13}`;
      }
      events.push({ time_us: e.time_us, post: isPost(e), line: JSON.stringify(e) });
    }
  }
  const created = events.filter((e) => e.post).map((e) => Date.parse(JSON.parse(e.line).commit.record.createdAt));
  return { events, nposts: n, first: Math.min(...created) };
}

/* The Jetstream fixture server (see the top of the file). */
async function jetstreamServer(events) {
  const port = await freePort();
  const wss = new WebSocketServer({ host: '127.0.0.1', port });
  const st = { t0: Date.now(), rate: 0, conns: [] };
  const present = () => Math.min(events.length, Math.floor(((Date.now() - st.t0) * st.rate) / 1000));
  wss.on('connection', (ws, req) => {
    const c = new URL(req.url, 'http://x').searchParams.get('cursor');
    const from = c === null ? -Infinity : Number(c);
    const conn = { url: req.url, cursor: c, sent: 0, posts: 0, ws };
    st.conns.push(conn);
    const send = (e) => { ws.send(e.line); conn.sent++; conn.posts += e.post; };
    let next = present();
    events.slice(0, next).filter((e) => e.time_us >= from)
      .sort((a, b) => a.time_us - b.time_us).forEach(send);
    conn.replayed = conn.sent;
    const timer = setInterval(() => {
      for (const p = present(); next < p; next++) if (events[next].time_us >= from) send(events[next]);
    }, 10);
    ws.on('close', () => clearInterval(timer));
    ws.on('error', () => clearInterval(timer));
  });
  await new Promise((r) => wss.once('listening', r));
  return {
    url: `ws://127.0.0.1:${port}/subscribe`,
    st,
    play(rate) { st.t0 = Date.now(); st.rate = rate; },
    done: () => present() === events.length,
    close: () => new Promise((r) => { for (const w of wss.clients) w.terminate(); wss.close(r); }),
  };
}


describe('jetstream: exactly-once counts across SIGKILL', { timeout: 120000 }, () => {
  let js, events, nposts, config, from, to, last;
  const running = [];

  before(async () => {
    const now = Date.now();
    let first;
    ({ events, nposts, first } = buildStream(now));
    last = String(Math.max(...events.map((e) => e.time_us)));
    from = new Date(Math.floor(first / MIN) * MIN - MIN).toISOString();
    to = new Date(Math.floor(now / MIN) * MIN + 15 * MIN).toISOString();
    js = await jetstreamServer(events);
    config = path.join(tmpDir(), 'trendd.json');
    fs.writeFileSync(config, JSON.stringify({
      checkpoint_ms: 500,
      lateness_s: 3000,
      sources: [{ kind: 'jetstream', name: 'bsky', url: js.url, interval_s: 1 }],
    }));
  });
  after(async () => {
    for (const t of running) if (t.proc.exitCode === null && t.proc.signalCode === null) t.proc.kill('SIGKILL');
    if (js) await js.close();
  });

  const start = async (opts) => {
    const t = await startTrendd(['--config', config], opts);
    running.push(t);
    return t;
  };

  const observe = (t) => observeCounts(t, from, to);
  const stored = storedCounts;

  const checkpointedCursor = (db) => {
    if (!fs.existsSync(db)) return '';
    try { return q(db, "SELECT cursor FROM sources WHERE name = 'bsky';"); } catch { return ''; }
  };
  const postsTotal = async (t) => (await httpGet(t.base, '/api/trends')).json?.stats?.posts_total;
  const streamStatus = async (t) =>
    (await httpGet(t.base, '/api/sources')).json?.find((s) => s.name === 'bsky')?.status;

  let reference, referenceDb;

  it('counts the stream in one uninterrupted run', async () => {
    assert.equal(nposts, COPIES * 17);
    js.play(RATE_REFERENCE);
    const t = await start();
    await waitFor(async () => (await postsTotal(t)) === nposts, { timeout: 60000, what: 'every post counted' });
    assert.ok(js.done());
    reference = await observe(t);
    assert.ok(reference.terms.length > 50, `${reference.terms.length} terms`);
    assert.equal(reference.volume.reduce((s, p) => s + p[1], 0), nposts);
    const r = await t.stop();
    assert.equal(r.code, 0, t.log().slice(-3000));
    referenceDb = stored(t.db);
    assert.ok(referenceDb.minutes.split('\n').length > 100, 'late posts reached the minute rows');
    assert.equal(checkpointedCursor(t.db), last);
  });

  it('counts the same after being killed at random moments', async (ctx) => {
    assert.ok(reference, 'the uninterrupted run ran');
    const port = await freePort();
    const db = path.join(tmpDir(), 'trendd.db');
    let kills = 0;
    let seed = 4242;
    const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
    const cursors = [];
    const conns0 = js.st.conns.length;
    js.play(RATE_KILLED);
    while (kills < KILLS || !js.done() || checkpointedCursor(db) !== last) {
      assert.ok(kills < 60, `stream not consumed after ${kills} kills (cursor ${checkpointedCursor(db)})`);
      const t = await start({ port, db });
      await sleep(100 + Math.floor(rnd() * 1000));
      t.proc.kill('SIGKILL');
      const r = await t.exited;
      assert.equal(r.signal, 'SIGKILL', t.log().slice(-3000));
      assert.doesNotMatch(t.log(), /runtime error|AddressSanitizer/);
      kills++;
      cursors.push(checkpointedCursor(db));
    }
    // Kills landed mid-stream, and restarts resumed from a checkpointed cursor.
    const mid = new Set(cursors.filter((c) => c !== '' && c !== last));
    assert.ok(mid.size >= 5, `checkpointed cursors: ${cursors.join(' ')}`);
    const resumed = js.st.conns.slice(conns0).filter((c) => c.cursor !== null);
    assert.ok(resumed.length >= 5 && resumed.some((c) => c.replayed > 0), 'restarts replayed from a cursor');
    ctx.diagnostic(`${kills} kills, ${mid.size} checkpointed cursors mid-stream, `
      + `${resumed.reduce((n, c) => n + c.replayed, 0)} events replayed after restarts`);

    const before = js.st.conns.length;
    const t = await start({ port, db });
    // The last restart replays the end of the stream: every post is a duplicate.
    const conn = await waitFor(() => js.st.conns[before], { what: 'reconnect' });
    assert.equal(conn.cursor, String(BigInt(last) - 5000000n));
    assert.ok(conn.posts > 0);
    const s = await waitFor(async () => {
      const st = await streamStatus(t);
      return st?.stream?.events === conn.sent ? st : null;
    }, { timeout: 20000, what: 'the replay read' });
    await sleep(300);
    assert.equal(await postsTotal(t), nposts);
    const killed = await observe(t);
    assert.deepEqual(killed.volume, reference.volume);
    assert.deepEqual(killed.terms, reference.terms);
    assert.deepEqual(killed.series, reference.series);
    assert.equal(s.stream.duplicates, conn.posts);
    const r = await t.stop();
    assert.equal(r.code, 0, t.log().slice(-3000));
    assert.equal(q(db, 'PRAGMA integrity_check;'), 'ok');
    const got = stored(db);
    assert.equal(got.volume, referenceDb.volume);
    assert.equal(got.minutes, referenceDb.minutes);
    assert.equal(got.hours, referenceDb.hours);
    assert.equal(checkpointedCursor(db), last);
  });
});
