// Storage faults with the real daemon: a full disk (a file size limit set on
// the running process), a database locked by another process, a read-only
// database file and a corrupt one (garbage pages, a truncated copy). For each:
// a clear error in the log and in /healthz, the live pipeline keeps publishing
// trends, writes resume when the fault clears (for a corrupt file: a valid
// database put in its place), nothing committed before is lost, and SQLite's
// integrity_check passes afterwards. A corrupt file is never written to.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { httpGet, startTrendd, tmpDir, waitFor } from '../lib/harness.mjs';

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

  // A corrupt or foreign file: trendd starts without it, never writes to it,
  // and takes a valid database put in its place (a backup restored with cp).
  async function runsWithoutTheFile(badImage) {
    const dir = tmpDir();
    const db = path.join(dir, 'trendd.db');
    // A real database to restore later, from an earlier run.
    const backup = path.join(dir, 'backup.db');
    let t = await start(['--demo', '--demo-rate', '200'], { db: backup });
    await firstCommit(t);
    await t.stop();
    const backupPosts = committedPosts(backup);
    const backupEpoch = Number(sql(backup, 'SELECT epoch FROM checkpoint;'));
    fs.writeFileSync(db, badImage(fs.readFileSync(backup)));
    const image = fs.readFileSync(db);

    // A short lateness: minutes close (and are written) soon after they end.
    t = await start(['--demo', '--demo-rate', '200', '--lateness', '2'], { db });
    const fault = await waitForFault(t, /database file is corrupt|not an SQLite database|not a trendd database/);
    assert.match(t.log(), /ERROR \[db\] .*running without the database/);
    await assertLive(t);
    const hist = await httpGet(t.base, '/api/history/top');
    assert.equal(hist.status, 503);
    assert.match(hist.json.error, /database is unavailable/);
    // Retried meanwhile, and never written.
    await waitFor(async () => (await health(t)).db.failed_batches > fault.db.failed_batches,
      { what: 'the file to be tried again' });
    assert.ok(fs.readFileSync(db).equals(image), 'the bad file is left as it was');

    // Restore the backup over it, as an operator would.
    fs.copyFileSync(backup, db);
    await waitForRecovery(t, fault.db.batches);
    // New minutes reach the file: the running windows go on from where they were.
    const running = (await health(t)).posts_total;
    await waitFor(() => Number(sql(db, 'SELECT count(*) FROM volume_minute;')) >
      Number(sql(backup, 'SELECT count(*) FROM volume_minute;')), { timeout: 90000, what: 'a new minute written' });
    const h = await httpGet(t.base, '/api/history/top');
    assert.equal(h.status, 200);
    await t.stop();
    integrity(db);
    // The running state replaced the backup's checkpoint; the backup's sources are still there.
    assert.ok(committedPosts(db) >= backupPosts);
    assert.ok(Number(sql(db, 'SELECT count(*) FROM sources WHERE name = \'demo\';')) === 1);
    assert.ok(Number(sql(db, 'SELECT epoch FROM checkpoint;')) > 0);
    assert.ok(running > 0 && backupEpoch > 0);
    // And a restart on the restored file works as usual.
    t = await start(['--demo', '--demo-rate', '200'], { db });
    await firstCommit(t);
    await t.stop();
    integrity(db);
  }

  it('runs without a corrupt database file and writes once a valid one replaces it', async () => {
    // Garbage over every page but the first: the schema names tables whose pages are gone.
    await runsWithoutTheFile((good) => {
      let seed = 7;
      const junk = Buffer.from(good);
      for (let i = 4096; i < junk.length; i++) junk[i] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 16;
      return junk;
    });
  });

  it('runs without a truncated copy of its database file', async () => {
    await runsWithoutTheFile((good) => good.subarray(0, Math.max(4096, good.length - 8192)));
  });
});
