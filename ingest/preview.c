#include "ingest/preview.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/strbuf.h"
#include "ingest/html_text.h"
#include "ingest/http.h"
#include "ingest/source_kind.h"

#define PREVIEW_USER_AGENT "trendd/" TRENDD_VERSION " (+https://github.com/trendd)"
#define PREVIEW_RUN_SLICE_MS 200   /* how often a fetch looks at the stop flag */

struct preview_worker {
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;              /* guards everything below */
	pthread_cond_t cond;
	struct preview_job *head, *tail; /* owned: waiting to start */
	size_t pending;                  /* waiting + the one running */
	bool stopping;
	atomic_bool stop;                /* read by the running fetch without the lock */
	/* worker thread only */
	struct http_client *http;        /* owned */
	struct html_text *html;          /* owned */
};

/* ---- one fetch ---- */

struct fetch {
	bool done;
	long status;
	char error[192];
	char *url;                       /* owned: the URL after redirects, or NULL */
	char *content_type;              /* owned, or NULL */
	char *link;                      /* owned, or NULL */
	struct strbuf body;              /* owned */
};

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void fetch_done(void *user, struct http_response *r)
{
	struct fetch *f = user;

	f->done = true;
	f->status = r->status;
	snprintf(f->error, sizeof f->error, "%s", r->error);
	f->url = dup_or_null(r->url);
	f->content_type = dup_or_null(http_response_header(r, "Content-Type"));
	f->link = dup_or_null(http_response_header(r, "Link"));
	/* moved: the response is valid only during the call */
	f->body = r->body;
	sb_init(&r->body);
}

static void fetch_clear(struct fetch *f)
{
	free(f->url);
	free(f->content_type);
	free(f->link);
	sb_free(&f->body);
}

static void job_fail(struct preview_job *j, enum preview_result res, const char *msg)
{
	j->result = res;
	utf8_sanitize(j->error, sizeof j->error, msg, strlen(msg));
}

/* A source's params may lower the body cap and the timeout, never raise them. */
static void limits_of(const char *params, size_t *max_body, long *timeout_ms)
{
	json_t *root = params && params[0] ? json_loads(params, 0, NULL) : NULL;
	json_t *v;

	*max_body = LIMIT_FEED_BODY_BYTES;
	*timeout_ms = PREVIEW_TIMEOUT_MS;
	if (!json_is_object(root))
		goto out;
	v = json_object_get(root, "max_body_bytes");
	if (json_is_integer(v) && json_integer_value(v) >= 1024 &&
	    json_integer_value(v) < LIMIT_FEED_BODY_BYTES)
		*max_body = (size_t)json_integer_value(v);
	v = json_object_get(root, "timeout_s");
	if (json_is_integer(v) && json_integer_value(v) >= 1 &&
	    json_integer_value(v) * 1000 < PREVIEW_TIMEOUT_MS)
		*timeout_ms = (long)json_integer_value(v) * 1000;
out:
	json_decref(root);
}

/* Keeps the first PREVIEW_POSTS_MAX posts; the rest are freed. */
static void doc_cut(struct feed_doc *d)
{
	for (size_t i = PREVIEW_POSTS_MAX; i < d->nposts; i++)
		post_free(d->posts[i]);
	if (d->nposts > PREVIEW_POSTS_MAX)
		d->nposts = PREVIEW_POSTS_MAX;
}

static void preview_run(struct preview_worker *p, struct preview_job *j)
{
	const struct source_kind *k = source_kind_find(j->cfg.kind);
	struct strbuf url = STRBUF_INIT;
	struct fetch f = { 0 };
	struct http_request req = { 0 };
	void *state = NULL;
	char err[256] = "";
	bool more = false;
	int rc;

	sb_init(&f.body);
	if (!k) {
		snprintf(err, sizeof err, "a %.16s source cannot be previewed", j->cfg.kind);
		job_fail(j, PREVIEW_FAILED, err);
		return;
	}
	if ((rc = k->setup(&j->cfg, &state, err, sizeof err)) < 0) {
		job_fail(j, rc == -ENOMEM ? PREVIEW_UNAVAILABLE : PREVIEW_FAILED,
			 rc == -ENOMEM ? "out of memory" : err);
		return;
	}
	/* A kind that only streams has no single document to show. */
	if (k->stream && !k->streams) {
		job_fail(j, PREVIEW_FAILED, "preview is not available for streaming sources");
		goto out;
	}
	if (!k->request_url || !k->parse ||
	    (strncmp(j->cfg.url, "http://", 7) != 0 && strncmp(j->cfg.url, "https://", 8) != 0)) {
		job_fail(j, PREVIEW_FAILED, "preview needs an http:// or https:// URL");
		goto out;
	}
	/* A streamed Mastodon source shows its REST timeline: the catch-up it would read. */
	if (k->request_url(state, j->cfg.url, "", &url) < 0 || url.failed) {
		job_fail(j, PREVIEW_UNAVAILABLE, "out of memory building the request");
		goto out;
	}
	limits_of(j->cfg.params_json, &req.max_body, &req.timeout_ms);
	req.url = url.buf;
	req.accept = k->accept;
	req.connect_timeout_ms = PREVIEW_TIMEOUT_MS;
	if ((rc = http_client_get(p->http, &req, fetch_done, &f)) < 0) {
		snprintf(err, sizeof err, "could not start the request (%s)", strerror(-rc));
		job_fail(j, PREVIEW_UNAVAILABLE, err);
		goto out;
	}
	while (!f.done) {
		if (atomic_load(&p->stop)) {
			http_client_cancel(p->http, &f);
			job_fail(j, PREVIEW_UNAVAILABLE, "trendd is shutting down");
			goto out;
		}
		if ((rc = http_client_run(p->http, PREVIEW_RUN_SLICE_MS)) < 0) {
			http_client_cancel(p->http, &f);
			job_fail(j, PREVIEW_UNAVAILABLE, "the HTTP client failed");
			goto out;
		}
	}
	if (f.error[0]) {
		job_fail(j, PREVIEW_FAILED, f.error);
		goto out;
	}
	if (f.status < 200 || f.status > 299) {
		char detail[160] = "";
		const char *text = http_status_text(f.status);
		if (k->error_detail && f.body.len)
			k->error_detail(f.body.buf, f.body.len, detail, sizeof detail);
		snprintf(err, sizeof err, "HTTP %ld%s%s%s%s", f.status, text[0] ? " " : "", text,
			 detail[0] ? ": " : "", detail);
		job_fail(j, PREVIEW_FAILED, err);
		goto out;
	}
	struct feed_input in = {
		.body = f.body.buf ? f.body.buf : "",
		.len = f.body.len,
		.content_type = f.content_type,
		.base_url = f.url ? f.url : j->cfg.url,
		.cursor = "",
		.source_id = j->cfg.id,
		.html = p->html,
		.link = f.link,
	};
	const struct feed_format *fmt = feed_format_detect(in.body, in.len, in.content_type);
	snprintf(j->format, sizeof j->format, "%s", fmt ? fmt->name : j->cfg.kind);
	if (k->parse(state, &in, &j->doc, &more) < 0) {
		job_fail(j, PREVIEW_UNAVAILABLE, "out of memory while parsing");
		goto out;
	}
	/* An unreadable document is a failed fetch; a recovered one is shown with its flaw. */
	if (!j->doc.wellformed && j->doc.nposts == 0) {
		job_fail(j, PREVIEW_FAILED, j->doc.error[0] ? j->doc.error : "not a feed");
		goto out;
	}
	j->items = j->doc.items > j->doc.nposts ? j->doc.items : j->doc.nposts;
	doc_cut(&j->doc);
	j->result = PREVIEW_OK;
out:
	if (j->result != PREVIEW_OK)
		feed_doc_clear(&j->doc);
	k->release(state);
	fetch_clear(&f);
	sb_free(&url);
}

/* ---- the worker ---- */

static void *worker_main(void *arg)
{
	struct preview_worker *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->cond, &p->mu);
		if (p->stopping)
			break;
		struct preview_job *j = p->head;
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		j->next = NULL;
		pthread_mutex_unlock(&p->mu);

		preview_run(p, j);

		pthread_mutex_lock(&p->mu);
		p->pending--;
		pthread_mutex_unlock(&p->mu);
		/* outside the lock: done() may take the web layer's own */
		j->done(j, j->done_ctx);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int preview_worker_start(struct preview_worker **out, const char *user_agent, char *err,
			 size_t errlen)
{
	struct preview_worker *p = calloc(1, sizeof *p);
	int rc;

	*out = NULL;
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cond, NULL);
	atomic_init(&p->stop, false);
	if ((rc = http_client_new(&p->http, user_agent ? user_agent : PREVIEW_USER_AGENT)) < 0 ||
	    (rc = html_text_new(&p->html)) < 0) {
		snprintf(err, errlen, "cannot start the source preview worker: %s", strerror(-rc));
		goto fail;
	}
	if ((rc = -pthread_create(&p->thread, NULL, worker_main, p)) < 0) {
		snprintf(err, errlen, "cannot start the source preview thread: %s", strerror(-rc));
		goto fail;
	}
	p->started = true;
	*out = p;
	return 0;
fail:
	preview_worker_stop(p);
	return rc;
}

int preview_submit(struct preview_worker *p, struct preview_job *j)
{
	int rc = 0;

	pthread_mutex_lock(&p->mu);
	if (p->stopping)
		rc = -EPIPE;
	else if (p->pending >= PREVIEW_PENDING_MAX)
		rc = -EAGAIN;
	if (rc == 0) {
		j->next = NULL;
		if (p->tail)
			p->tail->next = j;
		else
			p->head = j;
		p->tail = j;
		p->pending++;
		pthread_cond_signal(&p->cond);
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int preview_submit_ctx(void *ctx, struct preview_job *j)
{
	return ctx ? preview_submit(ctx, j) : -EPIPE;
}

void *preview_worker_new(void)
{
	struct preview_worker *p;
	char err[256];

	if (preview_worker_start(&p, NULL, err, sizeof err) < 0) {
		log_warn("preview", "%s; source previews answer 503", err);
		return NULL;
	}
	return p;
}

void preview_worker_stop_ctx(void *ctx) { preview_worker_stop(ctx); }

void preview_worker_stop(struct preview_worker *p)
{
	struct preview_job *j, *next;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	atomic_store(&p->stop, true);
	pthread_cond_signal(&p->cond);
	j = p->head;
	p->head = p->tail = NULL;
	pthread_mutex_unlock(&p->mu);
	if (p->http)
		http_client_wakeup(p->http);
	if (p->started)
		pthread_join(p->thread, NULL);
	for (; j; j = next) {
		next = j->next;
		job_fail(j, PREVIEW_UNAVAILABLE, "trendd is shutting down");
		j->done(j, j->done_ctx);
	}
	http_client_free(p->http);
	html_text_free(p->html);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
