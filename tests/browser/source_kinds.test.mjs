// The source form offers every kind trendd has: a Mastodon source over the
// streaming API, a Bluesky Jetstream WebSocket (ws:// or wss:// only) and a
// push source (no address). Each is validated in the page, sent with the
// right settings and stored by the server.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { httpGet, startTrendd } from '../lib/harness.mjs';
import { launch, stopServer } from './browser.mjs';

describe('source kinds in the form', () => {
  let server, b, page, token;
  const sent = [];

  before(async () => {
    server = await startTrendd([]);
    token = fs.readFileSync(server.db + '.token', 'utf8').trim();
    b = await launch();
    page = await b.page();
    page.on('request', (r) => {
      if (r.method() === 'POST' && /\/api\/sources$/.test(r.url())) sent.push(r.postDataJSON());
    });
    await page.goto(`${server.base}/#/sources`);
    await page.evaluate((t) => localStorage.setItem('trendd.adminToken', t), token);
    await page.reload();
    await page.waitForSelector('[data-testid="source-add"]');
  });

  after(async () => {
    if (b) await b.close();
    await stopServer(server).catch(() => {});
  });

  const stored = async (name) => (await httpGet(server.base, '/api/sources')).json.find((s) => s.name === name);

  async function add(fields) {
    await page.click('[data-testid="source-add"]');
    await page.selectOption('[data-testid="source-kind"]', fields.kind);
    await page.fill('[data-testid="source-name"]', fields.name);
    await page.fill('[data-testid="source-url"]', fields.url);
    if (fields.more) await fields.more();
    await page.click('[data-testid="source-save"]');
  }

  it('adds a Mastodon hashtag source over the streaming API', async () => {
    await add({
      kind: 'mastodon', name: 'live-tag', url: 'http://127.0.0.1:9/',
      more: async () => {
        await page.selectOption('[data-testid="source-mastodon-mode"]', 'stream');
        await page.selectOption('[data-testid="source-timeline"]', 'tag');
        await page.fill('[data-testid="source-tag"]', '#rustlang');
      },
    });
    await page.waitForSelector('[data-testid="source-card"][data-name="live-tag"]', { timeout: 15000 });
    assert.deepEqual(sent.at(-1).params, { stream: 'hashtag', tag: 'rustlang' });
    assert.deepEqual((await stored('live-tag')).params, { stream: 'hashtag', tag: 'rustlang' });
    // editing shows it as streamed again
    await page.click('[data-testid="source-card"][data-name="live-tag"] [data-testid="source-edit"]');
    assert.equal(await page.inputValue('[data-testid="source-mastodon-mode"]'), 'stream');
    assert.equal(await page.inputValue('[data-testid="source-timeline"]'), 'tag');
    await page.click('#src-cancel');
  });

  it('takes only ws:// or wss:// for a Jetstream source', async () => {
    const before = sent.length;
    await add({ kind: 'jetstream', name: 'bsky', url: 'https://jetstream.example/subscribe' });
    assert.match(await page.textContent('#src-url-err'), /ws:\/\/ or wss:\/\//);
    assert.equal(sent.length, before);
    await page.fill('[data-testid="source-url"]', 'ws://127.0.0.1:9/subscribe');
    await page.click('[data-testid="source-save"]');
    await page.waitForSelector('[data-testid="source-card"][data-name="bsky"]', { timeout: 15000 });
    const s = await stored('bsky');
    assert.equal(s.kind, 'jetstream');
    assert.equal(s.url, 'ws://127.0.0.1:9/subscribe');
  });

  it('adds a push source without an address', async () => {
    await add({ kind: 'push', name: 'from-scripts', url: 'http://not.wanted/' });
    assert.match(await page.textContent('#src-url-err'), /no address/);
    await page.fill('[data-testid="source-url"]', '');
    await page.click('[data-testid="source-save"]');
    await page.waitForSelector('[data-testid="source-card"][data-name="from-scripts"]', { timeout: 15000 });
    const s = await stored('from-scripts');
    assert.equal(s.kind, 'push');
    assert.equal(s.url, '');
    assert.deepEqual(b.problems, []);
  });
});
