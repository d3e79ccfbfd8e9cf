// Storage faults with the real daemon: a full disk (a file size limit set on
// the running process), a database locked by another process, a read-only
// database file and a corrupt one. For each: a clear error in the log and in
// /healthz, the live pipeline keeps publishing trends, writes resume when the
// fault clears, nothing committed before is lost, and SQLite's
// integrity_check passes afterwards.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { BIN, httpGet, startTrendd, tmpDir, waitFor } from '../lib/harness.mjs';

const NOBODY = 65534;

const health = async (t) => (await httpGet(t.base, '/healthz')).json;
const sql = (db, q) => execFileSync('sqlite3', [db, q]).toString().trim();
const integrity = (db) => assert.equal(sql(db, 'PRAGMA integrity_check;'), 'ok');
const committedPosts = (db) => Number(sql(db, 'SELECT coalesce(sum(posts_seen), 0) FROM sources;'));

// The live side keeps going: new snapshots with trends in them.
async function assertLive(t) {
  const seq = (await health(t)).snapshot_seq;
  await waitFor(async () => (await health(t)).snapshot_seq >= seq + 2, { what: 'new snapshots during the fault' });
  const trends = (await httpGet(t.base, '/api/trends?window=5m&sort=count&limit=5')).json;
  assert.ok(trends.trends.length > 0, 'trends during the fault');
}

// The fault shows as one plain problem in /healthz and in the log.
async function waitForFault(t, re) {
  const h = await waitFor(async () => {
    const x = await health(t);
    return x.db && x.db.ok === false ? x : null;
  }, { timeout: 40000, what: 'the db writer to report the fault' });
  assert.equal(h.status, 'degraded');
  assert.ok(h.problems.some((p) => /database/.test(p)), JSON.stringify(h.problems));
  assert.match(h.db.error, re);
  assert.ok(h.db.error_since);
  assert.match(t.log(), /ERROR \[db\]/);
  return h;
}

async function waitForRecovery(t, batches) {
  const h = await waitFor(async () => {
    const x = await health(t);
    return x.db && x.db.ok === true && x.db.batches > batches ? x : null;
  }, { timeout: 40000, what: 'writes to resume' });
  assert.equal(h.status, 'ok');
  assert.match(t.log(), /writes resumed/);
  return h;
}

async function firstCommit(t) {
  await waitFor(async () => {
    const x = await health(t);
    return x.db && x.db.ok && x.db.batches >= 2 && committedPosts(t.db) > 0;
  }, { what: 'a first commit' });
}

describe('storage faults', () => {
  const running = [];
  const start = async (...a) => {
    const t = await startTrendd(...a);
    running.push(t);
    return t;
  };
  after(async () => {
    for (const t of running) if (t.proc.exitCode === null && t.proc.signalCode === null) await t.stop();
  });

  it('keeps running through a full disk and writes again when space is back', async () => {
    const t = await start(['--demo', '--demo-rate', '200']);
    await firstCommit(t);
    const before = committedPosts(t.db);
    // RLIMIT_FSIZE on the running process: every write past 4 KiB fails.
    execFileSync('prlimit', ['--pid', String(t.proc.pid), '--fsize=4096:unlimited']);
    const fault = await waitForFault(t, /I\/O error|disk full|too large/i);
    await assertLive(t);
    execFileSync('prlimit', ['--pid', String(t.proc.pid), '--fsize=unlimited:unlimited']);
    await waitForRecovery(t, fault.db.batches);
    await waitFor(() => committedPosts(t.db) > before, { what: 'posts seen during the fault committed' });
    const r = await t.stop();
    assert.equal(r.code, 0);
    integrity(t.db);
    assert.ok(committedPosts(t.db) >= before);
  });

  it('waits out another process holding the write lock', async () => {
    const t = await start(['--demo', '--demo-rate', '200']);
    await firstCommit(t);
    const before = committedPosts(t.db);
    const holder = spawn('sqlite3', [t.db], { stdio: ['pipe', 'pipe', 'pipe'] });
    holder.stdin.write('BEGIN EXCLUSIVE;\nSELECT \'locked\';\n');
    await new Promise((r) => holder.stdout.once('data', r));
    try {
      const fault = await waitForFault(t, /locked|busy/i);
      await assertLive(t);
      holder.stdin.end('COMMIT;\n');
      await new Promise((r) => holder.on('exit', r));
      await waitForRecovery(t, fault.db.batches);
    } finally {
      holder.kill();
    }
    await t.stop();
    integrity(t.db);
    assert.ok(committedPosts(t.db) >= before);
  });

  it('runs on a read-only database file and writes once it is writable again', async () => {
    // As an unprivileged user: file modes mean nothing to root.
    const dir = tmpDir();
    fs.chownSync(dir, NOBODY, NOBODY);
    const db = path.join(dir, 'trendd.db');
    let t = await start(['--demo', '--demo-rate', '200'], { db, uid: NOBODY, gid: NOBODY });
    await firstCommit(t);
    await t.stop();
    const before = committedPosts(db);
    fs.chmodSync(db, 0o444);
    t = await start(['--demo', '--demo-rate', '200'], { db, uid: NOBODY, gid: NOBODY });
    const fault = await waitForFault(t, /read-only/);
    await assertLive(t);
    fs.chmodSync(db, 0o644);
    await waitForRecovery(t, fault.db.batches);
    await waitFor(() => committedPosts(db) > before, { what: 'new posts committed' });
    await t.stop();
    integrity(db);
  });

  it('refuses a corrupt database file with a clear error and leaves it untouched', async () => {
    const dir = tmpDir();
    const db = path.join(dir, 'trendd.db');
    let t = await start(['--demo', '--demo-rate', '200'], { db });
    await firstCommit(t);
    await t.stop();
    // Garbage over every page but the first: the schema names tables whose pages are gone.
    const size = fs.statSync(db).size;
    const fd = fs.openSync(db, 'r+');
    let seed = 7;
    const junk = Buffer.alloc(size - 4096, 0).map(() => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 16);
    fs.writeSync(fd, junk, 0, junk.length, 4096);
    fs.closeSync(fd);
    const image = fs.readFileSync(db);
    const out = await new Promise((resolve) => {
      const p = spawn(BIN, ['--demo', '--listen', '127.0.0.1:0', '--db', db], { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      p.stdout.on('data', (d) => { text += d; });
      p.stderr.on('data', (d) => { text += d; });
      const timer = setTimeout(() => p.kill('SIGKILL'), 20000);
      p.on('exit', (code) => { clearTimeout(timer); resolve({ code, text }); });
    });
    assert.notEqual(out.code, 0);
    assert.notEqual(out.code, null, 'exits by itself');
    assert.match(out.text, /database file is corrupt|not an SQLite database/);
    assert.ok(fs.readFileSync(db).equals(image), 'the corrupt file is left as it was');
  });
});
