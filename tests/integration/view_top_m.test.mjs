// --view-top-m N (or "views": {"top_m": N} in the configuration file): how
// many terms a closed bucket of a language or source window keeps. The
// global windows keep --top-m. Forty terms pushed into one second, the k-th
// k times, are all in the global view with their counts; the source's and
// the language's views list only the 16 most posted once that second has
// closed. A value out of range is refused at start, as is one of
// --view-budget-ms (the time a tick spends rebuilding those windows' views).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { BIN, httpGet, startTrendd, tmpDir, waitFor } from '../lib/harness.mjs';

const TERMS = Array.from({ length: 40 }, (_, i) =>
  'zq' + String.fromCharCode(97 + Math.floor(i / 8)) + String.fromCharCode(97 + (i % 8)));

describe('--view-top-m', () => {
  const running = [];
  after(async () => { for (const t of running) await t.stop(); });

  async function pushTerms(t) {
    const token = fs.readFileSync(t.db + '.token', 'utf8').trim();
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    let r = await fetch(t.base + '/api/sources', { method: 'POST', headers: auth,
      body: JSON.stringify({ kind: 'push', name: 'topm' }) });
    const body = await r.text();
    assert.equal(r.status, 201, body);
    const id = JSON.parse(body).id;
    // a whole second a little ahead, so that every post falls in it
    const at = new Date((Math.floor(Date.now() / 1000) + 2) * 1000).toISOString();
    const lines = [];
    TERMS.forEach((term, i) => {
      for (let j = 0; j <= i; j++)
        lines.push(JSON.stringify({ id: `${term}-${j}`, author: `a${j}`, lang: 'en', text: term,
          created_at: at }));
    });
    r = await fetch(t.base + '/api/ingest?source=topm', { method: 'POST', headers: auth,
      body: lines.join('\n') + '\n' });
    assert.equal(r.status, 200, await r.text());
    return { id, posts: lines.length, at: Date.parse(at) };
  }

  const counts = (doc) => Object.fromEntries(doc.trends.map((x) => [x.term, x.count]));

  async function check(t) {
    const { id, posts, at } = await pushTerms(t);
    const q = '/api/trends?window=5m&sort=count&kind=word&limit=200';
    // the second closes once the watermark (newest event time minus 1 s) passes its end
    await waitFor(async () => {
      const r = await httpGet(t.base, q);
      return r.json?.overall?.posts === posts && Date.parse(r.json.watermark) >= at + 1000;
    }, { what: 'the posts counted and their second closed' });
    const global = counts((await httpGet(t.base, q)).json);
    TERMS.forEach((term, i) => assert.equal(global[term], i + 1, `${term} in the global view`));
    for (const dim of [`&source=${id}`, '&lang=en']) {
      let doc;
      await waitFor(async () => {
        doc = (await httpGet(t.base, q + dim)).json;
        return doc?.overall?.posts === posts && Date.parse(doc.computed_at) >= at + 1000 + 1000;
      }, { what: `the ${dim} view rebuilt after the second closed` });
      const c = counts(doc);
      TERMS.forEach((term, i) =>
        assert.equal(c[term], i >= 24 ? i + 1 : undefined, `${term} in the view of ${dim}`));
    }
  }

  it('keeps N terms per closed bucket of the language and source windows', async () => {
    const t = await startTrendd(['--lateness', '1', '--view-top-m', '16']);
    running.push(t);
    await check(t);
  });

  it('takes N from the configuration file', async () => {
    const dir = tmpDir();
    const config = path.join(dir, 'trendd.json');
    fs.writeFileSync(config, JSON.stringify({ views: { top_m: 16 } }));
    const t = await startTrendd(['--lateness', '1', '--config', config]);
    running.push(t);
    await check(t);
  });

  it('refuses a value out of range', () => {
    for (const bad of ['15', '10000001', 'many', '']) {
      const p = spawnSync(BIN, ['--view-top-m', bad, '--listen', '127.0.0.1:1'], { encoding: 'utf8' });
      assert.equal(p.status, 2, `--view-top-m '${bad}': ${p.stderr}`);
      assert.match(p.stderr, /--view-top-m wants 16\.\.10000000/);
    }
    const dir = tmpDir();
    const config = path.join(dir, 'trendd.json');
    for (const bad of [8, 1.5, '64']) {
      fs.writeFileSync(config, JSON.stringify({ views: { top_m: bad } }));
      const p = spawnSync(BIN, ['--config', config, '--listen', '127.0.0.1:1'], { encoding: 'utf8' });
      assert.equal(p.status, 2, `views.top_m ${JSON.stringify(bad)}: ${p.stderr}`);
      assert.match(p.stderr, /views\.top_m must be an integer from 16 to 10000000/);
    }
  });

  it('refuses a --view-budget-ms out of range', () => {
    for (const bad of ['-1', '60001', 'soon', '']) {
      const p = spawnSync(BIN, ['--view-budget-ms', bad, '--listen', '127.0.0.1:1'], { encoding: 'utf8' });
      assert.equal(p.status, 2, `--view-budget-ms '${bad}': ${p.stderr}`);
      assert.match(p.stderr, /--view-budget-ms wants 0\.\.60000/);
    }
  });
});
