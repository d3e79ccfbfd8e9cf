// Ingest under faults: one trendd polls a local fixture server through one
// source per fault (conditional GET, rate limits, server errors, slow,
// truncated, endless and oversized bodies, redirect loops and redirects off
// http, an HTML page instead of a feed, a gzip bomb, a closed port) next to a
// healthy Mastodon source. Each fault must show in GET /api/sources in plain
// words with the right schedule, the healthy source must keep flowing, memory
// must stay bounded and the process must never die.
//
// Short intervals and the per-source knobs (params.timeout_s,
// max_body_bytes, backoff_cap_s; see docs/API.md) keep it to about a minute.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { FIXTURES, fixtureServer, freePort, httpGet, readCapture, startTrendd, tmpDir, waitFor } from '../lib/harness.mjs';

const TOKEN = 'faults-test-token-0123456789abcdef';
const RSS = fs.readFileSync(path.join(FIXTURES, 'feeds/real/rss2/rss_2.0_spec_1.xml'));
const RSS_ITEMS = 2;   // items of rss_2.0_spec_1.xml
const RSS_INVALID = fs.readFileSync(path.join(FIXTURES, 'feeds/real/rss2/rss_2.0_invalid_1.xml'));
const MIB = 1024 * 1024;

// Any message that leaks library internals instead of saying what happened.
const NOT_PLAIN = /curl|CURLE|errno|\bcode \d+|\(\d+\)$/i;

/* Request log per path: arrival time and headers. */
const log = {};
const note = (p, req) => (log[p] ||= []).push({ at: Date.now(), headers: req.headers });
const gaps = (p) => (log[p] || []).slice(1).map((r, i) => r.at - log[p][i].at);

/* Streams `total` bytes (or forever) in 16 KiB pieces as the socket drains; counts what went out. */
// Sends total bytes of 'x' (Infinity: without end) as fast as the client takes them, counting
// them and the response's close in counter; after waitMs, when given, and only if the client has
// not closed the connection by then.
function stream(res, total, counter, waitMs = 0) {
  const piece = Buffer.alloc(16 * 1024, 'x');
  let sent = 0;
  let closed = false;
  res.on('close', () => { closed = true; counter.closed++; });
  const pump = () => {
    while (!closed && (total === Infinity || sent < total)) {
      const n = total === Infinity ? piece.length : Math.min(piece.length, total - sent);
      sent += n;
      counter.bytes += n;
      if (!res.write(n === piece.length ? piece : piece.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    if (!closed) res.end();
  };
  if (waitMs > 0) {
    res.flushHeaders();
    setTimeout(pump, waitMs);
  } else {
    pump();
  }
}

function gzipBomb(inflated) {
  // Compressed piece by piece so the test itself never holds the inflated size.
  const z = zlib.createGzip({ level: 9 });
  const out = [];
  z.on('data', (d) => out.push(d));
  const zeros = Buffer.alloc(MIB);
  return new Promise((resolve, reject) => {
    z.on('end', () => resolve(Buffer.concat(out)));
    z.on('error', reject);
    let left = inflated / MIB;
    const more = () => {
      while (left > 0) {
        left--;
        if (!z.write(zeros)) { z.once('drain', more); return; }
      }
      z.end();
    };
    more();
  });
}

function vmHWM(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return parseInt(m[1], 10) * 1024;
}

describe('ingest under faults', () => {
  let fx, t, closedPort, template, bomb;
  let nextId = 300000000000000000n;
  let warnClean = false;
  const big = { bytes: 0, closed: 0 };
  const bigChunked = { bytes: 0, closed: 0 };
  const endless = { bytes: 0, closed: 0 };
  const slowConns = [];
  const ETAG = '"rev-7"';
  const LAST_MODIFIED = 'Sun, 29 Sep 2002 19:59:01 GMT';
  let retryDate = 0;   // the last HTTP-date sent in Retry-After, as ms

  const mastodonJson = (res, status, body, headers = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };
  const rss = (res, body, headers = {}) => {
    res.writeHead(200, { 'content-type': 'application/rss+xml', ...headers });
    res.end(body);
  };
  // Two new statuses per poll, newest first, so posts_seen grows as long as polls succeed.
  const freshPage = () => [0, 1].map(() => {
    nextId += 1n;
    return { ...template, id: String(nextId), uri: `${template.uri}/${nextId}`, url: `${template.url}/${nextId}`,
      created_at: new Date().toISOString(), content: `<p>healthy post ${nextId} keeps flowing</p>` };
  }).reverse();

  before(async () => {
    template = JSON.parse(readCapture('mastodon/timeline_public.http').body.toString('utf8'))[0];
    bomb = await gzipBomb(256 * MIB);
    closedPort = await freePort();

    const routes = {
      '/healthy/api/v1/timelines/public': (req, res) => mastodonJson(res, 200, freshPage()),

      '/etag/feed.xml': (req, res) => {
        if (req.headers['if-none-match'] === ETAG || req.headers['if-modified-since'] === LAST_MODIFIED) {
          res.writeHead(304, { etag: ETAG, 'last-modified': LAST_MODIFIED });
          res.end();
          return;
        }
        rss(res, RSS, { etag: ETAG, 'last-modified': LAST_MODIFIED });
      },

      '/r429s/api/v1/timelines/public': (req, res) =>
        mastodonJson(res, 429, { error: 'Too many requests' }, { 'retry-after': '3' }),
      '/r429d/api/v1/timelines/public': (req, res) => {
        // An HTTP-date has whole seconds: at least 3 s ahead, rounded up.
        retryDate = Math.ceil((Date.now() + 3000) / 1000) * 1000;
        mastodonJson(res, 429, { error: 'Too many requests' },
          { 'retry-after': new Date(retryDate).toUTCString() });
      },
      '/e500/api/v1/timelines/public': (req, res) => {
        res.writeHead(500, { 'content-type': 'text/html' });
        res.end('<h1>Internal Server Error</h1>');
      },
      '/e503/api/v1/timelines/public': (req, res) => {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('down for maintenance');
      },

      '/slow.xml': (req, res) => {
        const conn = { start: Date.now(), end: 0 };
        slowConns.push(conn);
        res.writeHead(200, { 'content-type': 'application/rss+xml', 'content-length': String(RSS.length) });
        let i = 0;
        const timer = setInterval(() => { if (i < RSS.length) res.write(RSS.subarray(i, ++i)); }, 100);
        res.on('close', () => { clearInterval(timer); conn.end = Date.now(); });
      },
      '/truncated.xml': (req, res) => {
        res.writeHead(200, { 'content-type': 'application/rss+xml', 'content-length': '5000' });
        res.write(RSS.subarray(0, 1000));
        setTimeout(() => res.socket?.destroy(), 50);
      },
      '/endless.xml': (req, res) => {
        res.writeHead(200, { 'content-type': 'application/rss+xml' });   // chunked
        stream(res, Infinity, endless);
      },
      '/loop.xml': (req, res) => {
        res.writeHead(302, { location: '/loop.xml' });
        res.end();
      },
      '/to-ftp.xml': (req, res) => {
        res.writeHead(302, { location: `ftp://127.0.0.1:${closedPort}/feed.xml` });
        res.end();
      },
      '/to-file.xml': (req, res) => {
        res.writeHead(301, { location: 'file:///etc/passwd' });
        res.end();
      },
      '/page.html': (req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Welcome</title></head>' +
          '<body><h1>Our new website</h1><p>The feed moved.<br>See you there</body></html>');
      },
      '/bomb.xml': (req, res) => {
        res.writeHead(200, { 'content-type': 'application/rss+xml', 'content-encoding': 'gzip',
          'content-length': String(bomb.length) });
        res.end(bomb);
      },
      '/big.xml': (req, res) => {
        res.writeHead(200, { 'content-type': 'application/rss+xml', 'content-length': String(50 * 1000 * 1000) });
        // The body follows the headers after a pause, so that the bytes counted are the ones a
        // client that read on would take, not what the kernel's socket buffers (on loopback up
        // to tcp_rmem's maximum, 32 MiB here) absorbed before a client refusing at the headers
        // got to close the connection.
        stream(res, 50 * 1000 * 1000, big, 1500);
      },
      '/big-chunked.xml': (req, res) => {
        res.writeHead(200, { 'content-type': 'application/rss+xml' });
        stream(res, 50 * 1000 * 1000, bigChunked);
      },
      '/warn.xml': (req, res) => rss(res, warnClean ? RSS : RSS_INVALID),
    };
    for (const [p, h] of Object.entries(routes)) routes[p] = (req, res, url) => { note(p, req); h(req, res, url); };
    fx = await fixtureServer(routes);

    const dir = tmpDir();
    const config = path.join(dir, 'trendd.json');
    const src = (kind, name, url, params = {}) => ({ kind, name, url, interval_s: 1, params });
    fs.writeFileSync(config, JSON.stringify({
      sources: [
        src('mastodon', 'healthy', fx.base + '/healthy'),
        src('rss', 'etag', fx.base + '/etag/feed.xml'),
        src('mastodon', 'r429s', fx.base + '/r429s'),
        src('mastodon', 'r429d', fx.base + '/r429d'),
        src('mastodon', 'e500', fx.base + '/e500', { backoff_cap_s: 8 }),
        src('mastodon', 'e503', fx.base + '/e503', { backoff_cap_s: 4 }),
        src('rss', 'slow', fx.base + '/slow.xml', { timeout_s: 2 }),
        src('rss', 'truncated', fx.base + '/truncated.xml'),
        src('rss', 'endless', fx.base + '/endless.xml', { max_body_bytes: 256 * 1024 }),
        src('rss', 'loop', fx.base + '/loop.xml'),
        src('rss', 'to-ftp', fx.base + '/to-ftp.xml'),
        src('rss', 'to-file', fx.base + '/to-file.xml'),
        src('rss', 'html', fx.base + '/page.html'),
        src('rss', 'big', fx.base + '/big.xml'),
        src('rss', 'big-chunked', fx.base + '/big-chunked.xml'),
        src('mastodon', 'refused', `http://127.0.0.1:${closedPort}`),
        src('rss', 'warn', fx.base + '/warn.xml'),
      ],
    }));
    t = await startTrendd(['--config', config], { env: { TRENDD_TOKEN: TOKEN } });
  });
  after(async () => {
    if (t) await t.stop();
    if (fx) await fx.close();
  });

  const sources = async () => (await httpGet(t.base, '/api/sources')).json;
  const source = async (name) => (await sources()).find((s) => s.name === name);
  const alive = () => assert.equal(t.proc.exitCode, null, 'trendd exited:\n' + t.log().slice(-3000));
  /* Waits until the named source has failed at least n times in a row, and returns it. */
  const failing = (name, n = 1, timeout = 30000) => waitFor(async () => {
    alive();
    const s = await source(name);
    return s && s.status.consecutive_errors >= n && s.status.state === 'backoff' ? s : null;
  }, { timeout, interval: 100, what: `${name} failing ${n} times` });
  const delayAfterError = (s) => Date.parse(s.status.next_poll) - Date.parse(s.status.last_error_at);
  const plain = (s) => {
    assert.ok(s.status.last_error && !NOT_PLAIN.test(s.status.last_error), s.status.last_error);
    assert.ok(delayAfterError(s) >= 990, `${s.name}: next poll ${delayAfterError(s)} ms after the error`);
  };

  let healthyAtStart;
  it('polls the healthy source', async () => {
    const s = await waitFor(async () => {
      const x = await source('healthy');
      return x && x.status.posts_seen >= 4 ? x : null;
    }, { what: 'healthy posts' });
    healthyAtStart = s.status.posts_seen;
    assert.equal(s.status.state, 'ok');
    assert.equal(s.status.last_warning, null);
  });

  it('304 Not Modified: validators are sent back, nothing is duplicated, the source stays ok', async () => {
    const s = await waitFor(async () => {
      const x = await source('etag');
      return x && x.status.polls >= 4 ? x : null;
    }, { what: 'etag source polled 4 times' });
    const reqs = log['/etag/feed.xml'];
    assert.equal(reqs[0].headers['if-none-match'], undefined);
    for (const r of reqs.slice(1)) {
      assert.equal(r.headers['if-none-match'], ETAG);
      assert.equal(r.headers['if-modified-since'], LAST_MODIFIED);
    }
    assert.equal(s.status.state, 'ok');
    assert.equal(s.status.posts_seen, RSS_ITEMS);
    assert.equal(s.status.consecutive_errors, 0);
    assert.equal(s.status.last_error, null);
    assert.match(reqs[0].headers['user-agent'], /^trendd\//);
    assert.match(reqs[0].headers['accept-encoding'], /gzip/);
  });

  it('429 with Retry-After in seconds: no poll before it', async () => {
    const s = await failing('r429s', 1);
    assert.match(s.status.last_error, /^HTTP 429 Too Many Requests: Too many requests$/);
    plain(s);
    assert.ok(delayAfterError(s) >= 2950, `next poll only ${delayAfterError(s)} ms after the 429`);
    await waitFor(() => log['/r429s/api/v1/timelines/public']?.length >= 3, { what: 'three 429s' });
    for (const g of gaps('/r429s/api/v1/timelines/public')) assert.ok(g >= 2950, `polled again after ${g} ms`);
  });

  it('429 with Retry-After as an HTTP-date: no poll before that date', async () => {
    const p = '/r429d/api/v1/timelines/public';
    await waitFor(() => log[p]?.length >= 3, { what: 'three 429s with a date' });
    const s = await source('r429d');
    assert.match(s.status.last_error, /429/);
    const reqs = log[p];
    for (let i = 1; i < reqs.length; i++) {
      // The date each answer named: whole seconds, at least 3 s after that request.
      const promised = Math.ceil((reqs[i - 1].at + 3000) / 1000) * 1000;
      assert.ok(reqs[i].at >= promised - 20, `poll ${i} came ${promised - reqs[i].at} ms early`);
    }
    assert.ok(retryDate > 0);
  });

  it('500: the backoff grows with jitter up to its cap', async (ctx) => {
    const p = '/e500/api/v1/timelines/public';
    const delays = new Map();   // consecutive_errors -> delay until the next poll
    await waitFor(async () => {
      const s = await source('e500');
      if (s?.status.state === 'backoff') delays.set(s.status.consecutive_errors, delayAfterError(s));
      return log[p]?.length >= 7;
    }, { timeout: 60000, interval: 100, what: 'seven polls of the failing source' });
    const s = await source('e500');
    assert.match(s.status.last_error, /^HTTP 500 Internal Server Error$/);
    plain(s);
    // The wait after the n-th failure is within [interval, min(interval * 2^n, cap)].
    for (const [n, d] of delays) {
      const window = Math.min(1000 * 2 ** n, 8000);
      assert.ok(d >= 990 && d <= window + 20, `after ${n} errors: next poll in ${d} ms (window ${window})`);
    }
    const g = gaps(p);
    ctx.diagnostic(`polls apart (ms): ${g.join(' ')}`);
    for (const x of g) assert.ok(x >= 950 && x <= 8000 + 500, `polls ${x} ms apart`);
    // Growth: past the first failure some wait exceeds the first window (2 s).
    assert.ok(g.slice(1).some((x) => x > 2100), `no wait grew past 2 s: ${g}`);
    // Jitter: the waits are not all the same.
    assert.ok(Math.max(...g) - Math.min(...g) > 300, `waits without jitter: ${g}`);
  });

  it('503: backs off the same way, capped', async () => {
    const s = await failing('e503', 4, 40000);
    assert.match(s.status.last_error, /^HTTP 503 Service Unavailable$/);
    plain(s);
    for (const x of gaps('/e503/api/v1/timelines/public')) assert.ok(x >= 950 && x <= 4500, `polls ${x} ms apart`);
  });

  it('a body trickling in is cut at the total timeout', async () => {
    const s = await failing('slow');
    assert.equal(s.status.last_error, 'timed out after 2 s');
    plain(s);
    const c = slowConns[0];
    await waitFor(() => c.end, { what: 'slow connection closed' });
    assert.ok(c.end - c.start >= 1900 && c.end - c.start < 4000, `closed after ${c.end - c.start} ms`);
  });

  it('a body shorter than its Content-Length is an error, not a feed', async () => {
    const s = await failing('truncated');
    assert.equal(s.status.last_error, 'body cut short: the connection closed after 1000 of 5000 bytes');
    assert.equal(s.status.posts_seen, 0);
    plain(s);
  });

  it('an endless chunked body stops at the body cap', async () => {
    const s = await failing('endless');
    assert.equal(s.status.last_error, 'body larger than 256 KiB');
    plain(s);
    await waitFor(() => endless.closed >= 1, { what: 'endless response abandoned' });
  });

  it('a redirect loop stops at the redirect limit', async () => {
    const s = await failing('loop');
    assert.equal(s.status.last_error, 'too many redirects (more than 5)');
    plain(s);
    assert.ok(log['/loop.xml'].length <= 6 * s.status.polls + 6, `${log['/loop.xml'].length} requests`);
  });

  it('a redirect to another scheme is refused', async () => {
    for (const name of ['to-ftp', 'to-file']) {
      const s = await failing(name);
      assert.equal(s.status.last_error, 'unsupported protocol (only http and https are fetched)');
      plain(s);
    }
  });

  it('an HTML page where a feed should be says so', async () => {
    const s = await failing('html');
    assert.match(s.status.last_error, /^not an RSS or Atom feed: the root element is <html>/);
    plain(s);
  });

  it('a 50 MB document is refused at the cap, quickly', async () => {
    // The request that led to the error shown: the last one before it.
    const took = (s, p) => {
      const at = Date.parse(s.status.last_error_at);
      return at - log[p].filter((r) => r.at <= at).at(-1).at;
    };
    const s = await failing('big');
    assert.equal(s.status.last_error, 'body larger than 16 MiB');
    plain(s);
    // Content-Length says too much: refused at the headers, long before 50 MB went out.
    assert.ok(took(s, '/big.xml') < 2000, `refused after ${took(s, '/big.xml')} ms`);
    await waitFor(() => big.closed >= 1, { what: 'big response abandoned' });
    assert.ok(big.bytes / big.closed < 16 * MIB, `${big.bytes} bytes sent in ${big.closed} responses`);

    // Without a length it is read up to the cap and no further.
    const c = await failing('big-chunked');
    assert.equal(c.status.last_error, 'body larger than 16 MiB');
    assert.ok(took(c, '/big-chunked.xml') < 5000, `refused after ${took(c, '/big-chunked.xml')} ms`);
    await waitFor(() => bigChunked.closed >= 1, { what: 'chunked response abandoned' });
    assert.ok(bigChunked.bytes / bigChunked.closed < 24 * MIB, `${bigChunked.bytes} bytes sent in ${bigChunked.closed} responses`);
  });

  it('a gzip bomb is refused at the cap with memory bounded', async (ctx) => {
    // Measured before the bomb source exists, after the big bodies have peaked.
    await failing('big-chunked', 2, 40000);
    const before = vmHWM(t.proc.pid);
    const res = await fetch(t.base + '/api/sources', {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'rss', name: 'bomb', url: fx.base + '/bomb.xml', interval_s: 1,
        params: { max_body_bytes: MIB } }),
    });
    assert.equal(res.status, 201, await res.text());
    const s = await failing('bomb', 2);
    assert.equal(s.status.last_error, 'body larger than 1 MiB');
    plain(s);
    const grown = vmHWM(t.proc.pid) - before;
    // 256 MiB inflated would show; the cap allows a few MiB.
    ctx.diagnostic(`${bomb.length} bytes inflating to 256 MiB; peak memory grew by ${(grown / MIB).toFixed(1)} MiB`);
    assert.ok(grown < 64 * MIB, `peak memory grew by ${(grown / MIB).toFixed(1)} MiB`);
  });

  it('a closed port is "connection refused", retried with backoff', async () => {
    const s = await failing('refused', 2);
    assert.equal(s.status.last_error, 'connection refused');
    plain(s);
  });

  it('a feed read despite errors is ok with a warning, cleared by a clean document', async () => {
    let s = await waitFor(async () => {
      const x = await source('warn');
      return x && x.status.polls >= 1 ? x : null;
    }, { what: 'warn source polled' });
    assert.equal(s.status.state, 'ok');
    assert.equal(s.status.last_error, null);
    assert.match(s.status.last_warning, /^not well-formed XML at line 19: Premature end of data/);
    warnClean = true;
    s = await waitFor(async () => {
      const x = await source('warn');
      return x && x.status.last_warning === null ? x : null;
    }, { what: 'warning cleared' });
    assert.equal(s.status.state, 'ok');
    assert.equal(s.status.posts_seen, RSS_ITEMS);
  });

  it('rejects bad HTTP settings in params with readable errors', async () => {
    const cases = [
      [{ timeout_s: 0 }, /params\.timeout_s must be an integer from 1 to 3600/],
      [{ max_body_bytes: 17 * MIB }, /params\.max_body_bytes must be an integer from 1024 to 16777216/],
      [{ backoff_cap_s: 'soon' }, /params\.backoff_cap_s must be an integer/],
    ];
    for (const [params, re] of cases) {
      const res = await fetch(t.base + '/api/sources', {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'rss', name: 'bad', url: fx.base + '/warn.xml', params }),
      });
      assert.equal(res.status, 400);
      assert.match((await res.json()).error, re);
    }
  });

  it('the healthy source kept flowing through all of it', async () => {
    alive();
    const s = await waitFor(async () => {
      const x = await source('healthy');
      return x && x.status.posts_seen >= healthyAtStart + 20 ? x : null;
    }, { what: 'healthy posts growing' });
    assert.equal(s.status.state, 'ok');
    assert.equal(s.status.consecutive_errors, 0);
    assert.equal(s.status.items_skipped, 0);
  });

  it('never died and stops cleanly', async () => {
    const r = await httpGet(t.base, '/healthz');
    assert.equal(r.status, 200);
    const { code, signal } = await t.stop();
    assert.equal(code, 0, t.log().slice(-3000));
    assert.equal(signal, null);
    assert.doesNotMatch(t.log(), /AddressSanitizer|runtime error/);
    t = null;
  });
});
