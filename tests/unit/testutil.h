/*
 * testutil.h - small helpers shared by the unit tests: reading fixture files
 * and building a Check runner with fork mode and a per-case timeout.
 */
#ifndef TRENDD_TESTUTIL_H
#define TRENDD_TESTUTIL_H

#include <check.h>
#include <stddef.h>

/* Reads TRENDD_TEST_FIXTURES_DIR/rel; aborts the test on failure. Caller frees. */
char *tu_read_fixture(const char *rel, size_t *len);
/* Reads any file; NULL on failure. Caller frees. */
char *tu_read_file(const char *path, size_t *len);
/* For *.http captures: returns a pointer to the body inside buf (after the blank line). */
const char *tu_http_body(const char *buf, size_t len, size_t *body_len);

/* A captured HTTP response: the whole file (owned) and its body inside it. */
struct tu_capture {
	char *raw;
	const char *body;
	size_t len;
};
/* Reads the capture TRENDD_TEST_FIXTURES_DIR/dir/name; free(c.raw) when done. */
struct tu_capture tu_load_capture(const char *dir, const char *name);
/*
 * A copy of text[0..len) that ends where an inaccessible page begins, so that
 * reading past it faults - also where ASan would not see it (GCC's ASan does
 * not check masked vector loads). Aborts the test on failure; free it with
 * tu_guarded_free(copy, len).
 */
char *tu_guarded_copy(const void *text, size_t len);
void tu_guarded_free(char *copy, size_t len);
/* Runs the suite with fork mode and returns the process exit code. */
int tu_run(Suite *s);

#endif
