// The term page's "Often with" and "Example posts" in headless Chromium,
// against the real binary fed real posts (tests/fixtures/tokenize/posts.tsv,
// Mastodon, Bluesky and Reddit captures) through a push source: a term
// opened from the live table lists the terms of its recent posts with the
// counts GET /api/terms/{term}/related gives and its newest posts; a
// co-occurring term opens its own page; markup in a post stays text and only
// http(s) URLs become links. Screenshots go to tests/artifacts/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FIXTURES, httpGet, startTrendd, waitFor } from '../lib/harness.mjs';
import { PHONE, XSS, launch, overflowX, shot, stopServer } from './browser.mjs';

const TERM = 'trump'; // a word in 7 of the fixture posts

/* The fixture posts: origin, language and text (escapes undone). */
function fixturePosts() {
  const unescape = (s) => s.replace(/\\(.)/g, (_, c) => ({ n: '\n', t: '\t', r: '\r' }[c] ?? c));
  return fs.readFileSync(path.join(FIXTURES, 'tokenize/posts.tsv'), 'utf8').split('\n')
    .filter((l) => l.trim()).map((l) => {
      const [origin, lang, text] = l.split('\t');
      return { origin, lang, text: unescape(text) };
    });
}

describe('term detail: often with, example posts', { timeout: 180000 }, () => {
  let t, b, page, token;
  // the posts with the term: the fixture's, and one more made up below
  const MATCHED = fixturePosts().filter((p) => new RegExp(`\\b${TERM}\\b`, 'i').test(p.text)).length + 1;
  const SCANNED = fixturePosts().length + 1;

  before(async () => {
    t = await startTrendd([]);
    token = fs.readFileSync(t.db + '.token', 'utf8').trim();
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    let r = await fetch(t.base + '/api/sources', { method: 'POST', headers: auth,
      body: JSON.stringify({ kind: 'push', name: 'fixtures' }) });
    assert.equal(r.status, 201, await r.text());
    await waitFor(async () => (await httpGet(t.base, '/api/sources')).json?.some((s) => s.name === 'fixtures'),
      { what: 'the push source' });
    const now = Date.now();
    const lines = fixturePosts().map((p, i) => JSON.stringify({
      id: `fx-${i}`, author: `${p.origin.split(':')[0]}-author-${i % 17}`, text: p.text,
      lang: p.lang || undefined, created_at: new Date(now - (300 - i) * 500).toISOString(),
      url: `https://example.org/${p.origin.split(':')[0]}/${i}`,
    }));
    // the newest post with the term: markup in its text, a script URL
    lines.push(JSON.stringify({ id: 'fx-evil', author: '<b>mallory</b>', created_at: new Date(now).toISOString(),
      text: `${TERM} ${XSS} <script>window.__xss=2</script>`, url: 'javascript:window.__xss=3' }));
    r = await fetch(t.base + '/api/ingest?source=fixtures', { method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-ndjson' }, body: lines.join('\n') + '\n' });
    const body = await r.text();
    assert.equal(r.status, 200, body);
    const ack = JSON.parse(body);
    assert.equal(ack.accepted, lines.length, JSON.stringify(ack.errors));
    await waitFor(async () => (await httpGet(t.base, `/api/terms/${TERM}/related`)).json?.matched_posts === MATCHED,
      { what: 'the posts counted' });
    b = await launch();
    page = b.watch(b.context.pages()[0] || (await b.context.newPage()));
  });

  after(async () => {
    if (b) await b.close();
    await stopServer(t).catch(() => {});
    if (t) fs.rmSync(t.dir, { recursive: true, force: true });
  });

  it('answers GET /api/terms/{term}/related with exact counts and an ETag', async () => {
    const r = await httpGet(t.base, `/api/terms/${TERM}/related?limit=50&examples=20`);
    assert.equal(r.status, 200);
    const d = r.json;
    assert.equal(d.term, TERM);
    assert.equal(d.kind, 'word');
    assert.equal(d.scanned_posts, SCANNED);
    assert.equal(d.matched_posts, MATCHED);
    assert.equal(d.examples.length, MATCHED);
    assert.equal(d.examples[0].id, 'fx-evil');
    assert.equal(d.examples[0].url, 'javascript:window.__xss=3'); // the page decides what is a link
    assert.equal(d.examples[0].source, 'fixtures');
    // every co-occurring count is the number of example posts that contain it
    const texts = d.examples.map((e) => e.text.toLowerCase());
    for (const c of d.cooccurring.filter((c) => c.kind === 'word'))
      assert.ok(c.count <= texts.filter((x) => x.includes(c.term)).length, `${c.term} ${c.count}`);
    assert.ok(!d.cooccurring.some((c) => c.term === TERM && c.kind === 'word'));
    const again = await fetch(`${t.base}/api/terms/${TERM}/related?limit=50&examples=20`,
      { headers: { 'if-none-match': r.headers.get('etag') } });
    assert.equal(again.status, 304);
    assert.equal((await httpGet(t.base, `/api/terms/${TERM}/related?kind=everything`)).status, 400);
    assert.equal((await httpGet(t.base, `/api/terms/${'x'.repeat(300)}/related`)).status, 400);
  });

  it('opens a term from the live table and shows its co-occurring terms and example posts', async () => {
    const api = (await httpGet(t.base, `/api/terms/${TERM}/related?kind=word&limit=12&examples=5`)).json;
    assert.ok(api.cooccurring.length >= 3);
    await page.goto(`${t.base}/#/live?window=5m&kind=word&sort=count&limit=50`);
    const link = page.locator('[data-testid="trend-link"]', { hasText: new RegExp(`^${TERM}$`) });
    await link.first().click();
    await page.waitForSelector('[data-testid="page-term"]:not([hidden])');
    assert.equal(await page.textContent('[data-testid="term-title"]'), TERM);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="related-term"]').length === n,
      api.cooccurring.length, { timeout: 15000 });
    const chips = await page.$$eval('[data-testid="related-term"]', (as) => as.map((a) => ({
      text: a.firstChild.textContent, count: a.querySelector('.chip-count').textContent.trim(),
      href: a.getAttribute('href') })));
    assert.deepEqual(chips.map((c) => c.text), api.cooccurring.map((c) => c.term));
    assert.deepEqual(chips.map((c) => c.count), api.cooccurring.map((c) => String(c.count)));
    assert.equal(await page.textContent('[data-testid="term-related-status"]'),
      `In ${MATCHED} of the last ${SCANNED} posts; terms counted by the posts they share with it.`);

    const posts = page.locator('[data-testid="term-posts-list"] [data-testid="post"]');
    assert.equal(await posts.count(), 5);
    assert.deepEqual(await posts.locator('[data-testid="post-text"]').allTextContents(),
      api.examples.map((e) => e.text + (e.truncated ? '…' : '')));
    // markup stays text; a javascript: URL is no link; the others open safely in a new tab
    assert.equal(await posts.first().locator('[data-testid="post-text"]').textContent(),
      `${TERM} ${XSS} <script>window.__xss=2</script>`);
    assert.equal(await posts.first().locator('.post-author').textContent(), '<b>mallory</b>');
    assert.equal(await posts.first().locator('a').count(), 0);
    const links = await page.$$eval('[data-testid="term-posts-list"] a[data-testid="post-link"]', (as) =>
      as.map((a) => [a.getAttribute('href'), a.getAttribute('rel'), a.getAttribute('target')]));
    assert.equal(links.length, 4);
    for (const [href, rel, target] of links) {
      assert.match(href, /^https:\/\/example\.org\//);
      assert.equal(rel, 'noopener noreferrer');
      assert.equal(target, '_blank');
    }
    const r = await page.evaluate(() => ({ xss: window.__xss, imgs: document.querySelectorAll('main img').length,
      scripts: document.querySelectorAll('main script').length, bold: document.querySelectorAll('main b').length }));
    assert.deepEqual(r, { xss: undefined, imgs: 0, scripts: 0, bold: 0 });
    await page.locator('[data-testid="term-posts"]').scrollIntoViewIfNeeded();
    await shot(page, 'term-detail-1366');
    assert.deepEqual(b.problems, []);
  });

  it('opens a co-occurring term’s own page, from the keyboard too', async () => {
    const first = page.locator('[data-testid="related-term"]').first();
    const term = await first.evaluate((a) => a.firstChild.textContent);
    const kind = await first.getAttribute('data-kind');
    await first.focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction((x) => document.querySelector('[data-testid="term-title"]').textContent === x,
      term, { timeout: 10000 });
    assert.ok(page.url().includes(`#/term/${encodeURIComponent(kind)}/${encodeURIComponent(term)}`), page.url());
    const api = (await httpGet(t.base, `/api/terms/${encodeURIComponent(term)}/related?kind=${kind}&limit=12`)).json;
    assert.ok(api.matched_posts >= 1);
    // its own list: the first term is among them now, and the page asked for the new term
    await page.waitForFunction((want) => {
      const got = [...document.querySelectorAll('[data-testid="related-term"]')].map((a) => a.firstChild.textContent);
      return got.length === want.length && got.every((x, i) => x === want[i]);
    }, api.cooccurring.map((c) => c.term), { timeout: 15000 });
    assert.ok(api.cooccurring.some((c) => c.term === TERM));
    assert.deepEqual(b.problems, []);
  });

  it('says so when no recent post has the term, and fits a phone', async () => {
    await page.setViewportSize(PHONE);
    await page.evaluate(() => { location.hash = '#/term/hashtag/%23nosuchtagatall'; });
    await page.waitForFunction((n) => document.querySelector('[data-testid="term-related-status"]')
      .textContent === `None of the last ${n} posts has this term.`, SCANNED, { timeout: 15000 });
    assert.equal(await page.textContent('[data-testid="term-posts-status"]'), 'No recent post has this term.');
    assert.equal(await page.locator('[data-testid="related-term"]').count(), 0);
    await page.evaluate((x) => { location.hash = `#/term/word/${x}`; }, TERM);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="term-posts-list"] [data-testid="post"]').length === 5,
      null, { timeout: 15000 });
    assert.ok((await overflowX(page)) <= 0, 'the term page scrolls sideways at phone width');
    await page.locator('[data-testid="term-related"]').scrollIntoViewIfNeeded();
    await shot(page, 'term-detail-375');
    assert.deepEqual(b.problems, []);
  });
});
