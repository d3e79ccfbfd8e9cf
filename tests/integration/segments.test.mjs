// Incremental checkpoints (docs/STORAGE.md, "Incremental checkpoints"): the
// closed buckets of the windows go to checkpoint_segment once, the state names
// them, and a trendd killed with SIGKILL restores its windows from the state
// and those segments - the same counts in every window, nothing written again.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { httpGet, sleep, startTrendd, waitFor } from '../lib/harness.mjs';
import { q } from '../lib/counts.mjs';

// 2 s late is on time: the second the posts are dated closes a few seconds on.
const ARGS = ['--lateness', '2', '--checkpoint-ms', '200'];
const N = 300;

describe('incremental checkpoints', { timeout: 90000 }, () => {
  let t, token;

  const metric = async (name) => {
    const r = await httpGet(t.base, '/metrics');
    const m = r.text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
    return m ? Number(m[1]) : NaN;
  };
  // Count of #segtrend in each window, from the newest snapshot.
  const counts = async () => {
    const out = [];
    for (const w of ['5m', '1h', '24h']) {
      const r = await httpGet(t.base, `/api/trends?window=${w}&kind=hashtag&sort=count&limit=50`);
      assert.equal(r.status, 200);
      out.push(r.json.trends.find((x) => x.term === '#segtrend')?.count ?? 0);
    }
    return out;
  };

  before(async () => {
    t = await startTrendd(ARGS);
    token = fs.readFileSync(t.db + '.token', 'utf8').trim();
    const res = await fetch(t.base + '/api/sources', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ kind: 'push', name: 'segs' }),
    });
    assert.equal(res.status, 201, await res.text());
  });
  after(async () => { if (t) await t.stop(); });

  // Pushes posts from..to, dated now.
  const push = async (from, to) => {
    const created = new Date().toISOString();
    const body = [];
    for (let i = from; i < to; i++)
      body.push(JSON.stringify({ id: `s${i}`, author: `a${i % 97}`, created_at: created,
                                 text: `#segtrend and segword${i} here`, lang: 'en' }));
    const res = await fetch(t.base + '/api/ingest?source=segs', {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${token}` },
      body: body.join('\n'),
    });
    const r = await res.json();
    assert.equal(res.status, 200, JSON.stringify(r));
    assert.equal(r.accepted, to - from);
  };

  it('writes closed buckets once and restores the windows from them after kill -9', async () => {
    await push(0, N - 1);
    // once their second has closed, a post more makes the next checkpoint (an idle
    // engine writes none): the closed bucket is written apart, and named by the state
    await sleep(3500);
    await push(N - 1, N);
    await waitFor(async () => (await metric('trendd_checkpoint_segments')) > 0,
                  { timeout: 30000, what: 'a checkpoint naming a segment' });
    await waitFor(async () => (await counts()).every((c) => c === N), { what: 'the posts counted' });
    await sleep(600); // a few checkpoints more
    const stored = Number(q(t.db, 'SELECT count(*) FROM checkpoint_segment;'));
    const maxId = Number(q(t.db, 'SELECT max(id) FROM checkpoint_segment;'));
    assert.ok(stored > 0, 'segments stored');

    const { port, db } = t;
    t.proc.kill('SIGKILL');
    await t.exited;
    t = await startTrendd(ARGS, { port, db });
    assert.match(t.log(), /restored the windows of checkpoint \d+ \(\d+ bytes, and segments up to id \d+\)/);
    await waitFor(async () => (await counts()).every((c) => c === N),
                  { what: `${N} posts in every window after the restart` });
    // the restored buckets are named again, not written again: their ids stay
    await sleep(600);
    const kept = Number(q(db, `SELECT count(*) FROM checkpoint_segment WHERE id <= ${maxId};`));
    assert.ok(kept > 0, 'the restored segments are still the ones stored');
    assert.equal(q(db, 'PRAGMA integrity_check;'), 'ok');
  });
});
