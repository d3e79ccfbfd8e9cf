// Reddit, HN Search and JSON Feed sources against a local fixture server:
// trendd polls them from a --config file, ingests what the captured (Reddit,
// JSON Feed) and hand-written (HN, see tests/fixtures/hn/ORIGIN.md) documents
// hold, and asks the next poll for what comes after its cursor.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { BIN, FIXTURES, fixtureServer, httpGet, readCapture, replayCapture, startTrendd, tmpDir, waitFor } from '../lib/harness.mjs';

const run = promisify(execFile);

const LISTING = 'reddit/subreddit_popular_hot.http';
const EMPTY = 'reddit/empty_listing.http';
const HN_PAGE = path.join(FIXTURES, 'hn/search_by_date.json');

describe('reddit, hn and jsonfeed sources against a fixture server', () => {
  let fx, t, listing, hnPage, feed;
  const reddit = [], hn = [], limited = [];

  before(async () => {
    listing = JSON.parse(readCapture(LISTING).body.toString('utf8'));
    hnPage = JSON.parse(fs.readFileSync(HN_PAGE, 'utf8'));
    feed = fs.readFileSync(path.join(FIXTURES, 'jsonfeed/feed-rs_jsonfeed_example_1.json'));
    // The next HN poll: the newest second again (both of its items already
    // read) and one item from the second after it.
    const newer = structuredClone(hnPage.hits[0]);
    Object.assign(newer, { objectID: '46431300', created_at_i: 1767268806,
      created_at: '2026-01-01T12:00:06.000Z', comment_text: '<p>A later comment.</p>' });
    const second = { ...hnPage, hits: [newer, hnPage.hits[0], hnPage.hits[1]], nbHits: 3 };
    const emptyHn = { ...hnPage, hits: [], nbHits: 0, nbPages: 0 };

    fx = await fixtureServer({
      '/r/test/new.json': (req, res, url) => {
        reddit.push(url.searchParams);
        // After the newest post nothing is new; the first poll gets the listing.
        replayCapture(res, url.searchParams.get('before') ? EMPTY : LISTING);
      },
      '/r/private/new.json': (req, res) => replayCapture(res, 'reddit/error_403.http'),
      '/r/limited/new.json': (req, res, url) => {
        limited.push(Date.now());
        // Reddit's headers: a float string of requests left, seconds until the reset.
        replayCapture(res, EMPTY, { extraHeaders: { 'x-ratelimit-remaining': '1.0',
          'x-ratelimit-used': '599', 'x-ratelimit-reset': '30' } });
      },
      '/api/v1/search_by_date': (req, res, url) => {
        hn.push(url.searchParams);
        const f = url.searchParams.get('numericFilters');
        const body = !f ? hnPage : f === 'created_at_i>=1767268805' ? second : emptyHn;
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(body));
      },
      '/feed.json': (req, res) => {
        res.writeHead(200, { 'content-type': 'application/feed+json' });
        res.end(feed);
      },
    });
    const dir = tmpDir();
    const config = path.join(dir, 'trendd.json');
    fs.writeFileSync(config, JSON.stringify({
      sources: [
        { kind: 'reddit', name: 'reddit', url: fx.base + '/r/test', interval_s: 1 },
        { kind: 'hn', name: 'hn', url: fx.base, interval_s: 1 },
        { kind: 'jsonfeed', name: 'feed', url: fx.base + '/feed.json', interval_s: 1 },
        { kind: 'reddit', name: 'private', url: fx.base + '/r/private', interval_s: 1 },
        { kind: 'reddit', name: 'limited', url: fx.base + '/r/limited', interval_s: 1 },
      ],
    }));
    t = await startTrendd(['--config', config]);
  });
  after(async () => {
    if (t) await t.stop();
    if (fx) await fx.close();
  });

  const source = async (name) => (await httpGet(t.base, '/api/sources')).json.find((s) => s.name === name);

  it('ingests a Reddit listing and asks for what is newer than its newest post', async () => {
    const s = await waitFor(async () => {
      const x = await source('reddit');
      return x && x.status.polls >= 2 && reddit.length >= 2 ? x : null;
    }, { what: 'reddit source polled twice' });
    assert.equal(s.status.posts_seen, listing.data.children.length);
    assert.equal(s.status.items_skipped, 0);
    assert.equal(s.status.state, 'ok');
    const newest = listing.data.children[0].data.name;
    // Empty polls after the anchor are counted on the cursor.
    assert.match(s.status.cursor, new RegExp(`^${newest}(~\\d+)?$`));
    assert.equal(reddit[0].get('before'), null);
    assert.equal(reddit[0].get('limit'), '100');
    assert.equal(reddit[0].get('raw_json'), '1');
    assert.equal(reddit[1].get('before'), newest);
    assert.equal(reddit[1].get('raw_json'), '1');
  });

  it('ingests HN stories and comments and asks from the newest second on', async () => {
    const s = await waitFor(async () => {
      const x = await source('hn');
      return x && x.status.polls >= 3 && hn.length >= 3 ? x : null;
    }, { what: 'hn source polled three times' });
    // Six on the first page, one new on the second: the boundary second is not read twice.
    assert.equal(s.status.posts_seen, hnPage.hits.length + 1);
    assert.equal(s.status.state, 'ok');
    assert.equal(hn[0].get('numericFilters'), null);
    assert.equal(hn[0].get('tags'), '(story,comment)');
    assert.equal(hn[0].get('hitsPerPage'), '100');
    assert.equal(hn[1].get('numericFilters'), 'created_at_i>=1767268805');
    assert.equal(hn[2].get('numericFilters'), 'created_at_i>=1767268806');
    assert.equal(s.status.cursor, '1767268806:46431300');
  });

  it('ingests a JSON Feed and keeps its newest date as the cursor', async () => {
    const s = await waitFor(async () => {
      const x = await source('feed');
      return x && x.status.polls >= 2 ? x : null;
    }, { what: 'feed source polled twice' });
    assert.equal(s.status.posts_seen, 2);
    assert.equal(s.status.cursor, '2020-01-24T23:46:57.000Z');
    assert.equal(s.status.state, 'ok');
  });

  it('says in plain words why Reddit refused', async () => {
    const s = await waitFor(async () => {
      const x = await source('private');
      return x && x.status.consecutive_errors >= 1 ? x : null;
    }, { what: 'private source failed' });
    assert.equal(s.status.last_error,
      'HTTP 403 Forbidden: access denied (the listing is private, or Reddit blocks this client)');
    assert.equal(s.status.posts_seen, 0);
  });

  it('waits for the rate-limit window when Reddit says few requests are left', async () => {
    const s = await waitFor(async () => {
      const x = await source('limited');
      return x && x.status.polls >= 1 && x.status.last_ok ? x : null;
    }, { what: 'limited source polled' });
    const wait = Date.parse(s.status.next_poll) - Date.parse(s.status.last_ok);
    assert.ok(wait >= 25000, `next poll ${wait} ms after the last`);
    assert.equal(limited.length, 1);
  });

  it('never dies on these inputs and stops cleanly', async () => {
    const r = await httpGet(t.base, '/healthz');
    assert.equal(r.status, 200);
    const { code, signal } = await t.stop();
    assert.equal(code, 0, t.log().slice(-3000));
    assert.equal(signal, null);
    t = null;
  });
});

describe('trendd parse on Reddit, HN and JSON Feed documents', () => {
  const DOC_KEYS = ['type', 'format', 'wellformed', 'error', 'title'];
  const POST_KEYS = ['type', 'id', 'url', 'title', 'text', 'author', 'lang', 'created_at'];

  async function parse(rel, format) {
    const args = ['parse', ...(format ? ['--format', format] : []), path.join(FIXTURES, rel)];
    const { stdout } = await run(BIN, args, { maxBuffer: 64 << 20, encoding: 'utf8' });
    const [doc, ...posts] = stdout.split('\n').filter((l) => l).map((l) => JSON.parse(l));
    // Exactly the DESIGN §7 shape, keys in that order.
    assert.deepEqual(Object.keys(doc), DOC_KEYS);
    for (const p of posts) {
      assert.deepEqual(Object.keys(p), POST_KEYS);
      assert.match(p.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    return { doc, posts };
  }

  it('detects each format and prints its posts', async () => {
    const r = await parse('reddit/submission_comments.http');
    assert.equal(r.doc.format, 'reddit');
    assert.equal(r.doc.wellformed, true);
    assert.equal(r.doc.error, null);
    assert.equal(r.posts.length, 7);
    assert.deepEqual(r.posts[0], { type: 'post', id: 't3_jlbw48',
      url: 'https://www.reddit.com/r/SubTestBot1/comments/jlbw48/test_self_post/',
      title: 'Test self post', text: 'Test self post text', author: 'Watchful1BotTest', lang: '',
      created_at: '2020-10-31T03:59:49Z' });

    const h = await parse('hn/search_by_date.json');
    assert.equal(h.doc.format, 'hn');
    assert.equal(h.posts.length, 6);
    assert.equal(h.posts[3].title, 'Ask HN: How do you detect trending topics?');
    assert.equal(h.posts[3].created_at, '2026-01-01T11:59:30Z');

    const j = await parse('jsonfeed/feed-rs_jsonfeed_elastic_1.1.json');
    assert.equal(j.doc.format, 'jsonfeed');
    assert.equal(j.doc.title, 'Blog \u2013 InfluxData');
    assert.equal(j.posts[1].lang, 'en-AU');
    assert.equal(j.posts[1].created_at, '2018-02-06T13:34:12Z');

    // Mastodon timelines are still Mastodon.
    const m = await parse('mastodon/timeline_public.http');
    assert.equal(m.doc.format, 'mastodon');
    assert.equal(m.posts.length, 8);
  });

  it('reports error bodies and wrong formats as documents, exiting 0', async () => {
    const e = await parse('reddit/error_403.http', 'reddit');
    assert.equal(e.doc.wellformed, false);
    assert.match(e.doc.error, /^Reddit error 403: access denied/);
    assert.equal(e.posts.length, 0);

    const w = await parse('reddit/empty_listing.http', 'hn');
    assert.equal(w.doc.format, 'hn');
    assert.equal(w.doc.wellformed, false);
    assert.equal(w.doc.error, 'not an HN Search result: no "hits" array');

    const f = await parse('hn/error_400.json', 'hn');
    assert.match(f.doc.error, /^HN Search error 400: /);
  });
});
