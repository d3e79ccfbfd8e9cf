// The dashboard tells the user when the server is running but unhealthy:
// while another process holds the database's write lock, a banner names the
// database problem, the live table keeps updating, and the banner goes away
// once writes resume.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { httpGet, startTrendd, waitFor } from '../lib/harness.mjs';
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
