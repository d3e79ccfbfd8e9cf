/*
 * history.c (web) - the parameters of the history endpoints (web/history.h).
 *
 * Every rule a parameter follows lives here, so a request either becomes a
 * query that satisfies the invariants of struct history_query or a 400 with
 * one readable sentence; the reader threads never see a bad query.
 */
#include "web/history.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/snapshot.h"
#include "core/term.h"

/* RFC 3339 or unix seconds are accepted up to the end of year 9999. */
#define TIME_MAX_MS 253402300799999LL

static bool is(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

int web_history_term_kind(const char *s, size_t len)
{
	if (len > 0 && s[0] == '#')
		return TERM_HASHTAG;
	if (len > 0 && s[0] == '@')
		return TERM_MENTION;
	if (len > 0 && s[0] == '$')
		return TERM_CASHTAG;
	if (memchr(s, ' ', len))
		return TERM_BIGRAM;
	if (memchr(s, '.', len))
		return TERM_DOMAIN;
	return TERM_WORD;
}

/* RFC 3339, or an integer count of seconds since 1970 (an ISO date is not a number). */
static int parse_time(const char *name, const char *v, size_t len, int64_t *out, char *err,
		      size_t errlen)
{
	bool digits = len > 0 && len <= 12;
	for (size_t i = 0; i < len && digits; i++)
		digits = v[i] >= '0' && v[i] <= '9';
	if (digits) {
		int64_t s = 0;
		for (size_t i = 0; i < len; i++)
			s = s * 10 + (v[i] - '0');
		*out = s * 1000;
	} else if (clock_parse_rfc3339(v, len, out) < 0) {
		snprintf(err, errlen, "%s is not a time: give RFC 3339 (2026-11-25T12:00:00Z) or "
				      "unix seconds", name);
		return -EINVAL;
	}
	if (*out < 0 || *out > TIME_MAX_MS) {
		snprintf(err, errlen, "%s is out of range (1970 to 9999)", name);
		return -EINVAL;
	}
	return 0;
}

static int parse_step(const char *v, size_t len, int64_t *out, char *err, size_t errlen)
{
	if (is(v, len, "1m"))
		*out = HISTORY_MINUTE_MS;
	else if (is(v, len, "1h"))
		*out = HISTORY_HOUR_MS;
	else if (is(v, len, "1d"))
		*out = HISTORY_DAY_MS;
	else {
		snprintf(err, errlen, "step must be 1m, 1h or 1d");
		return -EINVAL;
	}
	return 0;
}

static const char *step_name(int64_t step)
{
	return step == HISTORY_DAY_MS ? "1d" : step == HISTORY_HOUR_MS ? "1h" : "1m";
}

/* What the request said; 0 / NULL where it said nothing. */
struct params {
	const struct web_arg *from, *to, *step, *kind, *limit, *window, *sort, *at, *what;
};

static void params_read(const struct web_arg *args, size_t nargs, struct params *p)
{
	memset(p, 0, sizeof *p);
	for (size_t i = 0; i < nargs; i++) {
		const struct web_arg *a = &args[i];
		/* a repeated parameter: the last one wins (terms and term add up) */
		if (is(a->name, a->nlen, "from"))
			p->from = a;
		else if (is(a->name, a->nlen, "to"))
			p->to = a;
		else if (is(a->name, a->nlen, "step"))
			p->step = a;
		else if (is(a->name, a->nlen, "kind"))
			p->kind = a;
		else if (is(a->name, a->nlen, "limit"))
			p->limit = a;
		else if (is(a->name, a->nlen, "window"))
			p->window = a;
		else if (is(a->name, a->nlen, "sort"))
			p->sort = a;
		else if (is(a->name, a->nlen, "at"))
			p->at = a;
		else if (is(a->name, a->nlen, "what"))
			p->what = a;
	}
}

/* from and to as given, or their defaults: `span` before to, and now. */
static int range_read(const struct params *p, int64_t now_ms, int64_t span, int64_t *from,
		      int64_t *to, char *err, size_t errlen)
{
	*to = now_ms;
	if (p->to && parse_time("to", p->to->val, p->to->vlen, to, err, errlen) < 0)
		return -EINVAL;
	*from = *to - span;
	if (p->from && parse_time("from", p->from->val, p->from->vlen, from, err, errlen) < 0)
		return -EINVAL;
	if (*from < 0)
		*from = 0;
	if (*from >= *to) {
		snprintf(err, errlen, "from must be before to");
		return -EINVAL;
	}
	return 0;
}

/*
 * A series range: [from, to) widened to whole steps. The default step fits
 * the range (minutes up to 6 h, hours up to 31 days, else days); the default
 * range is the last 24 h, or 30 days at step 1d.
 */
static int series_range(const struct params *p, int64_t now_ms, struct history_query *q,
			char *err, size_t errlen)
{
	int64_t from, to, step = 0;

	if (p->step && parse_step(p->step->val, p->step->vlen, &step, err, errlen) < 0)
		return -EINVAL;
	if (range_read(p, now_ms, step == HISTORY_DAY_MS ? 30 * HISTORY_DAY_MS : HISTORY_DAY_MS,
		       &from, &to, err, errlen) < 0)
		return -EINVAL;
	if (!step)
		step = to - from <= 6 * HISTORY_HOUR_MS	   ? HISTORY_MINUTE_MS
		       : to - from <= 31 * HISTORY_DAY_MS ? HISTORY_HOUR_MS
							   : HISTORY_DAY_MS;
	from = history_floor(from, step);
	to = history_ceil(to, step);
	int64_t points = (to - from) / step;
	if (points > HISTORY_POINTS_MAX) {
		snprintf(err, errlen,
			 "that range at step %s is %lld points; a series has at most %d: "
			 "use a larger step or a shorter range",
			 step_name(step), (long long)points, HISTORY_POINTS_MAX);
		return -EINVAL;
	}
	q->from_ms = from;
	q->to_ms = to;
	q->step_ms = step;
	return 0;
}

static int term_kind_arg(const struct params *p, int *kind, char *err, size_t errlen)
{
	*kind = -1;
	if (!p->kind)
		return 0;
	int k = term_kind_parse(p->kind->val, p->kind->vlen);
	if (k < 0 || k == TERM_KIND_ALL) {
		snprintf(err, errlen, "kind must be one of word, hashtag, mention, cashtag, domain, "
				      "emoji, bigram");
		return -EINVAL;
	}
	*kind = k;
	return 0;
}

static int add_term(struct history_query *q, const char *s, size_t len, int kind, char *err,
		    size_t errlen)
{
	if (len == 0) {
		snprintf(err, errlen, "a term is empty");
		return -EINVAL;
	}
	if (q->nterms == HISTORY_TERMS_MAX) {
		snprintf(err, errlen, "too many terms: at most %d can be compared",
			 HISTORY_TERMS_MAX);
		return -EINVAL;
	}
	if (history_query_add_term(q, s, len, kind >= 0 ? kind : web_history_term_kind(s, len)) < 0)
		return -ENOMEM;
	return 0;
}

/* terms=a,b,c and term=x, in the order given. */
static int terms_read(struct history_query *q, const struct web_arg *args, size_t nargs, int kind,
		      char *err, size_t errlen)
{
	int rc;

	for (size_t i = 0; i < nargs; i++) {
		const struct web_arg *a = &args[i];
		if (is(a->name, a->nlen, "term")) {
			if ((rc = add_term(q, a->val, a->vlen, kind, err, errlen)) < 0)
				return rc;
		} else if (is(a->name, a->nlen, "terms")) {
			const char *s = a->val, *end = a->val + a->vlen;
			for (;;) {
				const char *c = memchr(s, ',', (size_t)(end - s));
				const char *e = c ? c : end;
				if ((rc = add_term(q, s, (size_t)(e - s), kind, err, errlen)) < 0)
					return rc;
				if (!c)
					break;
				s = c + 1;
			}
		}
	}
	return 0;
}

static int parse_series(struct history_query *q, const struct params *p, const char *path_term,
			size_t path_len, const struct web_arg *args, size_t nargs, int64_t now_ms,
			char *err, size_t errlen)
{
	int kind, rc;

	if ((rc = term_kind_arg(p, &kind, err, errlen)) < 0)
		return rc;
	if (q->what == HISTORY_TERM && path_term)
		rc = add_term(q, path_term, path_len, kind, err, errlen);
	else
		rc = terms_read(q, args, nargs, kind, err, errlen);
	if (rc < 0)
		return rc;
	if (q->nterms == 0) {
		snprintf(err, errlen, q->what == HISTORY_TERM ? "term= is required"
							       : "give the terms to compare: "
								 "terms=a,b,c or term=a&term=b");
		return -EINVAL;
	}
	if (q->what == HISTORY_TERM && q->nterms > 1) {
		snprintf(err, errlen, "one term= only; compare terms with what=compare");
		return -EINVAL;
	}
	return series_range(p, now_ms, q, err, errlen);
}

static int parse_top(struct history_query *q, const struct params *p, int64_t now_ms, char *err,
		     size_t errlen)
{
	int64_t from, to;

	q->kind = TERM_KIND_ALL;
	if (p->kind && (q->kind = term_kind_parse(p->kind->val, p->kind->vlen)) < 0) {
		snprintf(err, errlen, "kind must be one of all, word, hashtag, mention, cashtag, "
				      "domain, emoji, bigram");
		return -EINVAL;
	}
	q->limit = HISTORY_TOP_LIMIT_DEFAULT;
	if (p->limit) {
		uint64_t v = 0;
		bool ok = p->limit->vlen > 0 && p->limit->vlen <= 6;
		for (size_t i = 0; i < p->limit->vlen && ok; i++) {
			ok = p->limit->val[i] >= '0' && p->limit->val[i] <= '9';
			v = v * 10 + (uint64_t)(p->limit->val[i] - '0');
		}
		if (!ok || v < 1 || v > HISTORY_TOP_LIMIT_MAX) {
			snprintf(err, errlen, "limit must be an integer from 1 to %d",
				 HISTORY_TOP_LIMIT_MAX);
			return -EINVAL;
		}
		q->limit = (uint32_t)v;
	}
	if (range_read(p, now_ms, HISTORY_DAY_MS, &from, &to, err, errlen) < 0)
		return -EINVAL;
	from = history_floor(from, HISTORY_MINUTE_MS);
	to = history_ceil(to, HISTORY_MINUTE_MS);
	if (to - from > HISTORY_TOP_RANGE_MAX_MS) {
		snprintf(err, errlen, "the range is longer than %lld days; ask for a shorter one",
			 (long long)(HISTORY_TOP_RANGE_MAX_MS / HISTORY_DAY_MS));
		return -EINVAL;
	}
	q->from_ms = from;
	q->to_ms = to;
	return 0;
}

static int parse_sentiment(struct history_query *q, const struct params *p, int64_t now_ms,
			   char *err, size_t errlen)
{
	if (!p->window && (p->from || p->to || p->step))
		return series_range(p, now_ms, q, err, errlen);
	if (p->window && (p->from || p->to || p->step)) {
		snprintf(err, errlen, "give window= or from=/to=/step=, not both");
		return -EINVAL;
	}
	int w = WINDOW_24H;
	if (p->window && (w = window_parse(p->window->val, p->window->vlen)) < 0) {
		snprintf(err, errlen, "window must be 5m, 1h or 24h");
		return -EINVAL;
	}
	/* the window's steps up to the one still open */
	q->step_ms = w == WINDOW_24H ? HISTORY_HOUR_MS : HISTORY_MINUTE_MS;
	q->to_ms = history_ceil(now_ms + 1, q->step_ms);
	q->from_ms = q->to_ms - window_span_ms(w);
	return 0;
}

static int parse_snapshot(struct history_query *q, const struct params *p, int64_t now_ms,
			  char *err, size_t errlen)
{
	q->window = WINDOW_5M;
	if (p->window && (q->window = window_parse(p->window->val, p->window->vlen)) < 0) {
		snprintf(err, errlen, "window must be 5m, 1h or 24h");
		return -EINVAL;
	}
	q->sort = SORT_SCORE;
	if (p->sort) {
		if (is(p->sort->val, p->sort->vlen, "count"))
			q->sort = SORT_COUNT;
		else if (!is(p->sort->val, p->sort->vlen, "score")) {
			snprintf(err, errlen, "sort must be score or count");
			return -EINVAL;
		}
	}
	q->at_ms = now_ms;
	if (p->at && parse_time("at", p->at->val, p->at->vlen, &q->at_ms, err, errlen) < 0)
		return -EINVAL;
	q->from_ms = q->to_ms = q->at_ms;
	return 0;
}

int web_history_parse(enum history_what what, bool export_csv, const char *path_term,
		      size_t path_len, const struct web_arg *args, size_t nargs, int64_t now_ms,
		      struct history_query **out, char *err, size_t errlen)
{
	struct history_query *q;
	struct params p;
	int rc;

	*out = NULL;
	params_read(args, nargs, &p);
	if (export_csv) {
		const char *v = p.what ? p.what->val : "";
		size_t n = p.what ? p.what->vlen : 0;
		if (is(v, n, "term"))
			what = HISTORY_TERM;
		else if (is(v, n, "compare"))
			what = HISTORY_COMPARE;
		else if (is(v, n, "top"))
			what = HISTORY_TOP;
		else if (is(v, n, "sentiment"))
			what = HISTORY_SENTIMENT;
		else {
			snprintf(err, errlen, "what must be one of term, compare, top, sentiment");
			return -EINVAL;
		}
		path_term = NULL;
	}
	if (!(q = history_query_new(what)))
		return -ENOMEM;
	q->format = export_csv ? HISTORY_CSV : HISTORY_JSON;
	switch (what) {
	case HISTORY_TERM:
	case HISTORY_COMPARE:
		rc = parse_series(q, &p, path_term, path_len, args, nargs, now_ms, err, errlen);
		break;
	case HISTORY_TOP:
		rc = parse_top(q, &p, now_ms, err, errlen);
		break;
	case HISTORY_SENTIMENT:
		rc = parse_sentiment(q, &p, now_ms, err, errlen);
		break;
	case HISTORY_SNAPSHOT:
		rc = parse_snapshot(q, &p, now_ms, err, errlen);
		break;
	default:
		rc = -EINVAL;
		snprintf(err, errlen, "unknown history query");
	}
	if (rc < 0) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		history_query_free(q);
		return rc;
	}
	*out = q;
	return 0;
}
