/* Unit tests for core/: clock, post, queue, publish, strbuf, term. */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#include "core/bigmem.h"
#include "core/clock.h"
#include "core/heap.h"
#include "core/post.h"
#include "core/publish.h"
#include "core/queue.h"
#include "core/sanitize.h"
#include "core/snapshot.h"
#include "core/strbuf.h"
#include "core/term.h"
#include "tests/unit/testutil.h"

static int64_t parse(const char *s)
{
	int64_t ms = 0;
	ck_assert_msg(clock_parse_rfc3339(s, strlen(s), &ms) == 0, "did not parse %s", s);
	return ms;
}

START_TEST(test_clock_parses_rfc3339_variants)
{
	ck_assert_int_eq(parse("1970-01-01T00:00:00Z"), 0);
	ck_assert_int_eq(parse("2026-11-25T12:00:00Z"), 1795608000000LL);
	ck_assert_int_eq(parse("2026-11-25T12:00:00.123Z"), 1795608000123LL);
	ck_assert_int_eq(parse("2026-11-25T12:00:00.1234567Z"), 1795608000123LL);
	ck_assert_int_eq(parse("2026-11-25T13:30:00+01:30"), 1795608000000LL);
	ck_assert_int_eq(parse("2026-11-25T07:00:00-0500"), 1795608000000LL);
	ck_assert_int_eq(parse("2026-11-25 12:00:00Z"), 1795608000000LL);
	ck_assert_int_eq(parse("2026-11-25"), 1795564800000LL);
	ck_assert_int_eq(parse("2000-02-29T00:00:00Z"), 951782400000LL);
	int64_t ms;
	ck_assert_int_eq(clock_parse_rfc3339("2026-13-01T00:00:00Z", 20, &ms), -1);
	ck_assert_int_eq(clock_parse_rfc3339("yesterday", 9, &ms), -1);
	ck_assert_int_eq(clock_parse_rfc3339("2026-11-25T12:00:00Zjunk", 24, &ms), -1);
	ck_assert_int_eq(clock_parse_rfc3339("", 0, &ms), -1);
}
END_TEST

START_TEST(test_clock_formats_round_trip)
{
	char buf[32];
	clock_format_rfc3339(1795608000123LL, buf, sizeof buf);
	ck_assert_str_eq(buf, "2026-11-25T12:00:00Z");
	clock_format_rfc3339_ms(1795608000123LL, buf, sizeof buf);
	ck_assert_str_eq(buf, "2026-11-25T12:00:00.123Z");
	clock_format_rfc3339(-1000, buf, sizeof buf);
	ck_assert_str_eq(buf, "1969-12-31T23:59:59Z");
	for (int64_t t = -86400000LL * 800; t < 86400000LL * 40000; t += 86400000LL * 7 + 3601001)
	{
		clock_format_rfc3339_ms(t, buf, sizeof buf);
		ck_assert_int_eq(parse(buf), t);
	}
}
END_TEST

START_TEST(test_utf8_sanitize_replaces_invalid_and_nul)
{
	char out[64];
	size_t n = utf8_sanitize(out, sizeof out, "a\xff" "b\0c", 5);
	ck_assert_uint_eq(n, 9);
	ck_assert_mem_eq(out, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c", 9);
	/* overlong, surrogate, truncated sequences */
	n = utf8_sanitize(out, sizeof out, "\xC0\xAF\xED\xA0\x80\xE2\x82", 7);
	for (size_t i = 0; i < n; i += 3)
		ck_assert_mem_eq(out + i, "\xEF\xBF\xBD", 3);
	/* cut at a character boundary, never inside one */
	n = utf8_sanitize(out, 6, "\xC3\xA9\xC3\xA9\xC3\xA9", 6);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(out, "\xC3\xA9\xC3\xA9");
}
END_TEST

/* The rule of utf8_sanitize() one character at a time, to compare with. */
static size_t sanitize_slowly(char *dst, size_t cap, const unsigned char *s, size_t len)
{
	size_t i = 0, o = 0;
	while (i < len) {
		size_t n = utf8_seq_len(s + i, len - i);
		const char *from = (const char *)s + i;
		if (n == 0 || s[i] == 0) {
			from = "\xEF\xBF\xBD";
			n = 3;
			i += 1;
		} else {
			i += n;
		}
		if (o + n > cap - 1)
			break;
		memcpy(dst + o, from, n);
		o += n;
	}
	dst[o] = 0;
	return o;
}

/*
 * Runs of plain ASCII are copied 8 bytes at a time: texts that mix them with
 * NUL bytes, valid and broken sequences at every offset, cut by every cap,
 * come out as the rule applied a character at a time gives them.
 */
START_TEST(test_utf8_sanitize_copies_ascii_runs_like_the_rule_says)
{
	static const char *const parts[] = { "a", "plain words ", "\xC3\xA9", "\xE2\x82\xAC",
					     "\xF0\x9F\x98\x80", "\xff", "\xC3", "\xED\xA0\x80", "\x7f",
					     "0123456789abcdef" };
	unsigned char in[200];
	char a[700], b[700];
	uint64_t r = 42;
	for (int round = 0; round < 3000; round++) {
		size_t len = 0;
		while (len < 150) {
			r = r * 6364136223846793005ull + 1442695040888963407ull;
			unsigned k = (unsigned)(r >> 40) % 11;
			if (k == 10) {
				in[len++] = 0;
				continue;
			}
			size_t pl = strlen(parts[k]);
			memcpy(in + len, parts[k], pl);
			len += pl;
		}
		size_t cap = round % 3 == 0 ? sizeof a : 1 + (size_t)(r >> 20) % 300;
		size_t na = utf8_sanitize(a, cap, (const char *)in, len);
		size_t nb = sanitize_slowly(b, cap, in, len);
		ck_assert_uint_eq(na, nb);
		ck_assert_mem_eq(a, b, na + 1);
	}
}
END_TEST

START_TEST(test_post_new_copies_and_caps_fields)
{
	struct post_fields f = { .source_id = 7, .created_at_ms = 42, .id = "1", .author = "a",
				 .text = "hello", .text_len = (size_t)-1 };
	struct post *p = post_new(&f);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->id, "1");
	ck_assert_str_eq(p->url, "");
	ck_assert_str_eq(p->lang, "");
	ck_assert_str_eq(p->text, "hello");
	ck_assert_uint_eq(p->text_len, 5);
	post_free(p);

	size_t big = 200000;
	char *t = malloc(big);
	memset(t, 'x', big);
	f.text = t;
	f.text_len = big;
	p = post_new(&f);
	ck_assert_uint_eq(p->text_len, 64 * 1024);
	ck_assert_uint_eq(strlen(p->text), p->text_len);
	post_free(p);
	free(t);
}
END_TEST

static void *producer(void *arg)
{
	struct queue *q = arg;
	for (uintptr_t i = 1; i <= 10000; i++)
		ck_assert_int_eq(queue_push(q, (void *)i, -1), 0);
	return NULL;
}

START_TEST(test_queue_delivers_everything_in_order_under_backpressure)
{
	struct queue q;
	pthread_t th[2];
	ck_assert_int_eq(queue_init(&q, 16), 0);
	pthread_create(&th[0], NULL, producer, &q);
	pthread_create(&th[1], NULL, producer, &q);
	uintptr_t last[2] = { 0, 0 }, sum = 0;
	size_t got = 0;
	void *items[7];
	while (got < 20000) {
		size_t n = queue_pop_batch(&q, items, 7, 1000);
		ck_assert_uint_gt(n, 0);
		for (size_t i = 0; i < n; i++) {
			uintptr_t v = (uintptr_t)items[i];
			sum += v;
			/* two interleaved increasing sequences */
			if (v > last[0])
				last[0] = v;
			else
				last[1] = v;
		}
		got += n;
	}
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	ck_assert_uint_eq(sum, 2 * (10000 * 10001 / 2));
	ck_assert_uint_eq(q.pushed, 20000);
	ck_assert_uint_gt(q.waits, 0);
	queue_destroy(&q);
}
END_TEST

START_TEST(test_queue_times_out_and_closes)
{
	struct queue q;
	void *it;
	ck_assert_int_eq(queue_init(&q, 1), 0);
	ck_assert_uint_eq(queue_pop_batch(&q, &it, 1, 20), 0);
	ck_assert_int_eq(queue_try_push(&q, (void *)1), 0);
	ck_assert_int_eq(queue_try_push(&q, (void *)2), -EAGAIN);
	ck_assert_int_eq(queue_push(&q, (void *)2, 20), -EAGAIN);
	queue_close(&q);
	ck_assert_int_eq(queue_push(&q, (void *)3, -1), -EPIPE);
	ck_assert_uint_eq(queue_pop_batch(&q, &it, 1, -1), 1);
	ck_assert_uint_eq(queue_pop_batch(&q, &it, 1, -1), 0);
	queue_destroy(&q);
}
END_TEST

static void *waker(void *arg)
{
	struct queue *q = arg;
	struct timespec ts = { 0, 50 * 1000000 };
	nanosleep(&ts, NULL);
	queue_wake(q);
	return NULL;
}

START_TEST(test_queue_wake_ends_a_waiting_pop_at_once)
{
	struct queue q;
	pthread_t th;
	void *it;

	ck_assert_int_eq(queue_init(&q, 4), 0);
	int64_t t0 = clock_mono_ms();
	pthread_create(&th, NULL, waker, &q);
	/* would wait 10 s; the wake after 50 ms ends it with nothing taken */
	ck_assert_uint_eq(queue_pop_batch(&q, &it, 1, 10000), 0);
	int64_t ms = clock_mono_ms() - t0;
	pthread_join(th, NULL);
	ck_assert_msg(ms >= 40 && ms < 5000, "pop returned after %lld ms", (long long)ms);
	/* a wake while nobody waits is kept for the next pop, and taken by it */
	queue_wake(&q);
	t0 = clock_mono_ms();
	ck_assert_uint_eq(queue_pop_batch(&q, &it, 1, 10000), 0);
	ck_assert_msg(clock_mono_ms() - t0 < 5000, "a kept wake did not end the pop");
	t0 = clock_mono_ms();
	ck_assert_uint_eq(queue_pop_batch(&q, &it, 1, 100), 0);
	ck_assert_msg(clock_mono_ms() - t0 >= 90, "the taken wake ended a second pop");
	/* items still come first */
	ck_assert_int_eq(queue_try_push(&q, (void *)1), 0);
	queue_wake(&q);
	ck_assert_uint_eq(queue_pop_batch(&q, &it, 1, 100), 1);
	queue_destroy(&q);
}
END_TEST

static int destroyed;
static void count_destroy(struct ref *r)
{
	destroyed++;
	free(r);
}

START_TEST(test_publish_keeps_old_object_alive_for_readers)
{
	struct publish_slot slot;
	publish_init(&slot);
	struct ref *a = malloc(sizeof *a), *b = malloc(sizeof *b);
	ref_init(a, count_destroy);
	ref_init(b, count_destroy);
	ck_assert_ptr_null(publish_get(&slot));
	publish_set(&slot, a);
	struct ref *held = publish_get(&slot);
	ck_assert_ptr_eq(held, a);
	publish_set(&slot, b);
	ck_assert_int_eq(destroyed, 0); /* reader still holds a */
	ref_put(held);
	ck_assert_int_eq(destroyed, 1);
	ck_assert_uint_eq(publish_version(&slot), 2);
	publish_destroy(&slot);
	ck_assert_int_eq(destroyed, 2);
}
END_TEST

START_TEST(test_strbuf_json_escapes)
{
	struct strbuf sb = STRBUF_INIT;
	sb_json_cstr(&sb, "a\"b\\c\n\x01\xff\xC3\xA9</script>");
	ck_assert_str_eq(sb.buf, "\"a\\\"b\\\\c\\n\\u0001\xEF\xBF\xBD\xC3\xA9</script>\"");
	sb_reset(&sb);
	sb_put_double(&sb, 0.25, 4);
	sb_putc(&sb, ' ');
	sb_put_double(&sb, -0.00001, 4);
	sb_putc(&sb, ' ');
	sb_put_double(&sb, 3.0, 4);
	sb_putc(&sb, ' ');
	sb_put_i64(&sb, -9223372036854775807LL - 1);
	ck_assert_str_eq(sb.buf, "0.25 0 3 -9223372036854775808");
	sb_reset(&sb);
	sb_csv_field(&sb, "a,\"b\"", 5);
	sb_putc(&sb, ',');
	sb_csv_field(&sb, "@x", 2);
	ck_assert_str_eq(sb.buf, "\"a,\"\"b\"\"\",@x");
	sb_free(&sb);
	/* detaching an empty buffer still gives a string */
	size_t len = 99;
	char *empty = sb_detach(&sb, &len);
	ck_assert_ptr_nonnull(empty);
	ck_assert_str_eq(empty, "");
	ck_assert_uint_eq(len, 0);
	free(empty);
}
END_TEST

START_TEST(test_term_kind_and_window_names)
{
	for (int k = 0; k <= TERM_KIND_ALL; k++) {
		const char *n = term_kind_name(k);
		ck_assert_int_eq(term_kind_parse(n, strlen(n)), k);
	}
	ck_assert_int_eq(term_kind_parse("words", 5), -1);
	ck_assert_int_eq(window_parse("1h", 2), WINDOW_1H);
	ck_assert_int_eq(window_parse("2h", 2), -1);
	ck_assert_int_eq(window_span_ms(WINDOW_24H), 86400000LL);
}
END_TEST

START_TEST(test_snapshot_arena_and_views)
{
	struct snapshot *s = snapshot_new();
	s->nviews = 2;
	s->views = snapshot_alloc(s, 2 * sizeof *s->views);
	s->views[0].window = WINDOW_5M;
	s->views[1].window = WINDOW_5M;
	strcpy(s->views[1].lang, "de");
	for (int i = 0; i < 1000; i++)
		ck_assert_ptr_nonnull(snapshot_alloc(s, 1000));
	ck_assert_ptr_eq(snapshot_find_view(s, WINDOW_5M, "", 0), &s->views[0]);
	ck_assert_ptr_eq(snapshot_find_view(s, WINDOW_5M, "de", 0), &s->views[1]);
	ck_assert_ptr_null(snapshot_find_view(s, WINDOW_1H, "", 0));
	ck_assert_str_eq(snapshot_strdup(s, "abc", 2), "ab");
	snapshot_put(s);
}
END_TEST

/* A copied view is whole in its own snapshot: the source's can go first. */
START_TEST(test_snapshot_view_copy_outlives_the_source_snapshot)
{
	struct snapshot *a = snapshot_new(), *b = snapshot_new();
	struct snapshot_view *src = snapshot_alloc(a, sizeof *src), dst;
	src->window = WINDOW_1H;
	snprintf(src->lang, sizeof src->lang, "de");
	src->source_id = 7;
	src->series_points = 4;
	src->computed_ms = 1234;
	src->volume_series = snapshot_alloc(a, 4 * sizeof(uint32_t));
	src->volume_series[3] = 99;
	src->ntrends = 2;
	src->trends = snapshot_alloc(a, 2 * sizeof *src->trends);
	for (uint32_t i = 0; i < 2; i++) {
		src->trends[i].term = snapshot_strdup(a, i ? "beta" : "alpha", i ? 4 : 5);
		src->trends[i].term_len = i ? 4 : 5;
		src->trends[i].count = 10 + i;
		src->trends[i].series = snapshot_alloc(a, 4 * sizeof(uint32_t));
		src->trends[i].series[i] = 5 + i;
	}
	src->rank[SORT_COUNT][TERM_KIND_ALL].n = 2;
	src->rank[SORT_COUNT][TERM_KIND_ALL].idx = snapshot_alloc(a, 2 * sizeof(uint32_t));
	src->rank[SORT_COUNT][TERM_KIND_ALL].idx[0] = 1;
	ck_assert_int_eq(snapshot_view_copy(b, &dst, src), 0);
	snapshot_put(a); /* the source's memory is gone */
	ck_assert_int_eq(dst.window, WINDOW_1H);
	ck_assert_str_eq(dst.lang, "de");
	ck_assert_int_eq(dst.source_id, 7);
	ck_assert_int_eq(dst.computed_ms, 1234);
	ck_assert_uint_eq(dst.volume_series[3], 99);
	ck_assert_uint_eq(dst.ntrends, 2);
	ck_assert_str_eq(dst.trends[0].term, "alpha");
	ck_assert_str_eq(dst.trends[1].term, "beta");
	ck_assert_uint_eq(dst.trends[1].count, 11);
	ck_assert_uint_eq(dst.trends[1].series[1], 6);
	ck_assert_uint_eq(dst.rank[SORT_COUNT][TERM_KIND_ALL].n, 2);
	ck_assert_uint_eq(dst.rank[SORT_COUNT][TERM_KIND_ALL].idx[0], 1);
	ck_assert_ptr_null(dst.rank[SORT_SCORE][TERM_KIND_ALL].idx);
	snapshot_put(b);
}
END_TEST

/* Fills p[0..n) with a pattern of seed, or checks it is there. */
static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed);
}

static bool filled(const uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (uint8_t)(i * 31 + seed))
			return false;
	return true;
}

static bool zeroed(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

START_TEST(test_heap_keeps_freed_memory_for_reuse)
{
#if defined(__GLIBC__) && !defined(TRENDD_ASAN)
	/* each test runs in a child of its own: the settings stay there */
	ck_assert_int_eq(heap_tune(), 3);
	size_t n = (size_t)2 << 20; /* above glibc's default own-mapping size, below ours */
	struct mallinfo2 before = mallinfo2();
	char *p = malloc(n);
	ck_assert_ptr_nonnull(p);
	memset(p, 1, n);
	struct mallinfo2 in = mallinfo2();
	ck_assert_uint_eq(in.hblks, before.hblks); /* from the heap, not a mapping */
	free(p);
	struct mallinfo2 after = mallinfo2();
	ck_assert_uint_ge(after.arena, in.arena); /* the heap kept it */
	ck_assert_uint_ge(after.fordblks, n);     /* free for the next allocation */
#else
	/* AddressSanitizer's allocator (or a C library other than glibc) takes no settings */
	ck_assert_int_ge(heap_tune(), 0);
#endif
}
END_TEST

START_TEST(test_bigmem_arrays_are_aligned_zeroed_and_keep_their_bytes)
{
	static const size_t sizes[] = { 0, 1, 100, 4096, BIGMEM_MIN - 1, BIGMEM_MIN,
					(size_t)2 << 20, ((size_t)2 << 20) + 1, (size_t)5 << 20 };
	for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
		size_t n = sizes[k];
		uint8_t *p = bigmem_alloc(n, true);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq((uintptr_t)p % 64, 0);
		/* mapped arrays start on a huge-page boundary */
		ck_assert_int_eq(bigmem_is_mapped(n), n >= BIGMEM_MIN);
		if (bigmem_is_mapped(n))
			ck_assert_uint_eq((uintptr_t)p % ((size_t)2 << 20), 0);
		ck_assert(zeroed(p, n));
		fill(p, n, (unsigned)k);
		ck_assert(filled(p, n, (unsigned)k));
		bigmem_free(p, n);
	}
	bigmem_free(NULL, 0);
	bigmem_free(NULL, (size_t)4 << 20);
	/* a size whose mapping would wrap around is refused, not mapped short */
	ck_assert_ptr_null(bigmem_alloc(SIZE_MAX - 100, false));
	ck_assert_ptr_null(bigmem_alloc(SIZE_MAX - ((size_t)3 << 20), false));
}
END_TEST

START_TEST(test_bigmem_realloc_keeps_the_prefix_across_every_kind_of_move)
{
	/* small to small, small to mapped, within one mapping, to a longer
	 * mapping, and back to small */
	static const size_t steps[] = { 2048, 700000, BIGMEM_MIN + 10, (size_t)2 << 20,
					(size_t)3 << 20, (size_t)7 << 20, 4096, 64 };
	size_t old = 0;
	uint8_t *p = NULL;
	for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
		size_t n = steps[k], keep = old < n ? old : n;
		uint8_t *q = bigmem_realloc(p, old, n);
		ck_assert_ptr_nonnull(q);
		ck_assert_uint_eq((uintptr_t)q % 64, 0);
		ck_assert_msg(filled(q, keep, 7), "step %zu: %zu -> %zu lost bytes", k, old, n);
		/* a mapped array that still fits its 2 MiB mapping stays in place */
		if (old >= BIGMEM_MIN && n >= BIGMEM_MIN && (old - 1) >> 21 == (n - 1) >> 21)
			ck_assert_ptr_eq(q, p);
		fill(q, n, 7);
		p = q;
		old = n;
	}
	bigmem_free(p, old);
}
END_TEST

#ifdef TRENDD_ASAN
/* An overrun past a mapped array, inside its mapping, fails like one past a malloc'd array. */
START_TEST(test_bigmem_overrun_inside_the_mapping_is_caught)
{
	size_t n = BIGMEM_MIN + 100;
	volatile uint8_t *p = bigmem_alloc(n, false);
	ck_assert_ptr_nonnull((void *)p);
	p[n - 1] = 1;
	p[n + 5] = 1; /* AddressSanitizer ends the process here */
}
END_TEST

/* ... and so does one into the rounding of a small array. */
START_TEST(test_bigmem_overrun_into_a_small_arrays_rounding_is_caught)
{
	volatile uint8_t *p = bigmem_alloc(100, false);
	ck_assert_ptr_nonnull((void *)p);
	p[99] = 1;
	p[100] = 1; /* AddressSanitizer ends the process here */
}
END_TEST
#endif

static Suite *suite(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_clock_parses_rfc3339_variants);
	tcase_add_test(tc, test_clock_formats_round_trip);
	tcase_add_test(tc, test_utf8_sanitize_replaces_invalid_and_nul);
	tcase_add_test(tc, test_utf8_sanitize_copies_ascii_runs_like_the_rule_says);
	tcase_add_test(tc, test_post_new_copies_and_caps_fields);
	tcase_add_test(tc, test_queue_delivers_everything_in_order_under_backpressure);
	tcase_add_test(tc, test_queue_times_out_and_closes);
	tcase_add_test(tc, test_queue_wake_ends_a_waiting_pop_at_once);
	tcase_add_test(tc, test_publish_keeps_old_object_alive_for_readers);
	tcase_add_test(tc, test_strbuf_json_escapes);
	tcase_add_test(tc, test_term_kind_and_window_names);
	tcase_add_test(tc, test_snapshot_arena_and_views);
	tcase_add_test(tc, test_heap_keeps_freed_memory_for_reuse);
	tcase_add_test(tc, test_bigmem_arrays_are_aligned_zeroed_and_keep_their_bytes);
	tcase_add_test(tc, test_bigmem_realloc_keeps_the_prefix_across_every_kind_of_move);
	tcase_add_test(tc, test_snapshot_view_copy_outlives_the_source_snapshot);
#ifdef TRENDD_ASAN
	tcase_add_exit_test(tc, test_bigmem_overrun_inside_the_mapping_is_caught, 1);
	tcase_add_exit_test(tc, test_bigmem_overrun_into_a_small_arrays_rounding_is_caught, 1);
#endif
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return tu_run(suite()); }
