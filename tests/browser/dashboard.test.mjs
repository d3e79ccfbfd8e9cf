// The dashboard in headless Chromium against the real binary (`trendd --demo`):
// the live table fills and changes in place, the controls re-subscribe,
// hostile terms stay text, and a server that goes away and comes back is
// shown as "disconnected — retrying" and then live again. Screenshots go to
// tests/artifacts/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { TOP, freePort, sleep, startTrendd, tmpDir, waitFor } from '../lib/harness.mjs';

const ARTIFACTS = path.join(TOP, 'tests/artifacts');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ROWS = '[data-testid="trends-body"] tr[data-testid="trend-row"]';

// Messages Chromium logs by itself while the server is down.
const EXPECTED_WHILE_DOWN = /WebSocket connection to .* failed|ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|net::ERR_/;

function shot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return page.screenshot({ path: path.join(ARTIFACTS, `dashboard-${name}.png`), fullPage: false });
}

async function rowCount(page) {
  return page.locator(ROWS).count();
}

describe('dashboard', { timeout: 300000 }, () => {
  let server, port, db, dataDir, profile, context, page;
  const problems = [];     // console errors and page errors
  let serverDown = false;  // console noise about the socket is expected then

  before(async () => {
    port = await freePort();
    dataDir = tmpDir('trendd-browser-');
    db = path.join(dataDir, 'trendd.db');
    server = await startTrendd(['--demo'], { port, db });
    // a fresh profile directory (Playwright passes it as --user-data-dir)
    profile = tmpDir('trendd-chromium-');
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1366, height: 768 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(30000);
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      if (serverDown && EXPECTED_WHILE_DOWN.test(m.text())) return;
      problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  });

  after(async () => {
    if (context) await context.close().catch(() => {});
    if (server) await server.stop().catch(() => {});
    for (const d of [profile, dataDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  it('fills the trends table and updates it in place without reloading', async () => {
    // The default view on a cold start: trend scores need history, so the
    // dashboard says it is warming up and shows the most used terms meanwhile.
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction((sel) => document.querySelectorAll(sel).length >= 5, ROWS,
      { timeout: 15000 });
    assert.match(await page.textContent('[data-testid="warmup-notice"]'), /Warming up/);
    assert.equal(await page.isVisible('[data-testid="warmup-notice"]'), true);
    assert.equal(await page.getAttribute('[data-testid="connection-state"]', 'data-state'), 'live');
    assert.equal(await page.isHidden('[data-testid="connection-banner"]'), true);

    // tag the page and every row element: a reload or a rebuilt table would lose the tags
    const before = await page.evaluate((sel) => {
      window.__trenddMarker = 'same page';
      const rows = [...document.querySelectorAll(sel)];
      rows.forEach((r) => { r.__trenddTag = r.dataset.term; });
      return {
        meta: document.querySelector('[data-testid="snapshot-meta"]').textContent,
        counts: rows.map((r) => r.dataset.term + '=' + r.querySelector('[data-testid="trend-count"]').textContent),
      };
    }, ROWS);
    await shot(page, 'live');

    // a new snapshot arrives and changes what the table shows
    await page.waitForFunction((b) => {
      const meta = document.querySelector('[data-testid="snapshot-meta"]').textContent;
      const rows = [...document.querySelectorAll('[data-testid="trends-body"] tr')];
      const counts = rows.map((r) => r.dataset.term + '=' + r.querySelector('[data-testid="trend-count"]').textContent);
      return meta !== b.meta && counts.join('|') !== b.counts.join('|');
    }, before, { timeout: 20000 });

    const after = await page.evaluate((sel) => {
      const rows = [...document.querySelectorAll(sel)];
      return {
        marker: window.__trenddMarker,
        kept: rows.filter((r) => r.__trenddTag && r.__trenddTag === r.dataset.term).length,
        total: rows.length,
        ranks: rows.map((r) => r.querySelector('.col-rank').textContent),
      };
    }, ROWS);
    assert.equal(after.marker, 'same page', 'the page reloaded');
    assert.ok(after.kept >= 1, 'rows were rebuilt instead of updated in place');
    assert.deepEqual(after.ranks, after.ranks.map((_, i) => String(i + 1)));
    // overview numbers are filled in
    assert.notEqual((await page.textContent('[data-testid="posts-total"]')).trim(), '–');
    assert.match(await page.textContent('[data-testid="overall-sentiment"]'), /^[+-]?\d\.\d\d$/);
    assert.deepEqual(problems, []);
  });

  it('re-subscribes when the controls change, by mouse and by keyboard', async () => {
    await page.check('input[name="sort"][value="count"]');
    await waitFor(async () => {
      const counts = await page.$$eval(ROWS, (rows) => rows.map((r) =>
        Number(r.querySelector('[data-testid="trend-count"] span').textContent.replace(/[^\d]/g, ''))));
      return counts.length >= 3 && counts.every((c, i) => i === 0 || counts[i - 1] >= c);
    }, { timeout: 20000, what: 'rows ordered by count' });
    await page.check('input[name="sort"][value="score"]');
    await waitFor(async () => {
      const meta = await page.textContent('[data-testid="snapshot-meta"]');
      const scores = await page.$$eval(ROWS, (rows) => rows.map((r) =>
        Number(r.querySelector('.col-score').textContent.replace(/[^\d.]/g, ''))));
      // right after start trending is warming up: the page says so and
      // shows the most used terms; later the rows are ordered by score
      const warming = await page.isVisible('[data-testid="warmup-notice"]');
      return /sort=score/.test(page.url()) && meta && scores.length > 0 &&
        (warming || scores.every((c, i) => i === 0 || scores[i - 1] >= c));
    }, { timeout: 20000, what: 'rows ordered by score, or the warm-up fallback' });
    assert.match(page.url(), /sort=score/);

    await page.selectOption('[data-testid="kind-select"]', 'hashtag');
    await waitFor(async () => {
      const kinds = await page.$$eval(ROWS, (rows) => rows.map((r) => r.dataset.kind));
      return kinds.length >= 1 && kinds.every((k) => k === 'hashtag');
    }, { timeout: 20000, what: 'only hashtags' });
    await shot(page, 'hashtags');

    // keyboard: focus the window group and move to "1 hour" with an arrow key
    await page.focus('input[name="window"][value="5m"]');
    await page.keyboard.press('ArrowRight');
    await waitFor(async () => /Window 1h/.test(await page.textContent('[data-testid="snapshot-meta"]')),
      { timeout: 20000, what: 'the 1h window' });
    assert.match(page.url(), /window=1h/);

    await page.selectOption('[data-testid="kind-select"]', 'all');
    await page.check('input[name="window"][value="5m"]');
    await page.waitForFunction((sel) => document.querySelectorAll(sel).length >= 1, ROWS,
      { timeout: 20000 });
    assert.deepEqual(problems, []);
  });

  it('puts hostile terms into the page as text', async () => {
    // A second page whose WebSocket goes through a proxy that adds a term
    // made of markup to every trends message from the real server.
    const evil = '<img src=x onerror="window.__trenddXss=1">';
    const p2 = await context.newPage();
    const errs = [];
    p2.on('pageerror', (e) => errs.push(e.message));
    await p2.routeWebSocket(/\/ws$/, (ws) => {
      const upstream = ws.connectToServer();
      upstream.onMessage((msg) => {
        try {
          const m = JSON.parse(msg);
          if (m.type === 'trends') {
            m.trends.unshift({ term: evil, kind: 'word', count: 999999, error: 0, authors: 999,
              score: 1e6, sentiment: -1, pos: 0, neu: 0, neg: 1, series: [1, 2, 3] });
            m.trends.push({ term: '<script>window.__trenddXss=2</script>', kind: '<b>x</b>',
              count: 1, error: 0, authors: 1, score: 0, sentiment: 0, pos: 0, neu: 1, neg: 0, series: [] });
            ws.send(JSON.stringify(m));
            return;
          }
        } catch { /* not JSON: pass through */ }
        ws.send(msg);
      });
    });
    await p2.goto(`http://127.0.0.1:${port}/#sort=count`);
    await p2.waitForFunction((t) => [...document.querySelectorAll('[data-testid="trend-term"]')]
      .some((td) => td.textContent === t), evil, { timeout: 20000 });
    const r = await p2.evaluate(() => ({
      xss: window.__trenddXss,
      imgs: document.querySelectorAll('[data-testid="trends-body"] img').length,
      scripts: document.querySelectorAll('[data-testid="trends-body"] script').length,
      bold: document.querySelectorAll('[data-testid="trends-body"] b').length,
    }));
    assert.deepEqual(r, { xss: undefined, imgs: 0, scripts: 0, bold: 0 });
    await shot(p2, 'hostile-terms');
    await p2.close();
    assert.deepEqual(errs, []);
  });

  it('shows "disconnected — retrying" when the server goes away and recovers after a restart', async () => {
    const rows = await rowCount(page);
    assert.ok(rows >= 1);
    serverDown = true;
    await server.stop('SIGKILL');
    server = null;
    await page.waitForSelector('[data-testid="connection-banner"]:not([hidden])', { timeout: 15000 });
    assert.match(await page.textContent('[data-testid="connection-banner"]'), /disconnected — retrying/);
    assert.equal(await page.getAttribute('[data-testid="connection-state"]', 'data-state'), 'disconnected');
    assert.equal(await page.getAttribute('[data-testid="connection-banner"]', 'role'), 'status');
    await shot(page, 'disconnected');
    // the last data stays on screen while retrying
    assert.equal(await rowCount(page), rows);

    await sleep(2500); // let the backoff grow past its first step
    server = await startTrendd(['--demo'], { port, db });
    await page.waitForFunction(() =>
      document.querySelector('[data-testid="connection-state"]').dataset.state === 'live',
    null, { timeout: 30000 });
    serverDown = false;
    await page.waitForSelector('[data-testid="connection-banner"][hidden]', { state: 'attached', timeout: 5000 });
    await page.waitForFunction((sel) => document.querySelectorAll(sel).length >= 5, ROWS,
      { timeout: 30000 });
    await shot(page, 'reconnected');
    assert.deepEqual(problems, []);
  });

  it('fits a phone-width screen', async () => {
    const p3 = await context.newPage();
    await p3.setViewportSize({ width: 390, height: 844 });
    await p3.goto(`http://127.0.0.1:${port}/#sort=count`);
    await p3.waitForFunction((sel) => document.querySelectorAll(sel).length >= 5, ROWS,
      { timeout: 20000 });
    const overflow = await p3.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
    await shot(p3, 'phone');
    await p3.close();
    assert.deepEqual(problems, []);
  });
});
