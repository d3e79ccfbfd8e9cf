// `trendd parse` on RSS and Atom documents: every check of feedparser's
// test documents (tests/fixtures/feeds/feedparser/checks.json, conventions
// inside that file) and a sanity pass over real-world feeds
// (tests/fixtures/feeds/real). See tests/fixtures/feeds/ORIGIN.md.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { BIN, FIXTURES } from '../lib/harness.mjs';

const run = promisify(execFile);
const FEEDPARSER = path.join(FIXTURES, 'feeds/feedparser');
const REAL = path.join(FIXTURES, 'feeds/real');
const checks = JSON.parse(fs.readFileSync(path.join(FEEDPARSER, 'checks.json'), 'utf8'));

// Checks trendd does not pass on purpose, with the reason. Keep this list tiny.
const EXCEPTIONS = new Map([
  // (none)
]);

const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

// The conventions: title and text compare with runs of ASCII whitespace
// collapsed and the ends trimmed; other whitespace (NBSP, ZWJ...) is data.
const collapse = (s) => String(s).replace(/[ \t\r\n]+/g, ' ').replace(/^ | $/g, '');

/* Runs `trendd parse` and returns { doc, posts } from its NDJSON output. */
async function parse(file, headers = {}) {
  const args = ['parse'];
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === 'content-type') args.push('--content-type', value);
    if (name.toLowerCase() === 'content-location') args.push('--base-url', value);
  }
  args.push(file);
  const { stdout } = await run(BIN, args, { maxBuffer: 64 << 20, encoding: 'utf8' });
  const lines = stdout.split('\n').filter((l) => l.length).map((l) => JSON.parse(l));
  assert.ok(lines.length >= 1, 'a document line');
  const [doc, ...posts] = lines;
  assert.equal(doc.type, 'document');
  for (const p of posts) {
    assert.equal(p.type, 'post');
    for (const k of ['id', 'url', 'title', 'text', 'author', 'lang', 'created_at'])
      assert.equal(typeof p[k], 'string', `post.${k} is a string`);
    assert.match(p.created_at, STAMP);
  }
  return { doc, posts };
}

/* The value a check's path names in trendd's output. */
function valueAt(out, p) {
  if (p === 'feed.title') return out.doc.title;
  const m = /^entries\[(\d+)\]\.(\w+)$/.exec(p);
  assert.ok(m, `known check path ${p}`);
  const post = out.posts[Number(m[1])];
  assert.ok(post, `entry ${m[1]} exists (${out.posts.length} posts)`);
  const field = { id: 'id', url: 'url', title: 'title', text: 'text', author: 'author',
                  created_at: 'created_at' }[m[2]];
  assert.ok(field, `known field ${m[2]}`);
  return post[field];
}

describe('feedparser documents (checks.json)', () => {
  for (const entry of checks.files) {
    it(entry.file, async () => {
      const out = await parse(path.join(FEEDPARSER, entry.file), entry.http_headers || {});
      for (const c of entry.checks) {
        const key = `${entry.file} ${c.path}`;
        if (EXCEPTIONS.has(key)) continue;
        const what = `${c.path} (${c.from}); error: ${out.doc.error}`;
        if (c.op === 'wellformed') {
          assert.equal(out.doc.wellformed, c.value, what);
        } else if (c.path === 'feed.title' || /\.(title|text)$/.test(c.path)) {
          assert.equal(collapse(valueAt(out, c.path)), collapse(c.value), what);
        } else {
          assert.equal(valueAt(out, c.path), c.value, what);
        }
      }
      // An ill-formed document is output, never a crash: the error says why.
      if (!out.doc.wellformed) assert.ok(out.doc.error && out.doc.error.length > 0);
    });
  }
});

function xmlFiles(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...xmlFiles(p));
    else if (e.name.endsWith('.xml')) out.push(p);
  }
  return out.sort();
}

// Real feeds that are not well-formed XML, and why; they must still be read.
const REAL_ILLFORMED = new Map([
  ['rss2/rss_2.0_invalid_1.xml', 'cut off after the channel header, before any item'],
  ['atom/atom_scattered.xml', 'whitespace before the XML declaration'],
]);
// Feeds that hold no item at all (so no post is the right answer).
const REAL_NO_ITEMS = new Set(['rss2/rss_2.0_invalid_1.xml']);

describe('real-world feeds', () => {
  const files = xmlFiles(REAL);
  it('are all there', () => assert.ok(files.length >= 40, `${files.length} feeds`));
  const earliest = Date.UTC(1995, 0, 1);
  for (const file of files) {
    const rel = path.relative(REAL, file);
    it(rel, async () => {
      // As the ingest thread reads them: relative links resolve against the feed's URL.
      const { doc, posts } = await parse(file, { 'Content-Location': `https://feeds.example/${rel}` });
      assert.equal(doc.wellformed, !REAL_ILLFORMED.has(rel), `wellformed; error: ${doc.error}`);
      assert.ok(['rss', 'atom'].includes(doc.format), doc.format);
      assert.ok(doc.title.trim().length > 0, 'a feed title');
      if (REAL_NO_ITEMS.has(rel)) assert.equal(posts.length, 0);
      else assert.ok(posts.length >= 1, 'at least one post');
      const ids = new Set();
      for (const p of posts) {
        assert.ok(p.id.length > 0, 'an id');
        ids.add(p.id);
        assert.ok(p.title.length > 0 || p.text.length > 0, `title or text in ${p.id}`);
        const t = Date.parse(p.created_at);
        assert.ok(t >= earliest && t <= Date.now() + 2 * 86400e3, `plausible date ${p.created_at}`);
        assert.ok(p.url === '' || /^https?:\/\//.test(p.url), `absolute url ${p.url}`);
        assert.ok(!/<\/?[a-z][^>]*>/i.test(p.title), `no markup in the title: ${p.title}`);
        assert.ok(!/&(amp|lt|gt|quot|#\d+);/.test(p.text), `entities decoded: ${p.text.slice(0, 80)}`);
      }
      assert.equal(ids.size, posts.length, 'ids are unique within a feed');
    });
  }
});

describe('format detection and errors', () => {
  it('names the format from the root element', async () => {
    const rss = await parse(path.join(FEEDPARSER, 'wellformed/rss/item_title.xml'));
    assert.equal(rss.doc.format, 'rss');
    const atom = await parse(path.join(REAL, 'rss2/rss_2.0_reddit.xml'));
    assert.equal(atom.doc.format, 'atom', 'a .xml "RSS" file that is really Atom');
    const rdf = await parse(path.join(REAL, 'rss1/rss_1.0_spec_1.xml'));
    assert.equal(rdf.doc.format, 'rss');
  });

  it('says in words why an HTML page is not a feed', async () => {
    const dir = fs.mkdtempSync(path.join(process.env.TMPDIR || '/tmp', 'trendd-parse-'));
    const f = path.join(dir, 'page.html');
    fs.writeFileSync(f, '<!DOCTYPE html>\n<html><head><title>Hi</title></head><body>x</body></html>\n');
    const { doc, posts } = await parse(f);
    assert.equal(doc.wellformed, false);
    assert.match(doc.error, /not an RSS or Atom feed.*<html>/);
    assert.equal(posts.length, 0);
    fs.rmSync(dir, { recursive: true });
  });

  it('resolves relative links against --base-url', async () => {
    const dir = fs.mkdtempSync(path.join(process.env.TMPDIR || '/tmp', 'trendd-parse-'));
    const f = path.join(dir, 'rel.xml');
    fs.writeFileSync(f, '<rss version="2.0"><channel><title>t</title><item><title>a</title>' +
      '<link>/posts/1</link></item></channel></rss>');
    const { posts } = await parse(f, { 'Content-Location': 'https://blog.example/feed.xml' });
    assert.equal(posts[0].url, 'https://blog.example/posts/1');
    fs.rmSync(dir, { recursive: true });
  });
});
