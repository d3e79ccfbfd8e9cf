/*
 * posts_tsv.h - the real post texts the benchmarks replay:
 * tests/fixtures/tokenize/posts.tsv, one post per line as
 * origin<TAB>lang<TAB>text, the text with \\, \t, \r and \n escaped.
 * Single-threaded; the caller owns the result.
 */
#ifndef TRENDD_BENCH_POSTS_TSV_H
#define TRENDD_BENCH_POSTS_TSV_H

#include <stddef.h>

struct posts_tsv {
	char **text;          /* unescaped, NUL-terminated */
	size_t *len;          /* bytes of text, up to its first NUL */
	char **lang;
	size_t n;
};

/* Loads path into p (zeroed first); lines without three fields are skipped. 0 or -errno. */
int posts_tsv_load(struct posts_tsv *p, const char *path);
void posts_tsv_free(struct posts_tsv *p);

#endif
