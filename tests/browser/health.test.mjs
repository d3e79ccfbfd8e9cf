// The dashboard tells the user when the server is running but unhealthy:
// while another process holds the database's write lock, a banner names the
// database problem, the live table keeps updating, and the banner goes away
// once writes resume. A corrupt database file at start gets the same banner,
// and it goes away once a valid database is put in its place.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { httpGet, startTrendd, tmpDir, waitFor } from '../lib/harness.mjs';
import { launch, shot, stopServer } from './browser.mjs';

describe('health banner', () => {
  let server, b, page, holder;

  before(async () => {
    server = await startTrendd(['--demo', '--demo-rate', '200']);
    await waitFor(async () => (await httpGet(server.base, '/healthz')).json.db?.batches >= 1,
      { what: 'a first commit' });
    b = await launch();
    page = await b.page();
  });

  after(async () => {
    if (holder) holder.kill();
    if (b) await b.close();
    await stopServer(server).catch(() => {});
  });

  it('shows a database fault in plain words while live trends keep moving', async () => {
    await page.goto(server.base + '/');
    await page.waitForSelector('[data-testid="trend-row"]');
    assert.equal(await page.isHidden('[data-testid="health-banner"]'), true);

    holder = spawn('sqlite3', [server.db], { stdio: ['pipe', 'pipe', 'pipe'] });
    holder.stdin.write('BEGIN EXCLUSIVE;\nSELECT 1;\n');
    await new Promise((r) => holder.stdout.once('data', r));

    await page.waitForSelector('[data-testid="health-banner"]:not([hidden])', { timeout: 45000 });
    const text = await page.textContent('[data-testid="health-banner"]');
    assert.match(text, /Database: .*(locked|busy)/);
    assert.match(text, /Live trends keep updating/);
    await shot(page, 'health-banner');

    const seq = (await httpGet(server.base, '/healthz')).json.snapshot_seq;
    await waitFor(async () => (await httpGet(server.base, '/healthz')).json.snapshot_seq > seq + 1,
      { what: 'snapshots during the fault' });

    holder.stdin.end('COMMIT;\n');
    await new Promise((r) => holder.on('exit', r));
    holder = null;
    await page.waitForSelector('[data-testid="health-banner"]', { state: 'hidden', timeout: 45000 });
    assert.deepEqual(b.problems, []);
  });
});

describe('health banner for a corrupt database file', () => {
  let server, b, page;
  const dir = tmpDir();
  const db = path.join(dir, 'trendd.db');

  before(async () => {
    // a valid database to restore later, from a first run
    const first = await startTrendd(['--demo', '--demo-rate', '200'], { db: path.join(dir, 'backup.db') });
    await waitFor(async () => (await httpGet(first.base, '/healthz')).json.db?.batches >= 1,
      { what: 'a first commit' });
    await first.stop();
    // garbage where the database should be: SQLite's header, then noise
    const junk = Buffer.alloc(64 * 1024, 0x5a);
    Buffer.from('SQLite format 3\0').copy(junk);
    fs.writeFileSync(db, junk);
    server = await startTrendd(['--demo', '--demo-rate', '200'], { db });
    b = await launch();
    page = await b.page();
  });

  after(async () => {
    if (b) await b.close();
    await stopServer(server).catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('names the bad file while live trends keep moving, and clears once a backup is restored', async () => {
    await page.goto(server.base + '/');
    await page.waitForSelector('[data-testid="trend-row"]');
    await page.waitForSelector('[data-testid="health-banner"]:not([hidden])', { timeout: 45000 });
    const text = await page.textContent('[data-testid="health-banner"]');
    assert.match(text, /Database: .*(corrupt|not an SQLite database|malformed)/);
    assert.match(text, /Live trends keep updating/);
    await shot(page, 'health-banner-corrupt');

    fs.copyFileSync(path.join(dir, 'backup.db'), db);
    await page.waitForSelector('[data-testid="health-banner"]', { state: 'hidden', timeout: 45000 });
    assert.deepEqual(b.problems, []);
  });
});
