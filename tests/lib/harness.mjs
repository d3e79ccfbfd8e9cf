// Test harness shared by the integration and browser tests: runs the real
// trendd binary on a free port with a temporary database, talks HTTP and
// WebSocket to it, and serves fixtures from a local HTTP server.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const TOP = process.env.TRENDD_TOP || path.resolve(import.meta.dirname, '../..');
export const BIN = process.env.TRENDD_BIN || path.join(TOP, 'build-test/trendd');
export const FIXTURES = path.join(TOP, 'tests/fixtures');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/*
 * The ports the kernel hands out on its own (a listen on port 0, the local
 * end of an outgoing connection) come from ip_local_port_range. A port a
 * test picks for trendd lies below it, so that nothing else on the machine -
 * fixture servers, trendd's own demo feed, Chromium's connections - can be
 * given it between the pick and trendd's bind, nor while a test restarts
 * trendd on the same port.
 */
function pickRange() {
  let low = 32768;
  try {
    low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    /* not Linux: the usual range */
  }
  return low > 12000 ? [10000, low - 1] : [1024, 65535]; /* an odd range: anywhere */
}
const [PICK_LOW, PICK_HIGH] = pickRange();

function tryListen(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.unref();
    s.on('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/* A port nothing listens on now, below the kernel's ephemeral range. */
export async function freePort() {
  for (let i = 0; i < 100; i++) {
    const port = PICK_LOW + Math.floor(Math.random() * (PICK_HIGH - PICK_LOW + 1));
    if (await tryListen(port)) return port;
  }
  throw new Error(`no free port in ${PICK_LOW}-${PICK_HIGH}`);
}

/*
 * A fresh directory under the system temp dir, removed when the test process
 * exits (set TRENDD_KEEP_TMP=1 to keep them for a post-mortem).
 */
const tmpDirs = new Set();
process.on('exit', () => {
  if (process.env.TRENDD_KEEP_TMP) return;
  for (const d of tmpDirs) {
    try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ }
  }
});

export function tmpDir(prefix = 'trendd-test-') {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.add(d);
  return d;
}

/* Polls fn until it returns a truthy value or the time runs out. */
export async function waitFor(fn, { timeout = 30000, interval = 250, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)?.slice(0, 500)}`);
    }
    await sleep(interval);
  }
}

export async function httpGet(base, p, headers = {}) {
  const res = await fetch(base + p, { headers });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

/*
 * Starts trendd with args (plus --listen and --db unless given) and waits
 * until /healthz answers (as user uid/gid when given). Returns
 * { base, port, db, proc, stop(), log() }.
 */
export async function startTrendd(args = [], { port, db, env = {}, uid, gid } = {}) {
  const dir = db ? path.dirname(db) : tmpDir();
  db = db || path.join(dir, 'trendd.db');
  if (port) return launchTrendd(args, { port, db, dir, env, uid, gid });
  /*
   * A port freePort() found free can be taken by another process before
   * trendd binds it: then trendd exits with "address in use", and a second
   * free port is tried.
   */
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchTrendd(args, { port: await freePort(), db, dir, env, uid, gid });
    } catch (e) {
      if (attempt >= 3 || !/cannot listen on [^\n]*: address in use/.test(e.message)) throw e;
    }
  }
}

async function launchTrendd(args, { port, db, dir, env, uid, gid }) {
  const full = [...args, '--listen', `127.0.0.1:${port}`, '--db', db];
  const proc = spawn(BIN, full, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(uid === undefined ? {} : { uid, gid }),
  });
  let output = '';
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const base = `http://127.0.0.1:${port}`;
  const t = {
    base, port, db, dir, proc, exited,
    log: () => output,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      let timer;
      const r = await Promise.race([
        exited,
        new Promise((resolve) => { timer = setTimeout(() => resolve(null), 20000); }),
      ]);
      clearTimeout(timer);
      if (!r) {
        proc.kill('SIGKILL');
        throw new Error('trendd did not stop within 20 s:\n' + output.slice(-4000));
      }
      return r;
    },
  };
  /* 'close' comes after the last of its output, 'exit' may come before. */
  const closed = new Promise((resolve) => proc.on('close', resolve));
  const deadline = Date.now() + 20000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      await closed;
      throw new Error(`trendd exited with ${proc.exitCode ?? proc.signalCode} before /healthz answered:\n` +
                      output.slice(-4000));
    }
    try {
      const r = await fetch(base + '/healthz', { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      if (r.status === 200) return t;
    } catch {
      /* not listening yet, or another server holds the port */
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error('timed out waiting for trendd /healthz\n--- trendd output ---\n' + output.slice(-4000));
    }
    await sleep(250);
  }
}

/*
 * A local HTTP server for fixtures. routes: { '/path': handler } where a
 * handler is (req, res, url) => void, or a string naming a captured *.http
 * response under tests/fixtures to replay. Unknown paths get 404.
 */
export async function fixtureServer(routes) {
  const hits = {};
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    hits[url.pathname] = (hits[url.pathname] || 0) + 1;
    const h = routes[url.pathname];
    if (!h) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"Record not found"}');
      return;
    }
    if (typeof h === 'string') {
      replayCapture(res, h);
      return;
    }
    h(req, res, url);
  });
  server.keepAliveTimeout = 1000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    hits,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
  };
}

/* Parses a captured HTTP response (status line, headers, blank line, body). */
export function readCapture(rel) {
  const buf = fs.readFileSync(path.join(FIXTURES, rel));
  const sep = buf.indexOf('\r\n\r\n');
  const head = buf.subarray(0, sep).toString('latin1').split('\r\n');
  const body = buf.subarray(sep + 4);
  const status = parseInt(head[0].split(' ')[1], 10);
  const headers = [];
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    headers.push([line.slice(0, i).trim(), line.slice(i + 1).trim()]);
  }
  return { status, headers, body };
}

export function replayCapture(res, rel, { status, extraHeaders = {} } = {}) {
  const c = readCapture(rel);
  const skip = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);
  const headers = {};
  for (const [k, v] of c.headers) if (!skip.has(k.toLowerCase())) headers[k] = v;
  Object.assign(headers, extraHeaders, { 'content-length': String(c.body.length) });
  res.writeHead(status || c.status, headers);
  res.end(c.body);
}
