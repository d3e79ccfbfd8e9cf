// Shared by the browser tests: headless Debian Chromium through
// playwright-core, a console watcher that collects every error the page
// logs, screenshots into tests/artifacts/, and small page helpers.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { TOP, tmpDir } from '../lib/harness.mjs';

export const ARTIFACTS = path.join(TOP, 'tests/artifacts');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const PHONE = { width: 375, height: 812 };
export const DESKTOP = { width: 1366, height: 768 };

// Messages Chromium logs by itself while the server is down.
const EXPECTED_WHILE_DOWN = /WebSocket connection to .* failed|ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|net::ERR_/;

/*
 * A persistent context in a fresh profile directory. watch(page) records
 * console errors and page errors in `problems`, except the socket noise
 * expected while `serverDown` is set; `allow` takes further patterns a test
 * expects (e.g. a 401 it provokes on purpose), matched against the message
 * followed by a space and the URL it is about.
 */
export async function launch() {
  const profile = tmpDir('trendd-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: DESKTOP,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const b = {
    context,
    problems: [],
    serverDown: false,
    allow: [],
    watch(page) {
      page.setDefaultTimeout(30000);
      page.on('console', (m) => {
        if (m.type() !== 'error') return;
        const text = m.text();
        const where = (m.location() && m.location().url) || '';
        if (b.serverDown && EXPECTED_WHILE_DOWN.test(text)) return;
        if (b.allow.some((re) => re.test(`${text} ${where}`))) return;
        b.problems.push(`console: ${text}`);
      });
      page.on('pageerror', (e) => b.problems.push(`pageerror: ${e.message}`));
      return page;
    },
    async page(viewport = DESKTOP) {
      const p = b.watch(await context.newPage());
      await p.setViewportSize(viewport);
      return p;
    },
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
  return b;
}

export function shot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return page.screenshot({ path: path.join(ARTIFACTS, `dashboard-${name}.png`), fullPage: false });
}

/* How far the page is wider than the window (0 or less: no sideways scrolling). */
export function overflowX(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

/* The datasets of the Chart.js chart drawn on a canvas: [{ label, points: [[x, y]…] }]. */
export function chartData(page, selector) {
  return page.evaluate((sel) => {
    const canvas = document.querySelector(sel);
    const chart = canvas && window.Chart && window.Chart.getChart(canvas);
    if (!chart) return null;
    return chart.data.datasets.map((d) => ({
      label: d.label,
      points: d.data.map((p) => (p && typeof p === 'object' ? [p.x, p.y] : [null, p])),
    }));
  }, selector);
}

/* Opens a hash route in the running page and waits until its section shows. */
export async function go(page, hash, section) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await page.waitForSelector(`[data-testid="page-${section}"]:not([hidden])`, { timeout: 10000 });
}

export const XSS = '<img src=x onerror=window.__xss=1>';

/*
 * Stops a trendd from startTrendd() and waits for it to exit. (The harness's
 * own stop() leaves a 20 s timer running, which keeps node alive that long
 * after the last test.)
 */
export async function stopServer(t, signal = 'SIGTERM') {
  if (!t) return;
  const { proc, exited } = t;
  if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(resolve, 20000, null); });
  const r = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (!r) {
    proc.kill('SIGKILL');
    throw new Error('trendd did not stop within 20 s:\n' + t.log().slice(-4000));
  }
  return r;
}
