/*
 * tool_sentiment.c - `trendd sentiment`: VADER scores of stdin lines.
 *
 * Prints "compound<TAB>pos<TAB>neu<TAB>neg" with 4 decimals for each input line,
 * in input order; an empty line scores 0 everywhere. A line is read whole
 * whatever its length, but only its first VADER_TEXT_BYTES_MAX bytes are kept
 * (the scorer looks at no more), so memory stays bounded. The "\n" and a "\r"
 * before it are dropped; NUL bytes and invalid UTF-8 are data.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/sentiment.h"
#include "cmd/tools.h"

#ifndef TRENDD_DEFAULT_DATA_DIR
#define TRENDD_DEFAULT_DATA_DIR "data"
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"usage: trendd sentiment [--data-dir DIR]\n"
		"\n"
		"Reads one text per line from standard input and prints its VADER scores\n"
		"as \"compound<TAB>pos<TAB>neu<TAB>neg\", 4 decimals each, one line per text.\n"
		"\n"
		"  --data-dir DIR   directory holding vader/ (default %s)\n"
		"  --help           show this help\n",
		TRENDD_DEFAULT_DATA_DIR);
}

static void print_scores(const struct vader *v, struct vader_scratch *s, const char *line,
			 size_t len)
{
	struct sentiment r;

	vader_score(v, s, line, len, &r);
	printf("%.4f\t%.4f\t%.4f\t%.4f\n", r.compound, r.pos, r.neu, r.neg);
}

int tool_sentiment(int argc, char **argv)
{
	const char *data_dir = TRENDD_DEFAULT_DATA_DIR;
	struct vader *v = NULL;
	struct vader_scratch *s = NULL;
	char err[512], *buf = NULL;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--data-dir") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "trendd sentiment: --data-dir needs a value\n");
				usage(stderr);
				return 2;
			}
			data_dir = argv[++i];
		} else if (strncmp(argv[i], "--data-dir=", 11) == 0) {
			data_dir = argv[i] + 11;
		} else {
			fprintf(stderr, "trendd sentiment: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}

	if (vader_load(&v, data_dir, err, sizeof err) != 0) {
		fprintf(stderr, "trendd sentiment: cannot load the VADER data: %s\n", err);
		return 1;
	}
	rc = 1;
	s = vader_scratch_new();
	/* one byte more than is scored, so that a "\r" at the cap can be told apart */
	buf = malloc(VADER_TEXT_BYTES_MAX + 1);
	if (!s || !buf) {
		fprintf(stderr, "trendd sentiment: out of memory\n");
		goto out;
	}

	/*
	 * buf[0..len) holds the start of the current line; seen counts all of its
	 * bytes, so an overlong line is read on to its newline and the rest dropped.
	 */
	size_t len = 0, seen = 0;
	bool pending = false;   /* bytes of an unfinished line were read */
	char block[65536];
	size_t got;
	while ((got = fread(block, 1, sizeof block, stdin)) > 0) {
		size_t i = 0;
		while (i < got) {
			char *nl = memchr(block + i, '\n', got - i);
			size_t take = (nl ? (size_t)(nl - block) : got) - i;
			size_t room = VADER_TEXT_BYTES_MAX + 1 - len;
			size_t keep = take < room ? take : room;

			memcpy(buf + len, block + i, keep);
			len += keep;
			seen += take;
			pending = true;
			i += take;
			if (!nl)
				break;
			i++;    /* the newline */
			if (seen == len && len > 0 && buf[len - 1] == '\r')
				len--;
			print_scores(v, s, buf, len);
			len = seen = 0;
			pending = false;
		}
	}
	if (ferror(stdin)) {
		fprintf(stderr, "trendd sentiment: reading standard input: %s\n", strerror(errno));
		goto out;
	}
	if (pending)
		print_scores(v, s, buf, len);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "trendd sentiment: writing standard output: %s\n", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(buf);
	vader_scratch_free(s);
	vader_free(v);
	return rc;
}
