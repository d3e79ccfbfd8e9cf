/*
 * demo_feed.c - the demo feed's HTTP server, status ring and Mastodon JSON.
 *
 * One thread runs a poll() loop over an eventfd (stop), the listening socket
 * and up to DEMO_FEED_MAX_CONNS non-blocking client sockets. Each iteration
 * first generates every status whose time has come, so a request always sees
 * the ring up to the current moment. The ring, the generator and every
 * connection belong to that thread alone; nothing is shared, so no locks.
 *
 * Status ids are Mastodon snowflakes, (ms << 16) | sequence, strictly
 * increasing in ring order; every pagination query is a binary search plus a
 * walk over the ring.
 */
#include "ingest/demo_feed.h"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/strbuf.h"
#include "ingest/demo_vocab.h"

#define MOD "demo"

#define DEFAULT_POSTS_PER_S  40.0
#define DEFAULT_PREFILL_MS   120000
#define DEFAULT_RING         20000
#define DEFAULT_ACCOUNTS     3000
#define DEFAULT_RATE_LIMIT   3000
#define RATE_PERIOD_S        300       /* Mastodon's API throttle period */
#define MAX_LIMIT            40        /* Mastodon: twice the default of 20 */

#define TICK_MS              100       /* generation cadence when idle */
#define IDLE_MS              30000     /* keep-alive connection with no request */
#define HEADER_MS            10000     /* to receive a whole request head */
#define STALL_MS             30000     /* unsent output making no progress */
#define LINGER_MS            2000      /* reading leftovers after our last reply */
#define HEARTBEAT_MS         15000     /* streaming ":thump" */
#define STREAM_BATCH         500       /* statuses pushed per stream per tick */
#define MAX_HEADERS          100
#define QUERY_VALUE_BYTES    64        /* longer values of known parameters are refused */

enum conn_state { CONN_FREE, CONN_READ, CONN_STREAM, CONN_LINGER };

struct conn {
	int fd;
	enum conn_state state;
	char in[DEMO_FEED_REQUEST_BYTES];
	size_t in_len;
	size_t scan;               /* header-end search resumes here */
	uint64_t skip_body;        /* body bytes of the last request still to discard */
	struct strbuf out;
	size_t out_off;
	bool close_after;          /* close once out is flushed */
	bool eof;                  /* the peer shut its side */
	int64_t last_ms;           /* mono: last progress */
	int64_t req_start_ms;      /* mono: first byte of the pending request */
	int64_t until_ms;          /* mono: linger end or next heartbeat */
	uint64_t stream_after;     /* streaming: last status id sent */
};

struct demo_feed {
	pthread_t thread;
	bool started;
	int listen_fd, wake_fd;
	uint16_t port;
	double posts_per_s;
	uint32_t rate_limit;
	struct demo_gen *gen;      /* owned */

	/* Ring of statuses, oldest at head; ids strictly increase. */
	struct demo_status *ring;  /* owned, ring_cap slots */
	uint32_t ring_cap, ring_head, ring_len;
	int64_t epoch_wall_ms, epoch_mono_ms;  /* feed time 0 */
	double next_t;             /* feed time of the next status */
	int64_t last_ms;
	uint32_t seq;

	int64_t rl_window;         /* current throttle window (unix s / period) */
	uint32_t rl_count;
	uint64_t req_counter;

	struct strbuf body, hdr;   /* scratch for one response */
	struct conn conns[DEMO_FEED_MAX_CONNS];
};

/* ------------------------------------------------------------------- ring */

static struct demo_status *ring_at(struct demo_feed *d, uint32_t i)
{
	return &d->ring[(d->ring_head + i) % d->ring_cap];
}

/* First index whose id is > id (upper) or >= id (!upper). */
static uint32_t ring_bound(struct demo_feed *d, uint64_t id, bool upper)
{
	uint32_t lo = 0, hi = d->ring_len;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint64_t v = ring_at(d, mid)->id;
		if (upper ? v <= id : v < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct demo_status *recent_status(void *ctx, uint32_t back)
{
	struct demo_feed *d = ctx;
	return back < d->ring_len ? ring_at(d, d->ring_len - 1 - back) : NULL;
}

/*
 * Generates every status due by now. A feed that fell further behind than the
 * ring holds (the machine slept) skips ahead instead of generating statuses
 * that would be dropped at once.
 */
static void feed_catch_up(struct demo_feed *d)
{
	double now_t = (double)(clock_mono_ms() - d->epoch_mono_ms);
	double behind = (now_t - d->next_t) * d->posts_per_s / 1000.0;

	if (behind > 2.0 * d->ring_cap) {
		double keep_ms = d->ring_cap * 1000.0 / d->posts_per_s;
		demo_gen_skip_to(d->gen, now_t - keep_ms);
		d->next_t = demo_gen_next_time(d->gen, d->posts_per_s);
	}
	while (d->next_t <= now_t) {
		struct demo_status st;
		if (demo_gen_status(d->gen, d->next_t, recent_status, d, &st) < 0) {
			log_warn(MOD, "out of memory generating a status");
			return;
		}
		int64_t ms = d->epoch_wall_ms + (int64_t)d->next_t;
		if (ms <= d->last_ms) {
			ms = d->last_ms;
			if (++d->seq > 0xffff) {
				ms++;
				d->seq = 0;
			}
		} else {
			d->seq = 0;
		}
		d->last_ms = ms;
		st.created_ms = ms;
		st.id = ((uint64_t)ms << 16) | d->seq;

		struct demo_status *slot;
		if (d->ring_len == d->ring_cap) {
			slot = ring_at(d, 0);
			demo_status_clear(slot);
			d->ring_head = (d->ring_head + 1) % d->ring_cap;
			d->ring_len--;
		}
		slot = ring_at(d, d->ring_len);
		*slot = st;
		d->ring_len++;
		d->next_t = demo_gen_next_time(d->gen, d->posts_per_s);
	}
}

/* --------------------------------------------------------------- JSON out */

static void json_time(struct strbuf *sb, int64_t ms)
{
	char buf[32];
	clock_format_rfc3339_ms(ms, buf, sizeof buf);
	sb_json_cstr(sb, buf);
}

static void json_id(struct strbuf *sb, uint64_t id)
{
	sb_putc(sb, '"');
	sb_put_u64(sb, id);
	sb_putc(sb, '"');
}

/* Appends a URL or other text built in scratch as a JSON string. */
static void json_built(struct strbuf *sb, struct strbuf *scratch)
{
	sb_json_str(sb, scratch->buf ? scratch->buf : "", scratch->len);
	sb_reset(scratch);
}

static void json_account(struct strbuf *sb, const struct demo_account *a,
			 const struct demo_status *st, struct strbuf *tmp)
{
	char day[32];

	sb_puts(sb, "{\"id\":");
	json_id(sb, a->id);
	sb_puts(sb, ",\"username\":");
	sb_json_cstr(sb, a->username);
	sb_puts(sb, ",\"acct\":");
	sb_puts(tmp, a->username);
	if (a->domain) {
		sb_putc(tmp, '@');
		sb_puts(tmp, a->domain);
	}
	json_built(sb, tmp);
	sb_puts(sb, ",\"display_name\":");
	sb_json_cstr(sb, a->display_name);
	sb_printf(sb, ",\"locked\":%s,\"bot\":%s,\"discoverable\":%s,\"indexable\":%s,"
		  "\"group\":false,\"created_at\":",
		  a->locked ? "true" : "false", a->bot ? "true" : "false",
		  a->locked ? "false" : "true", a->followers % 5 ? "true" : "false");
	json_time(sb, a->created_ms);
	sb_puts(sb, ",\"note\":");
	sb_json_cstr(sb, a->note);
	sb_puts(sb, ",\"url\":");
	demo_account_url(tmp, a);
	json_built(sb, tmp);
	sb_puts(sb, ",\"uri\":");
	demo_account_uri(tmp, a);
	json_built(sb, tmp);
	sb_puts(sb, ",\"avatar\":\"https://" DEMO_LOCAL_DOMAIN "/avatars/original/missing.png\""
		",\"avatar_static\":\"https://" DEMO_LOCAL_DOMAIN "/avatars/original/missing.png\""
		",\"avatar_description\":\"\""
		",\"header\":\"https://" DEMO_LOCAL_DOMAIN "/headers/original/missing.png\""
		",\"header_static\":\"https://" DEMO_LOCAL_DOMAIN "/headers/original/missing.png\""
		",\"header_description\":\"\"");
	sb_printf(sb, ",\"followers_count\":%u,\"following_count\":%u,\"statuses_count\":%u",
		  a->followers, a->following, st->statuses_count);
	clock_format_rfc3339(st->created_ms, day, sizeof day);
	day[10] = 0;   /* Mastodon gives the day of the last status only */
	sb_puts(sb, ",\"last_status_at\":");
	sb_json_cstr(sb, day);
	sb_puts(sb, ",\"hide_collections\":null,\"show_media\":true,\"show_media_replies\":true,"
		"\"show_featured\":true,\"noindex\":false,"
		"\"feature_approval\":{\"automatic\":[],\"manual\":[],\"current_user\":\"denied\"},"
		"\"emojis\":[],\"roles\":[],\"fields\":[]}");
}

static void json_status(struct demo_feed *d, struct strbuf *sb, const struct demo_status *st,
			int64_t now_ms, struct strbuf *tmp)
{
	const struct demo_account *a = demo_gen_account(d->gen, st->account);

	sb_puts(sb, "{\"id\":");
	json_id(sb, st->id);
	sb_puts(sb, ",\"created_at\":");
	json_time(sb, st->created_ms);
	sb_puts(sb, ",\"in_reply_to_id\":");
	if (st->in_reply_to_id)
		json_id(sb, st->in_reply_to_id);
	else
		sb_puts(sb, "null");
	sb_puts(sb, ",\"in_reply_to_account_id\":");
	if (st->in_reply_to_account != DEMO_NO_ACCOUNT)
		json_id(sb, demo_gen_account(d->gen, st->in_reply_to_account)->id);
	else
		sb_puts(sb, "null");
	sb_printf(sb, ",\"sensitive\":%s,\"spoiler_text\":", st->sensitive ? "true" : "false");
	sb_json_cstr(sb, st->spoiler);
	sb_puts(sb, ",\"visibility\":\"public\",\"language\":");
	if (st->lang)
		sb_json_cstr(sb, st->lang);
	else
		sb_puts(sb, "null");

	sb_puts(sb, ",\"uri\":");
	demo_account_uri(tmp, a);
	sb_puts(tmp, "/statuses/");
	sb_put_u64(tmp, st->id);
	json_built(sb, tmp);
	sb_puts(sb, ",\"url\":");
	demo_account_url(tmp, a);
	sb_putc(tmp, '/');
	sb_put_u64(tmp, st->id);
	json_built(sb, tmp);

	/* Favourites and boosts accrue over a status's first ten minutes. */
	double age = (double)(now_ms - st->created_ms) / 600000.0;
	age = age < 0 ? 0 : age > 1 ? 1 : age;
	uint32_t favs = (uint32_t)(st->favourite_pop * sqrt(age));
	uint32_t boosts = (uint32_t)(st->reblogs * sqrt(age));
	sb_printf(sb, ",\"replies_count\":%u,\"reblogs_count\":%u,\"favourites_count\":%u,"
		  "\"quotes_count\":0,\"edited_at\":", st->replies, boosts, favs);
	if (st->edit_delay_ms && st->created_ms + st->edit_delay_ms <= now_ms)
		json_time(sb, st->created_ms + st->edit_delay_ms);
	else
		sb_puts(sb, "null");
	sb_puts(sb, ",\"content\":");
	sb_json_cstr(sb, st->content);
	sb_puts(sb, ",\"reblog\":null");
	if (st->app) {
		/* Mastodon shows the client only for its own users' statuses. */
		sb_puts(sb, ",\"application\":{\"name\":");
		sb_json_cstr(sb, st->app);
		sb_puts(sb, ",\"website\":");
		if (st->app_website)
			sb_json_cstr(sb, st->app_website);
		else
			sb_puts(sb, "null");
		sb_putc(sb, '}');
	}
	sb_puts(sb, ",\"account\":");
	json_account(sb, a, st, tmp);

	sb_puts(sb, ",\"media_attachments\":[],\"mentions\":[");
	for (int i = 0; i < st->nmentions; i++) {
		const struct demo_account *m = demo_gen_account(d->gen, st->mentions[i]);
		sb_puts(sb, i ? ",{\"id\":" : "{\"id\":");
		json_id(sb, m->id);
		sb_puts(sb, ",\"username\":");
		sb_json_cstr(sb, m->username);
		sb_puts(sb, ",\"url\":");
		demo_account_url(tmp, m);
		json_built(sb, tmp);
		sb_puts(sb, ",\"acct\":");
		sb_puts(tmp, m->username);
		if (m->domain) {
			sb_putc(tmp, '@');
			sb_puts(tmp, m->domain);
		}
		json_built(sb, tmp);
		sb_putc(sb, '}');
	}
	sb_puts(sb, "],\"tags\":[");
	for (int i = 0; i < st->ntags; i++) {
		sb_puts(sb, i ? ",{\"name\":" : "{\"name\":");
		demo_tag_name(tmp, st->tags[i]);
		json_built(sb, tmp);
		sb_puts(sb, ",\"url\":");
		demo_tag_url(tmp, st->tags[i]);
		json_built(sb, tmp);
		sb_putc(sb, '}');
	}
	sb_puts(sb, "],\"emojis\":[],\"tagged_collections\":[],\"quote\":null,\"card\":null,"
		"\"poll\":null,\"quote_approval\":{\"automatic\":[\"public\"],\"manual\":[],"
		"\"current_user\":\"denied\"}}");
}

/* ---------------------------------------------------------- HTTP requests */

struct req {
	char method[16];
	const char *target;        /* borrowed from the connection's buffer */
	size_t target_len;
	bool http11, keep_alive, head;
	const char *host, *inm;    /* borrowed; NULL when absent */
	size_t host_len, inm_len;
	uint64_t content_length;
};

static bool is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool header_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

/* Does the comma-separated header value contain token `tok`? */
static bool list_has(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok), i = 0;
	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t start = i;
		while (i < n && v[i] != ',')
			i++;
		size_t end = i;
		while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
			end--;
		if (end - start == tl && strncasecmp(v + start, tok, tl) == 0)
			return true;
	}
	return false;
}

/*
 * Parses a request head (request line, headers, blank line) in buf[0..len).
 * Returns 0, or the HTTP status that refuses it: 400 malformed, 431 too many
 * headers, 501 a transfer coding (we take no bodies but plain ones), 505
 * another HTTP version.
 */
static int req_parse(const char *buf, size_t len, struct req *r)
{
	const char *p = buf, *end = buf + len;
	bool first = true, conn_close = false, conn_keep = false, has_cl = false, te = false;
	int nheaders = 0;

	memset(r, 0, sizeof *r);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return 400;
		const char *le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
		size_t n = (size_t)(le - p);
		if (memchr(p, '\r', n))
			return 400;   /* a bare CR inside a line */
		if (first) {
			size_t i = 0;
			while (i < n && is_tchar((unsigned char)p[i]))
				i++;
			if (i == 0 || i >= sizeof r->method || i >= n || p[i] != ' ')
				return 400;
			memcpy(r->method, p, i);
			r->method[i] = 0;
			size_t t0 = ++i;
			while (i < n && p[i] != ' ') {
				unsigned char ch = (unsigned char)p[i];
				if (ch <= 0x20 || ch >= 0x7f)
					return 400;
				i++;
			}
			if (i == t0 || i >= n)
				return 400;
			r->target = p + t0;
			r->target_len = i - t0;
			const char *v = p + i + 1;
			size_t vl = n - i - 1;
			if (vl == 8 && memcmp(v, "HTTP/1.1", 8) == 0)
				r->http11 = true;
			else if (vl == 8 && memcmp(v, "HTTP/1.0", 8) == 0)
				r->http11 = false;
			else if (vl == 8 && memcmp(v, "HTTP/", 5) == 0 && v[6] == '.' &&
				 v[5] >= '0' && v[5] <= '9' && v[7] >= '0' && v[7] <= '9')
				return 505;
			else
				return 400;
			first = false;
		} else if (n == 0) {
			break;   /* end of the head */
		} else {
			if (p[0] == ' ' || p[0] == '\t')
				return 400;   /* obsolete line folding */
			if (++nheaders > MAX_HEADERS)
				return 431;
			size_t i = 0;
			while (i < n && is_tchar((unsigned char)p[i]))
				i++;
			if (i == 0 || i >= n || p[i] != ':')
				return 400;
			const char *name = p;
			size_t nl_len = i++;
			while (i < n && (p[i] == ' ' || p[i] == '\t'))
				i++;
			const char *v = p + i;
			size_t vl = n - i;
			while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			for (size_t k = 0; k < vl; k++) {
				unsigned char ch = (unsigned char)v[k];
				if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
					return 400;
			}
			if (header_is(name, nl_len, "host")) {
				if (r->host)
					return 400;
				r->host = v;
				r->host_len = vl;
			} else if (header_is(name, nl_len, "connection")) {
				conn_close |= list_has(v, vl, "close");
				conn_keep |= list_has(v, vl, "keep-alive");
			} else if (header_is(name, nl_len, "content-length")) {
				uint64_t cl = 0;
				if (vl == 0 || vl > 18)
					return 400;
				for (size_t k = 0; k < vl; k++) {
					if (v[k] < '0' || v[k] > '9')
						return 400;
					cl = cl * 10 + (uint64_t)(v[k] - '0');
				}
				if (has_cl && cl != r->content_length)
					return 400;
				has_cl = true;
				r->content_length = cl;
			} else if (header_is(name, nl_len, "transfer-encoding")) {
				te = true;
			} else if (header_is(name, nl_len, "if-none-match")) {
				r->inm = v;
				r->inm_len = vl;
			}
		}
		p = nl + 1;
	}
	if (first)
		return 400;
	if (r->http11 && !r->host)
		return 400;   /* RFC 9112: a 1.1 request without Host is refused */
	if (te)
		return has_cl ? 400 : 501;
	r->keep_alive = r->http11 ? !conn_close : conn_keep && !conn_close;
	r->head = strcmp(r->method, "HEAD") == 0;
	return 0;
}

/* Index just past the blank line ending the head, or 0 while it is incomplete. */
static size_t head_end(struct conn *c)
{
	size_t i = c->scan > 0 ? c->scan : 1;
	for (; i < c->in_len; i++) {
		if (c->in[i] != '\n')
			continue;
		if (c->in[i - 1] == '\n' ||
		    (i >= 2 && c->in[i - 1] == '\r' && c->in[i - 2] == '\n'))
			return i + 1;
	}
	c->scan = c->in_len;
	return 0;
}

static int hex_val(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = (char)(ch | 32);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Decodes %XX (and + as space in queries). -1 on a bad escape or overflow. */
static int pct_decode(const char *s, size_t n, char *dst, size_t cap, bool plus, size_t *out)
{
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '%') {
			if (i + 2 >= n)
				return -1;
			int hi = hex_val(s[i + 1]), lo = hex_val(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			ch = (char)(hi * 16 + lo);
			i += 2;
		} else if (plus && ch == '+') {
			ch = ' ';
		}
		if (j + 1 >= cap)
			return -1;
		dst[j++] = ch;
	}
	dst[j] = 0;
	*out = j;
	return 0;
}

/* ------------------------------------------------------------- responses */

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	default: return "Internal Server Error";
	}
}

/* IMF-fixdate, written by hand so the process locale cannot change it. */
static void http_date(char *buf, size_t cap)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	snprintf(buf, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
		 months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

struct reply {
	int status;
	const char *ctype;         /* NULL: no body at all (304) */
	const char *body;          /* borrowed */
	size_t body_len;
	const char *extra;         /* borrowed: header lines, each ending in CRLF */
	bool close;
	bool head;                 /* send headers only */
};

static void conn_reply(struct demo_feed *d, struct conn *c, const struct reply *rp)
{
	char date[40];
	struct strbuf *o = &c->out;
	uint64_t rid = hash_u64(++d->req_counter ^ (uint64_t)d->epoch_wall_ms);

	http_date(date, sizeof date);
	sb_printf(o, "HTTP/1.1 %d %s\r\ndate: %s\r\n", rp->status, status_text(rp->status), date);
	if (rp->ctype)
		sb_printf(o, "content-type: %s\r\ncontent-length: %zu\r\n", rp->ctype,
			  rp->body_len);
	/* A UUID-shaped request id, as Mastodon sends. */
	sb_printf(o, "x-request-id: %08x-%04x-4%03x-a%03x-%012llx\r\n", (unsigned)(rid >> 32),
		  (unsigned)(rid >> 16) & 0xffff, (unsigned)rid & 0xfff,
		  (unsigned)(rid >> 40) & 0xfff,
		  (unsigned long long)(rid * 0x9e3779b97f4a7c15ull) & 0xffffffffffffull);
	if (rp->extra)
		sb_puts(o, rp->extra);
	sb_puts(o, rp->close ? "connection: close\r\n\r\n" : "connection: keep-alive\r\n\r\n");
	if (rp->ctype && !rp->head)
		sb_append(o, rp->body, rp->body_len);
	if (rp->close)
		c->close_after = true;
}

static void reply_error(struct demo_feed *d, struct conn *c, const struct req *r, int status,
			const char *msg, const char *extra, bool close)
{
	sb_reset(&d->body);
	sb_puts(&d->body, "{\"error\":");
	sb_json_cstr(&d->body, msg);
	sb_putc(&d->body, '}');
	struct reply rp = { status, "application/json; charset=utf-8", d->body.buf, d->body.len,
			    extra, close || !r || !r->keep_alive, r && r->head };
	conn_reply(d, c, &rp);
}

/*
 * Counts one API request against the throttle window and appends the
 * X-RateLimit-* headers. The reset time is the window's end plus the current
 * sub-second part, in ISO 8601 with microseconds, as Mastodon sends it.
 * Returns false when the request is over the limit.
 */
static bool rate_limit_take(struct demo_feed *d, struct strbuf *hdr, int64_t *retry_s)
{
	struct timespec ts;
	char reset[40];
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t window = (int64_t)ts.tv_sec / RATE_PERIOD_S;
	if (window != d->rl_window) {
		d->rl_window = window;
		d->rl_count = 0;
	}
	if (d->rl_count < UINT32_MAX)
		d->rl_count++;
	int64_t reset_s = (window + 1) * RATE_PERIOD_S;
	clock_format_rfc3339(reset_s * 1000, reset, sizeof reset);
	reset[19] = 0;   /* drop the Z; microseconds follow */
	uint32_t remaining = d->rl_count >= d->rate_limit ? 0 : d->rate_limit - d->rl_count;
	sb_printf(hdr, "x-ratelimit-limit: %u\r\nx-ratelimit-remaining: %u\r\n"
		  "x-ratelimit-reset: %s.%06ldZ\r\n", d->rate_limit, remaining, reset,
		  (long)(ts.tv_nsec / 1000));
	*retry_s = reset_s - (int64_t)ts.tv_sec;
	return d->rl_count <= d->rate_limit;
}

/* Weak comparison of an If-None-Match list against our (weak) ETag. */
static bool etag_matches(const struct req *r, const char *etag)
{
	const char *v = r->inm, *want = etag + 2;   /* skip W/ */
	size_t n = r->inm_len, wl = strlen(want), i = 0;
	while (v && i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		if (i < n && v[i] == '*')
			return true;
		if (i + 1 < n && v[i] == 'W' && v[i + 1] == '/')
			i += 2;
		size_t start = i;
		while (i < n && v[i] != ',')
			i++;
		size_t end = i;
		while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
			end--;
		if (end - start == wl && memcmp(v + start, want, wl) == 0)
			return true;
	}
	return false;
}

/* A 200 JSON reply with an ETag; 304 when the client already has it. */
static void reply_json(struct demo_feed *d, struct conn *c, const struct req *r)
{
	char etag[32];
	snprintf(etag, sizeof etag, "W/\"%016llx\"",
		 (unsigned long long)hash_bytes(d->body.buf ? d->body.buf : "", d->body.len));
	sb_printf(&d->hdr, "cache-control: private, no-store\r\nvary: Authorization, Origin\r\n"
		  "etag: %s\r\n", etag);
	struct reply rp = { 200, "application/json; charset=utf-8", d->body.buf, d->body.len,
			    d->hdr.buf, !r->keep_alive, r->head };
	if (etag_matches(r, etag)) {
		rp.status = 304;
		rp.ctype = NULL;
	}
	conn_reply(d, c, &rp);
}

/* ------------------------------------------------------------- endpoints */

struct query {
	uint64_t min_id, max_id, since_id;
	bool has_min, has_max, has_since, only_media;
	long limit;
	/* Echoed into the Link header, decoded; "" when absent. */
	char limit_raw[QUERY_VALUE_BYTES], local[QUERY_VALUE_BYTES], remote[QUERY_VALUE_BYTES];
	char only_media_raw[QUERY_VALUE_BYTES];
	bool has_limit_raw, has_local, has_remote, has_only_media;
};

static bool truthy(const char *v)
{
	/* Rails' boolean cast: these and anything not listed as false. */
	return !(v[0] == 0 || strcmp(v, "0") == 0 || strcasecmp(v, "f") == 0 ||
		 strcasecmp(v, "false") == 0 || strcasecmp(v, "off") == 0);
}

/* Ruby's String#to_i: optional sign and leading digits, 0 when there are none. */
static long ruby_to_i(const char *v)
{
	long n = 0;
	bool neg = false;
	while (*v == ' ' || *v == '\t' || *v == '\n')
		v++;
	if (*v == '-' || *v == '+')
		neg = *v++ == '-';
	for (; *v >= '0' && *v <= '9'; v++)
		if (n < 1000000)
			n = n * 10 + (*v - '0');
	return neg ? -n : n;
}

static int parse_id(const char *v, uint64_t *out)
{
	uint64_t n = 0;
	if (!*v)
		return -1;
	for (; *v; v++) {
		if (*v < '0' || *v > '9' || n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*v - '0');
	}
	*out = n;
	return 0;
}

/* Returns NULL, or a message for a 400 reply. */
static const char *query_parse(const char *q, size_t n, struct query *out)
{
	memset(out, 0, sizeof *out);
	out->limit = 20;
	while (n > 0) {
		const char *amp = memchr(q, '&', n);
		size_t pl = amp ? (size_t)(amp - q) : n;
		const char *eq = memchr(q, '=', pl);
		size_t kl = eq ? (size_t)(eq - q) : pl;
		char key[32], val[QUERY_VALUE_BYTES];
		size_t klen, vlen;
		if (kl > 0 && pct_decode(q, kl, key, sizeof key, true, &klen) == 0) {
			bool known = !strcmp(key, "limit") || !strcmp(key, "min_id") ||
				     !strcmp(key, "max_id") || !strcmp(key, "since_id") ||
				     !strcmp(key, "local") || !strcmp(key, "remote") ||
				     !strcmp(key, "only_media");
			if (known) {
				const char *v = eq ? eq + 1 : "";
				size_t vl = eq ? pl - kl - 1 : 0;
				if (pct_decode(v, vl, val, sizeof val, true, &vlen) < 0 ||
				    strlen(val) != vlen)
					return "Invalid query parameter";
				if (!strcmp(key, "limit")) {
					out->limit = ruby_to_i(val);
					if (out->limit < 0)
						out->limit = -out->limit;
					if (out->limit > MAX_LIMIT)
						out->limit = MAX_LIMIT;
					snprintf(out->limit_raw, sizeof out->limit_raw, "%s", val);
					out->has_limit_raw = true;
				} else if (!strcmp(key, "local")) {
					snprintf(out->local, sizeof out->local, "%s", val);
					out->has_local = true;
				} else if (!strcmp(key, "remote")) {
					snprintf(out->remote, sizeof out->remote, "%s", val);
					out->has_remote = true;
				} else if (!strcmp(key, "only_media")) {
					snprintf(out->only_media_raw,
						 sizeof out->only_media_raw, "%s", val);
					out->has_only_media = true;
					out->only_media = truthy(val);
				} else if (vlen > 0) {
					/* Blank ids are ignored; others must be numbers. */
					uint64_t id;
					if (parse_id(val, &id) < 0)
						return !strcmp(key, "min_id") ? "Invalid min_id"
						       : !strcmp(key, "max_id") ? "Invalid max_id"
						       : "Invalid since_id";
					if (!strcmp(key, "min_id")) {
						out->min_id = id;
						out->has_min = true;
					} else if (!strcmp(key, "max_id")) {
						out->max_id = id;
						out->has_max = true;
					} else {
						out->since_id = id;
						out->has_since = true;
					}
				}
			}
		}
		if (!amp)
			break;
		n -= pl + 1;
		q = amp + 1;
	}
	return NULL;
}

/* Appends s percent-encoded for a URL inside a Link header. */
static void url_put(struct strbuf *sb, const char *s, size_t n, bool query_value)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9') || strchr("-._~", ch) ||
			     (!query_value && ch && strchr("/%:@!$'()*+,;=", ch));
		if (plain && ch) {
			sb_putc(sb, (char)ch);
		} else {
			char e[3] = { '%', hex[ch >> 4], hex[ch & 15] };
			sb_append(sb, e, 3);
		}
	}
}

/* The client's Host when it is a plain host[:port], else our own address. */
static void host_put(struct demo_feed *d, struct strbuf *sb, const struct req *r)
{
	bool ok = r->host && r->host_len > 0 && r->host_len < 256;
	for (size_t i = 0; ok && i < r->host_len; i++) {
		char ch = r->host[i];
		ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		     (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == ':' ||
		     ch == '[' || ch == ']';
	}
	if (ok)
		sb_append(sb, r->host, r->host_len);
	else
		sb_printf(sb, "127.0.0.1:%u", d->port);
}

static void link_url(struct demo_feed *d, struct strbuf *sb, const struct req *r,
		     const char *path, size_t path_len, const struct query *q, const char *cursor,
		     uint64_t id)
{
	sb_puts(sb, "<http://");
	host_put(d, sb, r);
	url_put(sb, path, path_len, false);
	/* Parameters in Rails' to_query order: sorted by name. */
	char sep = '?';
	if (q->has_limit_raw) {
		sb_printf(sb, "%climit=", sep);
		url_put(sb, q->limit_raw, strlen(q->limit_raw), true);
		sep = '&';
	}
	if (q->has_local) {
		sb_printf(sb, "%clocal=", sep);
		url_put(sb, q->local, strlen(q->local), true);
		sep = '&';
	}
	sb_printf(sb, "%c%s=%llu", sep, cursor, (unsigned long long)id);
	if (q->has_only_media) {
		sb_puts(sb, "&only_media=");
		url_put(sb, q->only_media_raw, strlen(q->only_media_raw), true);
	}
	if (q->has_remote) {
		sb_puts(sb, "&remote=");
		url_put(sb, q->remote, strlen(q->remote), true);
	}
	sb_putc(sb, '>');
}

static bool status_has_tag(const struct demo_status *st, const char *tag)
{
	for (int i = 0; i < st->ntags; i++)
		if (strcasecmp(st->tags[i], tag) == 0)
			return true;
	return false;
}

/*
 * GET /api/v1/timelines/public and /api/v1/timelines/tag/:tag, with Mastodon's
 * paging: newest first; max_id exclusive upper bound; since_id exclusive lower
 * bound on the newest page; min_id the page just above it (the oldest `limit`
 * newer statuses, still sent newest first) and it wins over since_id.
 */
static void ep_timeline(struct demo_feed *d, struct conn *c, const struct req *r,
			const char *path, size_t path_len, const char *query, size_t qlen,
			const char *tag)
{
	struct query q;
	uint32_t pick[MAX_LIMIT];
	uint32_t n = 0;
	int64_t retry_s;

	sb_reset(&d->hdr);
	if (!rate_limit_take(d, &d->hdr, &retry_s)) {
		sb_printf(&d->hdr, "retry-after: %lld\r\n", (long long)retry_s);
		reply_error(d, c, r, 429, "Too many requests", d->hdr.buf, false);
		return;
	}
	const char *err = query_parse(query, qlen, &q);
	if (err) {
		reply_error(d, c, r, 400, err, d->hdr.buf, false);
		return;
	}

	uint32_t limit = q.only_media ? 0 : (uint32_t)q.limit;
	if (q.has_min) {
		uint32_t i = ring_bound(d, q.min_id, true);
		for (; i < d->ring_len && n < limit; i++) {
			const struct demo_status *st = ring_at(d, i);
			if (q.has_max && st->id >= q.max_id)
				break;
			if (!tag || status_has_tag(st, tag))
				pick[n++] = i;
		}
		for (uint32_t a = 0, b = n ? n - 1 : 0; a < b; a++, b--) {
			uint32_t t = pick[a];
			pick[a] = pick[b];
			pick[b] = t;
		}
	} else {
		uint32_t i = q.has_max ? ring_bound(d, q.max_id, false) : d->ring_len;
		while (i > 0 && n < limit) {
			const struct demo_status *st = ring_at(d, --i);
			if (q.has_since && st->id <= q.since_id)
				break;
			if (!tag || status_has_tag(st, tag))
				pick[n++] = i;
		}
	}

	int64_t now_ms = d->epoch_wall_ms + (clock_mono_ms() - d->epoch_mono_ms);
	struct strbuf tmp = STRBUF_INIT;
	sb_reset(&d->body);
	sb_putc(&d->body, '[');
	for (uint32_t k = 0; k < n; k++) {
		if (k)
			sb_putc(&d->body, ',');
		json_status(d, &d->body, ring_at(d, pick[k]), now_ms, &tmp);
	}
	sb_putc(&d->body, ']');
	sb_free(&tmp);

	if (n > 0) {
		/* An empty page carries no Link header, as on Mastodon. */
		sb_puts(&d->hdr, "link: ");
		link_url(d, &d->hdr, r, path, path_len, &q, "max_id", ring_at(d, pick[n - 1])->id);
		sb_puts(&d->hdr, "; rel=\"next\", ");
		link_url(d, &d->hdr, r, path, path_len, &q, "min_id", ring_at(d, pick[0])->id);
		sb_puts(&d->hdr, "; rel=\"prev\"\r\n");
	}
	if (d->body.failed || d->hdr.failed) {
		reply_error(d, c, r, 500, "Out of memory", NULL, true);
		return;
	}
	reply_json(d, c, r);
}

static void ep_instance(struct demo_feed *d, struct conn *c, const struct req *r)
{
	int64_t retry_s;
	uint32_t users = demo_gen_account_count(d->gen), statuses = 0;

	sb_reset(&d->hdr);
	if (!rate_limit_take(d, &d->hdr, &retry_s)) {
		sb_printf(&d->hdr, "retry-after: %lld\r\n", (long long)retry_s);
		reply_error(d, c, r, 429, "Too many requests", d->hdr.buf, false);
		return;
	}
	for (uint32_t i = 0; i < users; i++)
		statuses += demo_gen_account(d->gen, i)->posted;
	sb_reset(&d->body);
	sb_puts(&d->body, "{\"uri\":\"" DEMO_LOCAL_DOMAIN "\",\"title\":\"trendd demo\","
		"\"short_description\":\"A simulated Mastodon instance built into trendd.\","
		"\"description\":\"Generated statuses with scheduled bursts, for trendd --demo.\","
		"\"email\":\"\",\"version\":\"4.5.0 (compatible; trendd demo)\","
		"\"urls\":{\"streaming_api\":\"ws://");
	host_put(d, &d->body, r);   /* only characters that need no JSON escaping */
	sb_printf(&d->body, "\"},\"stats\":{\"user_count\":%u,\"status_count\":%u,"
		  "\"domain_count\":9},\"thumbnail\":null,\"languages\":[", users, statuses);
	for (size_t i = 0; i < demo_vocab_lang_count(); i++)
		sb_printf(&d->body, "%s\"%s\"", i ? "," : "", demo_vocab_lang_code(i));
	sb_puts(&d->body, "],\"registrations\":false,\"approval_required\":false,"
		"\"invites_enabled\":false,\"configuration\":{\"statuses\":{\"max_characters\":500,"
		"\"max_media_attachments\":4,\"characters_reserved_per_url\":23}},"
		"\"contact_account\":null,\"rules\":[]}");
	reply_json(d, c, r);
}

static void stream_chunk(struct conn *c, const char *data, size_t n)
{
	sb_printf(&c->out, "%zx\r\n", n);
	sb_append(&c->out, data, n);
	sb_puts(&c->out, "\r\n");
}

/* GET /api/v1/streaming/public: server-sent events from the newest status on. */
static void ep_stream(struct demo_feed *d, struct conn *c, const struct req *r)
{
	if (!r->http11) {
		reply_error(d, c, r, 505, "Streaming needs HTTP/1.1", NULL, true);
		return;
	}
	sb_puts(&c->out, "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
		"cache-control: private, no-store\r\ntransfer-encoding: chunked\r\n"
		"connection: keep-alive\r\n\r\n");
	stream_chunk(c, ":)\n", 3);
	c->state = CONN_STREAM;
	c->stream_after = d->ring_len ? ring_at(d, d->ring_len - 1)->id : 0;
	c->until_ms = clock_mono_ms() + HEARTBEAT_MS;
}

static bool path_is(const char *p, size_t n, const char *want)
{
	size_t wl = strlen(want);
	return (n == wl || (n == wl + 1 && p[wl] == '/')) && memcmp(p, want, wl) == 0;
}

static void route(struct demo_feed *d, struct conn *c, const struct req *r)
{
	const char *t = r->target, *path, *query = "";
	size_t tl = r->target_len, plen, qlen = 0;

	/* Absolute form (proxies): drop scheme and authority. */
	if ((tl > 7 && strncasecmp(t, "http://", 7) == 0) ||
	    (tl > 8 && strncasecmp(t, "https://", 8) == 0)) {
		size_t skip = t[4] == ':' ? 7 : 8;
		const char *s = memchr(t + skip, '/', tl - skip);
		if (!s) {
			t = "/";
			tl = 1;
		} else {
			tl -= (size_t)(s - t);
			t = s;
		}
	}
	if (t[0] != '/') {
		reply_error(d, c, r, 400, "Bad request", NULL, true);
		return;
	}
	path = t;
	const char *qm = memchr(t, '?', tl);
	plen = qm ? (size_t)(qm - t) : tl;
	if (qm) {
		query = qm + 1;
		qlen = tl - plen - 1;
	}

	bool get = strcmp(r->method, "GET") == 0 || r->head;
	static const char tag_prefix[] = "/api/v1/timelines/tag/";
	const size_t tpl = sizeof tag_prefix - 1;
	enum { EP_NONE, EP_PUBLIC, EP_TAG, EP_INSTANCE, EP_HEALTH, EP_STREAM } ep = EP_NONE;
	char tag[256];
	size_t tag_len = 0;

	if (path_is(path, plen, "/api/v1/timelines/public"))
		ep = EP_PUBLIC;
	else if (plen > tpl && memcmp(path, tag_prefix, tpl) == 0 &&
		 !memchr(path + tpl, '/', plen - tpl - (path[plen - 1] == '/')))
		ep = EP_TAG;
	else if (path_is(path, plen, "/api/v1/instance"))
		ep = EP_INSTANCE;
	else if (path_is(path, plen, "/api/v1/streaming/health") || path_is(path, plen, "/health"))
		ep = EP_HEALTH;
	else if (path_is(path, plen, "/api/v1/streaming/public"))
		ep = EP_STREAM;

	if (ep == EP_NONE) {
		reply_error(d, c, r, 404, "Record not found", NULL, false);
		return;
	}
	if (!get || (ep == EP_STREAM && r->head)) {
		reply_error(d, c, r, 405, "Method not allowed",
			    ep == EP_STREAM ? "allow: GET\r\n" : "allow: GET, HEAD\r\n", false);
		return;
	}
	switch (ep) {
	case EP_PUBLIC:
		ep_timeline(d, c, r, path, plen, query, qlen, NULL);
		break;
	case EP_TAG: {
		size_t raw = plen - tpl - (path[plen - 1] == '/');
		if (pct_decode(path + tpl, raw, tag, sizeof tag, false, &tag_len) < 0 ||
		    tag_len == 0 || strlen(tag) != tag_len) {
			reply_error(d, c, r, 404, "Record not found", NULL, false);
			return;
		}
		ep_timeline(d, c, r, path, plen, query, qlen, tag);
		break;
	}
	case EP_INSTANCE:
		ep_instance(d, c, r);
		break;
	case EP_HEALTH: {
		struct reply rp = { 200, "text/plain; charset=utf-8", "OK", 2,
				    "cache-control: private, no-store\r\n", !r->keep_alive,
				    r->head };
		conn_reply(d, c, &rp);
		break;
	}
	case EP_STREAM:
		ep_stream(d, c, r);
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------ connections */

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	sb_free(&c->out);
	c->fd = -1;
	c->state = CONN_FREE;
}

static size_t conn_pending(const struct conn *c)
{
	return c->out.len - c->out_off;
}

/* Handles every complete request in the input buffer, in order (pipelining). */
static void conn_process(struct demo_feed *d, struct conn *c)
{
	while (c->state == CONN_READ && !c->close_after &&
	       conn_pending(c) < DEMO_FEED_OUT_BYTES / 2) {
		if (c->skip_body) {
			size_t n = c->in_len < c->skip_body ? c->in_len : (size_t)c->skip_body;
			memmove(c->in, c->in + n, c->in_len - n);
			c->in_len -= n;
			c->skip_body -= n;
			if (c->skip_body)
				return;
		}
		/* RFC 9112 asks servers to ignore empty lines before a request. */
		size_t lead = 0;
		while (lead < c->in_len && (c->in[lead] == '\r' || c->in[lead] == '\n'))
			lead++;
		if (lead) {
			memmove(c->in, c->in + lead, c->in_len - lead);
			c->in_len -= lead;
			c->scan = 0;
		}
		if (c->in_len == 0)
			return;

		size_t end = head_end(c);
		if (end == 0) {
			if (c->in_len == sizeof c->in)
				reply_error(d, c, NULL, 431, "Request header too large", NULL,
					    true);
			return;
		}
		struct req r;
		int status = req_parse(c->in, end, &r);
		if (status) {
			const char *msg = status == 505 ? "HTTP version not supported"
					  : status == 501 ? "Transfer-Encoding not supported"
					  : status == 431 ? "Too many header fields" : "Bad request";
			reply_error(d, c, NULL, status, msg, NULL, true);
			return;
		}
		if (r.content_length > DEMO_FEED_BODY_BYTES) {
			reply_error(d, c, &r, 413, "Request body too large", NULL, true);
			return;
		}
		feed_catch_up(d);
		route(d, c, &r);
		/* route() only borrowed the head; drop it now. */
		memmove(c->in, c->in + end, c->in_len - end);
		c->in_len -= end;
		c->scan = 0;
		c->skip_body = r.content_length;
		c->req_start_ms = clock_mono_ms();
	}
}

/* Writes what the socket takes; closes or lingers when the reply is done. */
static void conn_flush(struct demo_feed *d, struct conn *c)
{
	for (;;) {
		while (conn_pending(c) > 0) {
			ssize_t n = send(c->fd, c->out.buf + c->out_off, conn_pending(c),
					 MSG_NOSIGNAL);
			if (n > 0) {
				c->out_off += (size_t)n;
				c->last_ms = clock_mono_ms();
			} else if (n < 0 && errno == EINTR) {
				continue;
			} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				return;
			} else {
				conn_close(c);
				return;
			}
		}
		/* Everything sent: recycle the buffer, shrinking it after a big page. */
		if (c->out.cap > 256 * 1024)
			sb_free(&c->out);
		else
			sb_reset(&c->out);
		c->out_off = 0;
		if (c->state == CONN_READ && c->close_after) {
			/* Half-close, then read what the client still sends, so the
			 * kernel does not answer it with a reset that eats our reply. */
			shutdown(c->fd, SHUT_WR);
			c->state = CONN_LINGER;
			c->until_ms = clock_mono_ms() + LINGER_MS;
			return;
		}
		if (c->state != CONN_READ || c->in_len == 0)
			break;
		/* Pipelined requests waited for room in the output buffer. */
		size_t before = c->in_len;
		conn_process(d, c);
		if (conn_pending(c) == 0 && c->in_len == before)
			break;
	}
	if (c->state == CONN_READ && c->eof && c->in_len == 0 && conn_pending(c) == 0)
		conn_close(c);
}

static void conn_read(struct demo_feed *d, struct conn *c)
{
	char sink[4096];
	for (;;) {
		char *dst = c->in + c->in_len;
		size_t room = sizeof c->in - c->in_len;
		if (c->state != CONN_READ) {
			dst = sink;   /* lingering or streaming: input is ignored */
			room = sizeof sink;
		} else if (c->skip_body && c->in_len == 0) {
			/* A body we discard; never read past it into the next request. */
			dst = sink;
			room = c->skip_body < sizeof sink ? (size_t)c->skip_body : sizeof sink;
		}
		if (room == 0)
			break;
		ssize_t n = recv(c->fd, dst, room, 0);
		if (n > 0) {
			c->last_ms = clock_mono_ms();
			if (dst == sink) {
				if (c->state == CONN_READ)
					c->skip_body -= (uint64_t)n;
				continue;
			}
			if (c->in_len == 0)
				c->req_start_ms = c->last_ms;
			c->in_len += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		/* EOF or a reset. */
		if (c->state != CONN_READ || n < 0) {
			conn_close(c);
			return;
		}
		c->eof = true;
		break;
	}
	conn_process(d, c);
	if (c->eof && c->state == CONN_READ && !c->close_after) {
		/* The client is gone; an unfinished request never will be. */
		c->in_len = 0;
		c->close_after = true;
	}
	conn_flush(d, c);
}

/* Appends the statuses a streaming client has not seen yet. */
static void stream_push(struct demo_feed *d, struct conn *c, int64_t now_ms)
{
	struct strbuf ev = STRBUF_INIT, tmp = STRBUF_INIT;
	uint32_t i = ring_bound(d, c->stream_after, true), sent = 0;

	for (; i < d->ring_len && sent < STREAM_BATCH; i++, sent++) {
		const struct demo_status *st = ring_at(d, i);
		sb_reset(&ev);
		sb_puts(&ev, "event: update\ndata: ");
		json_status(d, &ev, st, now_ms, &tmp);
		sb_puts(&ev, "\n\n");
		stream_chunk(c, ev.buf, ev.len);
		c->stream_after = st->id;
	}
	sb_free(&ev);
	sb_free(&tmp);
	if (c->out.failed || conn_pending(c) > DEMO_FEED_OUT_BYTES) {
		/* A reader this slow gets dropped, as Mastodon's streaming server does. */
		conn_close(c);
		return;
	}
	if (sent)
		conn_flush(d, c);
}

static int64_t conn_deadline(const struct conn *c)
{
	switch (c->state) {
	case CONN_LINGER:
		return c->until_ms;
	case CONN_STREAM:
		return conn_pending(c) ? c->last_ms + STALL_MS : c->until_ms;
	default:
		if (conn_pending(c))
			return c->last_ms + STALL_MS;
		if (c->in_len > 0 || c->skip_body)
			return c->req_start_ms + HEADER_MS;
		return c->last_ms + IDLE_MS;
	}
}

static void conn_timeout(struct demo_feed *d, struct conn *c, int64_t now)
{
	if (c->state == CONN_STREAM && conn_pending(c) == 0) {
		stream_chunk(c, ":thump\n", 7);
		c->until_ms = now + HEARTBEAT_MS;
		conn_flush(d, c);
		return;
	}
	if (c->state == CONN_READ && conn_pending(c) == 0 && (c->in_len > 0 || c->skip_body)) {
		/* A request that never finished arriving (slowloris): say so and go. */
		c->in_len = 0;
		c->skip_body = 0;
		reply_error(d, c, NULL, 408, "Request timeout", NULL, true);
		c->last_ms = now;
		conn_flush(d, c);
		return;
	}
	conn_close(c);
}

/* Accepts every waiting client; when full, the longest-idle keep-alive one makes room. */
static void feed_accept(struct demo_feed *d, int64_t now, int64_t *pause_until)
{
	for (;;) {
		int fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				log_warn(MOD, "accept: %s", strerror(errno));
				*pause_until = now + 100;   /* do not spin on a full table */
			}
			return;
		}
		struct conn *slot = NULL, *idle = NULL;
		for (int i = 0; i < DEMO_FEED_MAX_CONNS && !slot; i++) {
			struct conn *c = &d->conns[i];
			if (c->state == CONN_FREE)
				slot = c;
			else if (c->state == CONN_READ && c->in_len == 0 && !c->skip_body &&
				 conn_pending(c) == 0 && (!idle || c->last_ms < idle->last_ms))
				idle = c;
		}
		if (!slot && idle) {
			conn_close(idle);
			slot = idle;
		}
		if (!slot) {
			close(fd);   /* every connection is busy: the client may retry */
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		memset(slot, 0, sizeof *slot);
		slot->fd = fd;
		slot->state = CONN_READ;
		sb_init(&slot->out);
		slot->last_ms = slot->req_start_ms = now;
	}
}

/* --------------------------------------------------------------- the thread */

static void *feed_thread(void *arg)
{
	struct demo_feed *d = arg;
	struct pollfd pfd[2 + DEMO_FEED_MAX_CONNS];
	int slot_of[2 + DEMO_FEED_MAX_CONNS];
	int64_t accept_pause = 0;

	for (;;) {
		int64_t now = clock_mono_ms();
		int n = 0, listen_at = -1;
		int64_t wait = TICK_MS;

		pfd[n++] = (struct pollfd){ .fd = d->wake_fd, .events = POLLIN };
		if (now >= accept_pause) {
			listen_at = n;
			pfd[n++] = (struct pollfd){ .fd = d->listen_fd, .events = POLLIN };
		}
		for (int i = 0; i < DEMO_FEED_MAX_CONNS; i++) {
			struct conn *c = &d->conns[i];
			if (c->state == CONN_FREE)
				continue;
			short ev = 0;
			if (c->state != CONN_READ || c->in_len < sizeof c->in)
				ev |= POLLIN;
			if (conn_pending(c))
				ev |= POLLOUT;
			slot_of[n] = i;
			pfd[n++] = (struct pollfd){ .fd = c->fd, .events = ev };
			int64_t left = conn_deadline(c) - now;
			if (left < wait)
				wait = left < 0 ? 0 : left;
		}
		if (poll(pfd, (nfds_t)n, (int)wait) < 0 && errno != EINTR) {
			log_error(MOD, "poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents)
			break;   /* demo_feed_stop() */

		feed_catch_up(d);
		now = clock_mono_ms();
		for (int k = listen_at < 0 ? 1 : 2; k < n; k++) {
			struct conn *c = &d->conns[slot_of[k]];
			short re = pfd[k].revents;
			if (c->state == CONN_FREE || !re)
				continue;
			if (re & POLLNVAL) {
				conn_close(c);
				continue;
			}
			if (re & (POLLIN | POLLHUP | POLLERR))
				conn_read(d, c);
			if (c->state != CONN_FREE && (re & POLLOUT))
				conn_flush(d, c);
		}
		int64_t wall_now = d->epoch_wall_ms + (now - d->epoch_mono_ms);
		for (int i = 0; i < DEMO_FEED_MAX_CONNS; i++) {
			struct conn *c = &d->conns[i];
			if (c->state == CONN_STREAM)
				stream_push(d, c, wall_now);
			if (c->state != CONN_FREE && now >= conn_deadline(c))
				conn_timeout(d, c, now);
		}
		if (listen_at >= 0 && (pfd[listen_at].revents & POLLIN))
			feed_accept(d, now, &accept_pause);
	}
	return NULL;
}

/* ------------------------------------------------------------- life cycle */

static void feed_free(struct demo_feed *d)
{
	for (int i = 0; i < DEMO_FEED_MAX_CONNS; i++)
		if (d->conns[i].state != CONN_FREE)
			conn_close(&d->conns[i]);
	if (d->listen_fd >= 0)
		close(d->listen_fd);
	if (d->wake_fd >= 0)
		close(d->wake_fd);
	if (d->ring) {
		for (uint32_t i = 0; i < d->ring_len; i++)
			demo_status_clear(ring_at(d, i));
		free(d->ring);
	}
	demo_gen_free(d->gen);
	sb_free(&d->body);
	sb_free(&d->hdr);
	free(d);
}

int demo_feed_start(struct demo_feed **out, const struct demo_feed_config *cfg,
		    uint16_t *port_out)
{
	struct demo_feed *d;
	struct sockaddr_in sa;
	socklen_t salen = sizeof sa;
	int rc, one = 1;

	*out = NULL;
	if (!cfg)
		return -EINVAL;
	if (!(cfg->posts_per_s >= 0 && cfg->posts_per_s <= 100000) ||
	    !(cfg->story_speed >= 0 && cfg->story_speed <= 10000) ||
	    cfg->ring_size > DEMO_FEED_RING_MAX) {
		log_error(MOD, "invalid demo feed config (rate %g/s, speed %g, ring %u)",
			  cfg->posts_per_s, cfg->story_speed, cfg->ring_size);
		return -EINVAL;
	}
	d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	d->listen_fd = d->wake_fd = -1;
	for (int i = 0; i < DEMO_FEED_MAX_CONNS; i++)
		d->conns[i].fd = -1;
	sb_init(&d->body);
	sb_init(&d->hdr);
	d->posts_per_s = cfg->posts_per_s > 0 ? cfg->posts_per_s : DEFAULT_POSTS_PER_S;
	d->rate_limit = cfg->rate_limit ? cfg->rate_limit : DEFAULT_RATE_LIMIT;
	d->ring_cap = cfg->ring_size ? cfg->ring_size : DEFAULT_RING;
	d->ring = calloc(d->ring_cap, sizeof *d->ring);
	rc = -ENOMEM;
	if (!d->ring)
		goto fail;
	rc = demo_gen_new(&d->gen, cfg->seed, cfg->accounts ? cfg->accounts : DEFAULT_ACCOUNTS,
			  cfg->story_speed);
	if (rc < 0)
		goto fail;

	d->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	d->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->wake_fd < 0 || d->listen_fd < 0) {
		rc = -errno;
		log_error(MOD, "socket: %s", strerror(errno));
		goto fail;
	}
	setsockopt(d->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(cfg->port);
	if (bind(d->listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    listen(d->listen_fd, 128) < 0 ||
	    getsockname(d->listen_fd, (struct sockaddr *)&sa, &salen) < 0) {
		rc = -errno;
		log_error(MOD, "cannot listen on 127.0.0.1:%u: %s", cfg->port, strerror(errno));
		goto fail;
	}
	d->port = ntohs(sa.sin_port);

	/* Feed time 0 lies prefill_ms in the past, so the first poll finds history. */
	int64_t prefill = cfg->prefill_ms < 0 ? 0 : cfg->prefill_ms ? cfg->prefill_ms
								      : DEFAULT_PREFILL_MS;
	d->epoch_mono_ms = clock_mono_ms() - prefill;
	d->epoch_wall_ms = clock_now_ms() - prefill;
	d->next_t = demo_gen_next_time(d->gen, d->posts_per_s);
	feed_catch_up(d);

	rc = -pthread_create(&d->thread, NULL, feed_thread, d);
	if (rc < 0) {
		log_error(MOD, "pthread_create: %s", strerror(-rc));
		goto fail;
	}
	d->started = true;
	log_info(MOD, "demo feed on http://127.0.0.1:%u (%.0f posts/s, %u statuses of history)",
		 d->port, d->posts_per_s, d->ring_len);
	if (port_out)
		*port_out = d->port;
	*out = d;
	return 0;

fail:
	feed_free(d);
	return rc;
}

void demo_feed_stop(struct demo_feed *d)
{
	if (!d)
		return;
	if (d->started) {
		uint64_t one = 1;
		while (write(d->wake_fd, &one, sizeof one) < 0 && errno == EINTR)
			;
		pthread_join(d->thread, NULL);
	}
	feed_free(d);
}
