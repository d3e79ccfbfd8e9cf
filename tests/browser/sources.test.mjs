// The sources page in headless Chromium against the real binary (`trendd
// --demo`) and a local fixture server: the form validates, asks for the
// admin token once (and again after a 401), adds a source that then polls,
// edits, disables, enables, polls now and deletes after confirmation; the
// live status follows the WebSocket; hostile source names, feed titles and
// error texts stay text; the test fetch lists the posts trendd parsed from the
// feed (titles with markup as text) and the button hides itself against a
// server without the endpoint. Screenshots go to
// tests/artifacts/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fixtureServer, freePort, httpGet, readCapture, startTrendd, tmpDir, waitFor } from '../lib/harness.mjs';
import { PHONE, XSS, go, launch, overflowX, shot, stopServer } from './browser.mjs';

const CARD = '[data-testid="source-card"]';
const card = (page, name) => page.locator(CARD, { has: page.locator(`[data-testid="source-name"]:text-is("${name}")`) });

/* An RSS feed whose channel and item titles are markup, in a language of its own. */
function hostileFeed() {
  const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const now = new Date().toUTCString();
  const items = [1, 2, 3].map((i) => `
    <item>
      <title>${esc(XSS)} quokka report ${i}</title>
      <link>http://127.0.0.1/item/${i}</link>
      <guid>quokka-${i}</guid>
      <pubDate>${now}</pubDate>
      <description>${esc('<p>quokka sightings <b>rise</b></p>')}</description>
    </item>`).join('');
  return `<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel>
  <title>${esc(XSS)}</title><link>http://127.0.0.1/</link><description>d</description>
  <language>eo</language>${items}
</channel></rss>`;
}

describe('sources page', { timeout: 300000 }, () => {
  let server, fx, dataDir, token, b, page;
  const posts = [];   // POST /api/sources requests the page made

  before(async () => {
    const timeline = readCapture('mastodon/timeline_public.http').body;
    fx = await fixtureServer({
      '/m/api/v1/timelines/public': (req, res, url) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(url.searchParams.get('min_id') ? '[]' : timeline);
      },
      '/feed.xml': (req, res) => {
        res.writeHead(200, { 'content-type': 'application/rss+xml; charset=utf-8' });
        res.end(hostileFeed());
      },
      '/notfeed.xml': (req, res) => {
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end('<img src="x" onerror="window.__xss=1"/>');
      },
    });
    dataDir = tmpDir('trendd-browser-src-');
    const db = path.join(dataDir, 'trendd.db');
    server = await startTrendd(['--demo'], { port: await freePort(), db });
    token = fs.readFileSync(db + '.token', 'utf8').trim();
    b = await launch();
    // a wrong token is refused with 401 on purpose; a stand-in answers the preview with 404
    b.allow.push(/status of 401 .*\/api\/sources/, /status of 40[45] .*\/api\/sources\/preview/);
    page = await b.page();
    page.on('request', (r) => {
      if (r.method() === 'POST' && /\/api\/sources$/.test(r.url())) posts.push(r.postDataJSON());
    });
  });

  after(async () => {
    if (b) await b.close();
    await stopServer(server).catch(() => {});
    if (fx) await fx.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /* Answers the token dialog. */
  async function giveToken(value) {
    await page.waitForSelector('[data-testid="token-dialog"][open]');
    await page.fill('[data-testid="token-input"]', value);
    await page.click('[data-testid="token-save"]');
  }

  it('validates the form, asks for the token once and adds a source that polls', async () => {
    await page.goto(`${server.base}/#/sources`);
    await page.waitForSelector(`${CARD}[data-name="demo"]`);
    assert.match(await page.textContent('[data-testid="token-bar"]'), /No admin token/);
    assert.equal(await page.getAttribute('[data-testid="nav-sources"]', 'aria-current'), 'page');

    await page.click('[data-testid="source-add"]');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'src-kind');
    // nothing filled in: the errors are shown next to the fields and nothing is sent
    await page.fill('[data-testid="source-interval"]', '0');
    await page.click('[data-testid="source-save"]');
    assert.equal(await page.getAttribute('#src-name', 'aria-invalid'), 'true');
    assert.equal(await page.getAttribute('#src-url', 'aria-invalid'), 'true');
    assert.equal(await page.getAttribute('#src-interval', 'aria-invalid'), 'true');
    assert.match(await page.textContent('#src-interval-err'), /1 to 86400/);
    assert.match(await page.textContent('[data-testid="source-form-error"]'), /3 fields need attention/);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'src-name');
    await page.fill('[data-testid="source-name"]', 'demo');
    await page.fill('[data-testid="source-url"]', 'ftp://example.org/');
    await page.fill('[data-testid="source-interval"]', '3600');
    await page.selectOption('[data-testid="source-timeline"]', 'tag');
    await page.click('[data-testid="source-save"]');
    assert.match(await page.textContent('#src-name-err'), /Another source has this name/);
    assert.match(await page.textContent('#src-url-err'), /http/);
    assert.match(await page.textContent('#p-m-tag-err'), /hashtag/);
    assert.equal(posts.length, 0);

    await page.fill('[data-testid="source-name"]', 'fixture');
    await page.fill('[data-testid="source-url"]', `${fx.base}/m`);
    await page.selectOption('[data-testid="source-timeline"]', 'public');
    await page.fill('#p-m-limit', '40');
    await page.click('[data-testid="source-save"]');
    // no token yet: the dialog explains `trendd token`; a wrong one is refused and asked again
    await page.waitForSelector('[data-testid="token-dialog"][open]');
    assert.match(await page.textContent('[data-testid="token-dialog"]'), /trendd token --db/);
    await giveToken('f'.repeat(48));
    await page.waitForSelector('[data-testid="token-dialog"][open] #token-error:not([hidden])');
    assert.match(await page.textContent('#token-error'), /refused the token/);
    await giveToken(token);

    await page.waitForSelector(`${CARD}[data-name="fixture"]`, { timeout: 15000 });
    assert.deepEqual(posts.at(-1), { kind: 'mastodon', name: 'fixture', url: `${fx.base}/m`,
      interval_s: 3600, enabled: true, params: { timeline: 'public', limit: 40 } });
    assert.match(await page.textContent('[data-testid="source-status"]'), /Added “fixture”/);
    assert.equal(await page.isHidden('#src-form-panel'), true);
    // the first poll happens at once; the card follows the WebSocket's status
    await waitFor(async () => (await card(page, 'fixture').getAttribute('data-state')) === 'ok' &&
      Number((await card(page, 'fixture').locator('[data-testid="source-posts"]').textContent()).replace(/\D/g, '')) > 0,
    { timeout: 20000, what: 'the new source polled' });
    assert.ok(fx.hits['/m/api/v1/timelines/public'] >= 1);
    assert.equal(await page.evaluate(() => localStorage.getItem('trendd.adminToken')), token);
    assert.match(await page.textContent('[data-testid="token-bar"]'), /saved in this browser/);
    await shot(page, 'sources-1366');
    assert.deepEqual(b.problems, []);
  });

  it('polls now, edits, disables and enables a source', async () => {
    const c = card(page, 'fixture');
    const hits = fx.hits['/m/api/v1/timelines/public'];
    await c.locator('[data-testid="source-poll"]').click();
    await waitFor(() => fx.hits['/m/api/v1/timelines/public'] > hits, { timeout: 15000, what: 'a poll now' });
    await waitFor(async () => /Polling “fixture” now/.test(await page.textContent('[data-testid="source-status"]')),
      { timeout: 10000, what: 'the poll-now message' });

    await c.locator('[data-testid="source-edit"]').click();
    assert.equal(await page.inputValue('[data-testid="source-name"]'), 'fixture');
    assert.equal(await page.inputValue('[data-testid="source-url"]'), `${fx.base}/m`);
    assert.equal(await page.inputValue('#p-m-limit'), '40');
    await page.fill('[data-testid="source-interval"]', '1800');
    await page.click('[data-testid="source-save"]');
    await waitFor(async () => /1,?800 s/.test(await c.textContent()), { timeout: 15000, what: 'the new interval' });
    // focus goes back to the Edit button that opened the form once the save is answered (the
    // WebSocket may bring the new interval first, while the Save button still waits)
    await waitFor(async () => (await page.evaluate(() => document.activeElement.dataset.testid)) === 'source-edit',
      { timeout: 10000, what: 'focus back on Edit' });

    await c.locator('[data-testid="source-toggle"]').click();
    await waitFor(async () => (await c.getAttribute('data-state')) === 'disabled', { timeout: 15000, what: 'disabled' });
    assert.equal(await c.locator('[data-testid="source-toggle"]').textContent(), 'Enable');
    assert.equal(await c.locator('[data-testid="source-poll"]').isDisabled(), true);
    const listed = (await httpGet(server.base, '/api/sources')).json.find((s) => s.name === 'fixture');
    assert.equal(listed.enabled, false);
    assert.equal(listed.interval_s, 1800);

    await c.locator('[data-testid="source-toggle"]').click();
    await waitFor(async () => (await c.getAttribute('data-state')) !== 'disabled', { timeout: 15000, what: 'enabled' });
    assert.equal((await httpGet(server.base, '/api/sources')).json.find((s) => s.name === 'fixture').enabled, true);
    assert.deepEqual(b.problems, []);
  });

  it('forgets the token on request and deletes a source only after confirmation', async () => {
    await page.click('[data-testid="token-forget"]');
    assert.equal(await page.evaluate(() => localStorage.getItem('trendd.adminToken')), null);
    assert.match(await page.textContent('[data-testid="token-bar"]'), /No admin token/);

    const c = card(page, 'fixture');
    await c.locator('[data-testid="source-delete"]').click();
    await page.waitForSelector('[data-testid="confirm-dialog"][open]');
    assert.match(await page.textContent('[data-testid="confirm-dialog"]'), /“fixture”/);
    await page.click('[data-testid="confirm-no"]');
    assert.equal(await c.count(), 1);

    await c.locator('[data-testid="source-delete"]').click();
    await page.click('[data-testid="confirm-yes"]');
    await giveToken(token); // forgotten, so asked again
    await waitFor(async () => (await c.count()) === 0, { timeout: 15000, what: 'the card gone' });
    await waitFor(async () => /Deleted “fixture”/.test(await page.textContent('[data-testid="source-status"]')),
      { timeout: 10000, what: 'the deleted message' });
    assert.equal((await httpGet(server.base, '/api/sources')).json.some((s) => s.name === 'fixture'), false);
    assert.deepEqual(b.problems, []);
  });

  it('shows hostile source names, feed titles and errors as text', async () => {
    await page.click('[data-testid="source-add"]');
    await page.selectOption('[data-testid="source-kind"]', 'rss');
    await page.fill('[data-testid="source-name"]', XSS);
    await page.fill('[data-testid="source-url"]', `${fx.base}/feed.xml`);
    await page.fill('[data-testid="source-interval"]', '3600');

    // a server that offers the test fetch: its posts are listed, as text
    await page.route('**/api/sources/preview', (route) => route.fulfill({
      status: 200, contentType: 'application/json',
      body: JSON.stringify({ document: { format: 'rss', title: XSS, error: null },
        posts: [{ id: '1', title: XSS, text: `${XSS} quokka`, author: XSS, url: 'javascript:window.__xss=1',
          created_at: new Date().toISOString() }] }),
    }));
    await page.click('[data-testid="source-preview"]');
    await page.waitForSelector('[data-testid="source-preview-box"]:not([hidden]) [data-testid="post"]');
    assert.equal(await page.textContent('[data-testid="post-title"]'), XSS);
    assert.match(await page.textContent('#src-preview-title'), /1 post read/);
    assert.equal(await page.locator('[data-testid="source-preview-box"] a').count(), 0); // no javascript: link
    await page.unroute('**/api/sources/preview');
    // the real test fetch: trendd fetches the hostile feed once and lists what it parsed, as text
    const fetched = fx.hits['/feed.xml'] || 0;
    await page.click('[data-testid="source-preview"]');
    await page.waitForFunction(() => /3 posts read/.test(document.querySelector('#src-preview-title')?.textContent ?? ''),
      null, { timeout: 20000 });
    assert.equal(await page.textContent('#src-preview-title'), `“${XSS}”: 3 posts read`);
    assert.deepEqual(await page.locator('[data-testid="source-preview-box"] [data-testid="post-title"]').allTextContents(),
      [1, 2, 3].map((i) => `${XSS} quokka report ${i}`));
    assert.equal(fx.hits['/feed.xml'], fetched + 1);
    const previewed = await page.evaluate(() => ({
      xss: window.__xss, imgs: document.querySelectorAll('[data-testid="source-preview-box"] img').length,
    }));
    assert.deepEqual(previewed, { xss: undefined, imgs: 0 });
    await shot(page, 'sources-preview-1366');
    // nothing was stored by the test fetch
    assert.equal((await httpGet(server.base, '/api/sources')).json.some((s) => s.name === XSS), false);
    // a trendd without the preview endpoint: the button and the preview go away quietly
    await page.route('**/api/sources/preview', (route) => route.fulfill({
      status: 404, contentType: 'application/json', body: '{"error":"not found"}' }));
    await page.click('[data-testid="source-preview"]');
    await page.waitForSelector('[data-testid="source-preview"]', { state: 'hidden' });
    assert.equal(await page.isHidden('[data-testid="source-preview-box"]'), true);
    await page.unroute('**/api/sources/preview');

    await page.click('[data-testid="source-save"]');
    await page.waitForSelector(`${CARD} [data-testid="source-name"]:text-is("${XSS}")`, { timeout: 15000 });
    await waitFor(async () => (await card(page, XSS).getAttribute('data-state')) === 'ok',
      { timeout: 20000, what: 'the feed polled' });
    // a second one whose "feed" is an element of markup: the error names it, as text
    const r = await fetch(`${server.base}/api/sources`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'rss', name: `${XSS} 2`, url: `${fx.base}/notfeed.xml`, interval_s: 3600 }),
    });
    assert.equal(r.status, 201);
    const bad = card(page, `${XSS} 2`);
    await waitFor(async () => (await bad.count()) === 1 && !(await bad.locator('[data-testid="source-error"]').isHidden()),
      { timeout: 20000, what: 'the error of the second source' });
    assert.match(await bad.locator('[data-testid="source-error"]').textContent(), /<img>/);
    const inPage = await page.evaluate(() => ({
      xss: window.__xss, imgs: document.querySelectorAll('main img').length,
    }));
    assert.deepEqual(inPage, { xss: undefined, imgs: 0 });

    // the feed's titles became posts in a language of their own: their terms are text too
    await go(page, '#/live?sort=count&lang=eo', 'live');
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="trend-term"]')]
      .some((td) => /quokka/.test(td.textContent)), null, { timeout: 20000 });
    const live = await page.evaluate(() => ({
      xss: window.__xss, imgs: document.querySelectorAll('main img').length,
      sources: [...document.querySelectorAll('[data-testid="sources-list"] .source-name')].map((n) => n.textContent),
    }));
    assert.equal(live.xss, undefined);
    assert.equal(live.imgs, 0);
    assert.ok(live.sources.includes(XSS));
    assert.deepEqual(b.problems, []);
  });

  it('fits a phone-width screen with the form open', async () => {
    const p = await b.page(PHONE);
    await p.goto(`${server.base}/#/sources`);
    await p.waitForSelector(CARD);
    await p.click('[data-testid="source-add"]');
    await p.selectOption('[data-testid="source-kind"]', 'hn');
    assert.ok((await overflowX(p)) <= 0, 'the sources page is wider than the screen');
    await shot(p, 'sources-form-375');
    await p.close();
    assert.deepEqual(b.problems, []);
  });
});
