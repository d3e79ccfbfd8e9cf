/*
 * Reading the history endpoints' answers (docs/API.md): one place that knows
 * their field names, so the pages deal only with
 *   points: [{ t (ms), count, authors, sentiment (mean, or null) }]
 *   top:    [{ term, kind, count, authors, sentiment }]
 *
 * GET /api/terms/{term}  {"term","kind","from","to","step","live","points":[{"t","count",
 *                          "authors","sentiment","pos","neg"}]}, one point per step
 * GET /api/terms         {"from","to","step","live","series":[{"term","kind","points"}]}
 * GET /api/history/top   {"from","to","kind","live","terms":[{"term","kind","count","authors",
 *                          "sentiment"}]}
 * Older or other shapes (a bare array, "time"/"ts" keys) are read as well.
 */
import { STEP_MS, parseTime, query } from './util.js';

const num = (v) => (Number.isFinite(Number(v)) ? Number(v) : 0);

function pointOf(o) {
  if (Array.isArray(o)) {
    const [t, count, authors, sentiment] = o;
    return { t: parseTime(t), count: num(count), authors: num(authors),
      sentiment: sentiment === null || sentiment === undefined ? null : num(sentiment) };
  }
  if (!o || typeof o !== 'object') return null;
  const t = parseTime(o.t ?? o.time ?? o.ts ?? o.at ?? o.start ?? o.bucket ?? o.minute ??
    o.from ?? o.time_ms ?? o.minute_ms ?? o.start_ms ?? '');
  const count = num(o.count ?? o.n ?? o.posts);
  let sentiment = o.sentiment ?? o.mean_sentiment ?? null;
  if (sentiment === null && o.sent_sum !== undefined && count > 0) sentiment = num(o.sent_sum) / count;
  return { t, count, authors: num(o.authors ?? o.distinct_authors), sentiment: sentiment === null ? null : num(sentiment) };
}

/* The points of one term's series document (or of one entry of a multi-term answer). */
export function seriesOf(doc) {
  let arr = null;
  if (Array.isArray(doc)) arr = doc;
  else if (doc && typeof doc === 'object') {
    arr = doc.points ?? doc.series ?? doc.data ?? doc.rows ?? doc.values ?? doc.buckets ?? null;
    if (!arr && Array.isArray(doc.t) && Array.isArray(doc.count)) {
      arr = doc.t.map((t, i) => [t, doc.count[i], doc.authors?.[i], doc.sentiment?.[i]]);
    }
  }
  if (!Array.isArray(arr)) return [];
  return arr.map(pointOf).filter((p) => p && Number.isFinite(p.t)).sort((a, b) => a.t - b.t);
}

/* [{ term, kind, points }] from GET /api/terms?terms=… */
export function multiSeriesOf(doc) {
  let list = doc && (doc.terms ?? doc.series ?? doc.results);
  if (Array.isArray(doc)) list = doc;
  if (Array.isArray(list)) {
    return list.filter((x) => x && typeof x === 'object').map((x) => ({
      term: String(x.term ?? x.name ?? ''), kind: String(x.kind ?? ''), points: seriesOf(x),
    }));
  }
  if (list && typeof list === 'object') {
    return Object.entries(list).map(([term, v]) => ({ term, kind: String(v?.kind ?? ''), points: seriesOf(v) }));
  }
  return [];
}

/* [{ term, kind, count, authors, sentiment }] from GET /api/history/top */
export function topOf(doc) {
  const list = Array.isArray(doc) ? doc : doc && (doc.terms ?? doc.top ?? doc.trends);
  if (!Array.isArray(list)) return [];
  return list.filter((x) => x && typeof x === 'object' && x.term !== undefined).map((x) => {
    const count = num(x.count);
    let sentiment = x.sentiment ?? null;
    if (sentiment === null && x.sent_sum !== undefined && count > 0) sentiment = num(x.sent_sum) / count;
    return { term: String(x.term), kind: String(x.kind ?? ''), count, authors: num(x.authors),
      sentiment: sentiment === null ? null : num(sentiment) };
  });
}

/*
 * The CSV export of a history query: /api/export.csv takes the query's own
 * parameters plus what=term|compare|top|sentiment.
 */
export function exportHref(what, params) {
  return 'api/export.csv' + query({ what, ...params });
}

/* One point per step from `from` to `to`: steps the server left out had no posts. */
export function densify(points, from, to, step) {
  const ms = STEP_MS[step];
  const byKey = new Map();
  for (const p of points) {
    const k = Math.floor(p.t / ms) * ms;
    const o = byKey.get(k);
    if (o) {
      // two rows in one step: add counts, weight the sentiment by count
      const n = o.count + p.count;
      o.sentiment = n ? ((o.sentiment ?? 0) * o.count + (p.sentiment ?? 0) * p.count) / n : null;
      o.count = n;
      o.authors = Math.max(o.authors, p.authors);
    } else {
      byKey.set(k, { ...p, t: k });
    }
  }
  const start = Math.floor(from / ms) * ms;
  const n = Math.ceil((to - start) / ms);
  if (n > 5000) return [...byKey.values()].sort((a, b) => a.t - b.t);
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = start + i * ms;
    out.push(byKey.get(t) || { t, count: 0, authors: 0, sentiment: null });
  }
  return out;
}
