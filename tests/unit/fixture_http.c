#include "tests/unit/fixture_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/publish.h"

void fx_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

void fx_send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

size_t fx_read_head(int c, char *buf, size_t cap)
{
	size_t n = 0;
	struct pollfd pfd = { .fd = c, .events = POLLIN };

	while (n < cap - 1 && poll(&pfd, 1, 2000) > 0) {
		ssize_t r = recv(c, buf + n, cap - 1 - n, 0);
		if (r <= 0)
			break;
		n += (size_t)r;
		buf[n] = 0;
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	buf[n] = 0;
	return n;
}

int fx_read_request(int c, char *buf, size_t cap, char **target, char **headers)
{
	fx_read_head(c, buf, cap);
	char *sp1 = strchr(buf, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	char *hdr = strstr(buf, "\r\n");
	if (!sp1 || !sp2 || !hdr)
		return -EINVAL;
	*sp2 = 0;
	*target = sp1 + 1;
	*headers = hdr + 2;
	return 0;
}

void fx_reply_close(int c, struct strbuf *reply)
{
	fx_send_all(c, reply->buf, reply->len);
	sb_free(reply);
	shutdown(c, SHUT_WR);
	close(c);
}

int fx_listen(int backlog, uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(fd, backlog), 0);
	getsockname(fd, (struct sockaddr *)&a, &alen);
	*port = ntohs(a.sin_port);
	return fd;
}

uint16_t fx_closed_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	getsockname(fd, (struct sockaddr *)&a, &alen);
	close(fd);
	return ntohs(a.sin_port);
}

/* Accepts on fd and hands each connection to serve until *stop; polls every 20 ms. */
static void accept_loop(int fd, atomic_bool *stop, fx_serve_fn serve, void *ctx)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (!atomic_load(stop)) {
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		int c = accept(fd, NULL, NULL);
		if (c >= 0)
			serve(ctx, c);
	}
}

static void *listener_main(void *arg)
{
	struct fx_listener *l = arg;

	accept_loop(l->fd, &l->stop, l->serve, l->ctx);
	return NULL;
}

void fx_listener_start(struct fx_listener *l, int backlog, uint16_t *port, fx_serve_fn serve,
		       void *ctx)
{
	l->fd = fx_listen(backlog, port);
	atomic_init(&l->stop, false);
	l->serve = serve;
	l->ctx = ctx;
	ck_assert_int_eq(pthread_create(&l->thread, NULL, listener_main, l), 0);
}

void fx_listener_stop(struct fx_listener *l)
{
	atomic_store(&l->stop, true);
	pthread_join(l->thread, NULL);
	close(l->fd);
}

int fx_locked_int(pthread_mutex_t *mu, const int *v)
{
	pthread_mutex_lock(mu);
	int n = *v;
	pthread_mutex_unlock(mu);
	return n;
}

bool fx_wait_locked_int(pthread_mutex_t *mu, const int *v, int n, int timeout_ms)
{
	int64_t end = clock_mono_ms() + timeout_ms;
	while (fx_locked_int(mu, v) < n) {
		if (clock_mono_ms() > end)
			return false;
		fx_sleep_ms(5);
	}
	return true;
}

size_t fx_take_posts(struct bus *b, struct post **out, size_t n, int timeout_ms)
{
	int64_t end = clock_mono_ms() + timeout_ms;
	size_t got = 0;
	while (got < n) {
		int64_t left = end - clock_mono_ms();
		if (left <= 0)
			break;
		got += queue_pop_batch(&b->posts, (void **)out + got, n - got, (int)left);
	}
	return got;
}

void fx_free_posts(struct post **p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		post_free(p[i]);
}

void fx_drain_posts(struct bus *b)
{
	struct post *p;
	while (queue_pop_batch(&b->posts, (void **)&p, 1, 0) == 1)
		post_free(p);
}

json_t *fx_source_now(struct bus *b)
{
	struct ref *r = publish_get(&b->sources);
	if (!r)
		return NULL;
	const struct blob *bl = (const struct blob *)r;
	json_t *all = json_loadb(bl->data, bl->len, 0, NULL);
	ref_put(r);
	ck_assert_ptr_nonnull(all);
	json_t *one = json_incref(json_array_get(all, 0));
	json_decref(all);
	return one;
}

json_t *fx_status_of(json_t *src) { return json_object_get(src, "status"); }

json_int_t fx_status_int(json_t *src, const char *key)
{
	return json_integer_value(json_object_get(fx_status_of(src), key));
}

const char *fx_status_str(json_t *src, const char *key)
{
	return json_string_value(json_object_get(fx_status_of(src), key));
}

json_int_t fx_stream_int(json_t *src, const char *key)
{
	json_t *stream = json_object_get(fx_status_of(src), "stream");
	return json_integer_value(json_object_get(stream, key));
}

json_t *fx_wait_status_int(struct bus *b, const char *key, json_int_t want, int timeout_ms)
{
	int64_t end = clock_mono_ms() + timeout_ms;
	for (;;) {
		json_t *s = fx_source_now(b);
		if (s && fx_status_int(s, key) >= want)
			return s;
		json_decref(s);
		if (clock_mono_ms() > end)
			ck_abort_msg("status.%s never reached %lld", key, (long long)want);
		fx_sleep_ms(10);
	}
}

json_t *fx_wait_status_str(struct bus *b, const char *key, const char *want, int timeout_ms)
{
	int64_t end = clock_mono_ms() + timeout_ms;
	for (;;) {
		json_t *s = fx_source_now(b);
		const char *v = s ? fx_status_str(s, key) : NULL;
		if (v && strstr(v, want))
			return s;
		json_decref(s);
		if (clock_mono_ms() > end)
			ck_abort_msg("status.%s never held \"%s\"", key, want);
		fx_sleep_ms(10);
	}
}
