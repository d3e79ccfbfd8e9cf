/*
 * tool_tokenize.c - `trendd tokenize`: prints the terms of each stdin line.
 *
 * Output is one "kind<TAB>term" line per term, in the order the tokenizer
 * emits them. A line is read whole whatever its length, but only its first
 * TOKENIZE_SCAN_BYTES bytes are kept (the tokenizer looks at no more), so
 * memory stays bounded. A trailing "\r" is dropped; NUL bytes are data.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/tokenize.h"
#include "cmd/tools.h"
#include "core/term.h"

#ifndef TRENDD_DEFAULT_DATA_DIR
#define TRENDD_DEFAULT_DATA_DIR "data"
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"usage: trendd tokenize [--lang LANG] [--data-dir DIR] [--separate]\n"
		"\n"
		"Reads lines from standard input and prints the terms of each line as\n"
		"\"kind<TAB>term\", one per line.\n"
		"\n"
		"  --lang LANG      language of every line (BCP-47, picks the stopword list;\n"
		"                   default: none, which applies all lists)\n"
		"  --data-dir DIR   directory holding stopwords/ (default %s)\n"
		"  --separate       print an empty line after the terms of each input line\n"
		"  --help           show this help\n",
		TRENDD_DEFAULT_DATA_DIR);
}

/* Value of "--name VALUE" or "--name=VALUE" at argv[*i]; NULL if argv[*i] is another option. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, bool *missing)
{
	size_t n = strlen(name);
	const char *a = argv[*i];
	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] != 0)
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

static void print_terms(struct tokenizer *tk, const char *line, size_t len, const char *lang,
			bool separate)
{
	const struct token *tok;
	size_t n = tokenizer_run(tk, line, len, lang, &tok);
	for (size_t i = 0; i < n; i++) {
		fputs(term_kind_name(tok[i].kind), stdout);
		putchar('\t');
		fwrite(tok[i].s, 1, tok[i].len, stdout);
		putchar('\n');
	}
	if (separate)
		putchar('\n');
}

int tool_tokenize(int argc, char **argv)
{
	const char *lang = "", *data_dir = TRENDD_DEFAULT_DATA_DIR;
	bool separate = false;
	for (int i = 1; i < argc; i++) {
		bool missing = false;
		const char *v;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--separate") == 0) {
			separate = true;
		} else if ((v = opt_value(argc, argv, &i, "--lang", &missing)) != NULL) {
			lang = v;
		} else if ((v = opt_value(argc, argv, &i, "--data-dir", &missing)) != NULL) {
			data_dir = v;
		} else {
			if (missing)
				fprintf(stderr, "trendd tokenize: %s needs a value\n", argv[i]);
			else
				fprintf(stderr, "trendd tokenize: unknown argument '%s'\n",
					argv[i]);
			usage(stderr);
			return 2;
		}
	}

	char err[512];
	struct stopwords *sw = NULL;
	int rc = stopwords_load(&sw, data_dir, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "trendd tokenize: %s\n", err);
		return 1;
	}
	struct tokenizer *tk = tokenizer_new(sw);
	char *buf = malloc(TOKENIZE_SCAN_BYTES + 1);
	if (!tk || !buf) {
		fprintf(stderr, "trendd tokenize: out of memory\n");
		rc = 1;
		goto out;
	}

	/*
	 * buf[0..len) holds the start of the current line (at most
	 * TOKENIZE_SCAN_BYTES bytes are kept); overlong lines are read on to
	 * their newline and the excess dropped.
	 */
	size_t len = 0;
	bool pending = false; /* bytes of an unfinished line were read */
	char block[65536];
	size_t got;
	while ((got = fread(block, 1, sizeof(block), stdin)) > 0) {
		size_t i = 0;
		while (i < got) {
			char *nl = memchr(block + i, '\n', got - i);
			size_t take = (nl ? (size_t)(nl - block) : got) - i;
			size_t room = TOKENIZE_SCAN_BYTES + 1 - len; /* one extra: see "\r" below */
			size_t keep = take < room ? take : room;
			memcpy(buf + len, block + i, keep);
			len += keep;
			pending = true;
			i += take;
			if (!nl)
				break;
			i++; /* the newline */
			if (len > 0 && buf[len - 1] == '\r' && len <= TOKENIZE_SCAN_BYTES)
				len--;
			print_terms(tk, buf, len, lang, separate);
			len = 0;
			pending = false;
		}
	}
	if (ferror(stdin)) {
		fprintf(stderr, "trendd tokenize: reading standard input: %s\n", strerror(errno));
		rc = 1;
		goto out;
	}
	if (pending) {
		if (len > 0 && buf[len - 1] == '\r' && len <= TOKENIZE_SCAN_BYTES)
			len--;
		print_terms(tk, buf, len, lang, separate);
	}
	if (fflush(stdout) != 0)
		rc = 1;
out:
	free(buf);
	tokenizer_free(tk);
	stopwords_free(sw);
	return rc;
}
