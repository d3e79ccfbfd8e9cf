// What the crash tests compare between a run that was killed and restarted
// and one uninterrupted run over the same input: the counts trendd answers
// over HTTP and the rows it stored.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { httpGet } from './harness.mjs';

/* One SQL query through the sqlite3 shell, its output trimmed. */
export const q = (db, sql) => execFileSync('sqlite3', [db, sql], { stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();

/*
 * From a running trendd, over [from, to): the top terms with counts, authors
 * and sentiment, the minute series of the first 12 of them, and the volume.
 */
export async function observeCounts(t, from, to) {
  const top = await httpGet(t.base, `/api/history/top?from=${from}&to=${to}&kind=all&limit=1000`);
  assert.equal(top.status, 200, top.text);
  assert.equal(top.json.live, true, 'the live part answered');
  const terms = top.json.terms.map((x) => ({ term: x.term, kind: x.kind, count: x.count, authors: x.authors,
    sentiment: Math.round(x.sentiment * 1000) }));
  const series = {};
  for (const x of top.json.terms.slice(0, 12)) {
    const r = await httpGet(t.base, `/api/terms/${encodeURIComponent(x.term)}?kind=${x.kind}&from=${from}&to=${to}&step=1m`);
    assert.equal(r.status, 200, r.text);
    series[`${x.kind}:${x.term}`] = r.json.points.filter((p) => p.count)
      .map((p) => [p.t, p.count, p.authors, p.pos, p.neg]);
  }
  const vol = await httpGet(t.base, `/api/sentiment?from=${from}&to=${to}&step=1m`);
  assert.equal(vol.status, 200, vol.text);
  const volume = vol.json.points.filter((p) => p.posts).map((p) => [p.t, p.posts, p.pos, p.neg]);
  return { terms, series, volume };
}

/* The term-minute, term-hour and volume rows of a stopped trendd's database. */
export function storedCounts(db) {
  return {
    minutes: q(db, 'SELECT t.kind, t.term, m.minute_ms, m.count, m.authors, m.pos, m.neg FROM term_minute m'
      + ' JOIN terms t ON t.id = m.term_id ORDER BY t.kind, t.term, m.minute_ms;'),
    hours: q(db, 'SELECT t.kind, t.term, h.hour_ms, h.count, h.pos, h.neg FROM term_hour h'
      + ' JOIN terms t ON t.id = h.term_id ORDER BY t.kind, t.term, h.hour_ms;'),
    volume: q(db, 'SELECT minute_ms, posts, pos, neg FROM volume_minute ORDER BY minute_ms;'),
  };
}
