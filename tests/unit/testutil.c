#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

char *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1);
	size_t r;
	while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			char *nb = realloc(buf, cap * 2 + 1);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (!buf)
		return NULL;
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

char *tu_read_fixture(const char *rel, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", TRENDD_TEST_FIXTURES_DIR, rel);
	char *b = tu_read_file(path, len);
	ck_assert_msg(b != NULL, "cannot read fixture %s", path);
	return b;
}

const char *tu_http_body(const char *buf, size_t len, size_t *body_len)
{
	const char *p = strstr(buf, "\r\n\r\n");
	size_t skip = 4;
	if (!p) {
		p = strstr(buf, "\n\n");
		skip = 2;
	}
	if (!p) {
		*body_len = 0;
		return buf + len;
	}
	p += skip;
	*body_len = len - (size_t)(p - buf);
	return p;
}

struct tu_capture tu_load_capture(const char *dir, const char *name)
{
	struct tu_capture c;
	char rel[256];
	size_t n;

	snprintf(rel, sizeof rel, "%s/%s", dir, name);
	c.raw = tu_read_fixture(rel, &n);
	c.body = tu_http_body(c.raw, n, &c.len);
	return c;
}

int tu_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

/* The bytes mapped for a guarded copy of len bytes before its guard page. */
static size_t guarded_span(size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	return (len + page - 1) / page * page;
}

char *tu_guarded_copy(const void *text, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), span = guarded_span(len);
	char *m = mmap(NULL, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	ck_assert_int_eq(mprotect(m + span, page, PROT_NONE), 0);
	memcpy(m + span - len, text, len);
	return m + span - len;
}

void tu_guarded_free(char *copy, size_t len)
{
	size_t span = guarded_span(len);
	munmap(copy + len - span, span + (size_t)sysconf(_SC_PAGESIZE));
}
