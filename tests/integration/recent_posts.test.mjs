// --recent-posts N: how many recent posts the engine keeps for the term
// detail (GET /api/terms/{term}/related). The ring holds exactly the newest N
// posts, 0 keeps none, and a value out of range is refused at start.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { after, describe, it } from 'node:test';
import { BIN, httpGet, startTrendd, waitFor } from '../lib/harness.mjs';

describe('--recent-posts', () => {
  const running = [];
  after(async () => { for (const t of running) await t.stop(); });

  // Pushes n posts with #ringtest (post i also says "word<i>") and waits until they are counted.
  async function pushPosts(t, n) {
    const token = fs.readFileSync(t.db + '.token', 'utf8').trim();
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    let r = await fetch(t.base + '/api/sources', { method: 'POST', headers: auth,
      body: JSON.stringify({ kind: 'push', name: 'ring' }) });
    assert.equal(r.status, 201, await r.text());
    await waitFor(async () => (await httpGet(t.base, '/api/sources')).json?.some((s) => s.name === 'ring'),
      { what: 'the push source' });
    const now = Date.now();
    const lines = Array.from({ length: n }, (_, i) => JSON.stringify({
      id: `r${i}`, author: `author${i}`, text: `#ringtest says word${i}`,
      created_at: new Date(now - (n - i) * 1000).toISOString() }));
    r = await fetch(t.base + '/api/ingest?source=ring', { method: 'POST', headers: auth,
      body: lines.join('\n') + '\n' });
    assert.equal(r.status, 200, await r.text());
    await waitFor(async () => (await httpGet(t.base, '/api/trends?window=5m&sort=count')).json?.overall?.posts === n,
      { what: 'the posts counted' });
  }

  it('keeps exactly the newest N posts', async () => {
    const t = await startTrendd(['--recent-posts', '3']);
    running.push(t);
    await pushPosts(t, 5);
    const r = await httpGet(t.base, '/api/terms/%23ringtest/related?limit=50&examples=20');
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.scanned_posts, 3);
    assert.equal(r.json.matched_posts, 3);
    assert.deepEqual(r.json.examples.map((e) => e.id), ['r4', 'r3', 'r2']);
    // only the words of the three newest posts are companions
    const words = r.json.cooccurring.filter((c) => c.kind === 'word').map((c) => c.term).sort();
    assert.deepEqual(words.filter((w) => w.startsWith('word')), ['word2', 'word3', 'word4']);
  });

  it('keeps none with 0', async () => {
    const t = await startTrendd(['--recent-posts', '0']);
    running.push(t);
    await pushPosts(t, 2);
    const r = await httpGet(t.base, '/api/terms/%23ringtest/related');
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.scanned_posts, 0);
    assert.deepEqual(r.json.examples, []);
    assert.deepEqual(r.json.cooccurring, []);
  });

  it('refuses a value out of range', () => {
    for (const bad of ['-1', '1000001', 'many', '']) {
      const p = spawnSync(BIN, ['--recent-posts', bad, '--listen', '127.0.0.1:1'], { encoding: 'utf8' });
      assert.equal(p.status, 2, `--recent-posts '${bad}': ${p.stderr}`);
      assert.match(p.stderr, /--recent-posts wants 0\.\.1000000/);
    }
  });
});
