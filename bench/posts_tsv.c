/* posts_tsv.c - see posts_tsv.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "bench/posts_tsv.h"

/* Unescapes in place; returns the new length. */
static size_t unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (*r == '\\' && r[1]) {
			r++;
			*w++ = *r == 't' ? '\t' : *r == 'n' ? '\n' : *r == 'r' ? '\r' : *r;
		} else {
			*w++ = *r;
		}
	}
	*w = 0;
	return (size_t)(w - s);
}

static int grow(struct posts_tsv *p, size_t *cap)
{
	if (p->n < *cap)
		return 0;
	size_t ncap = *cap ? 2 * *cap : 256;
	char **t = realloc(p->text, ncap * sizeof *t);
	if (t)
		p->text = t;
	char **l = realloc(p->lang, ncap * sizeof *l);
	if (l)
		p->lang = l;
	size_t *n = realloc(p->len, ncap * sizeof *n);
	if (n)
		p->len = n;
	if (!t || !l || !n)
		return -ENOMEM;
	*cap = ncap;
	return 0;
}

int posts_tsv_load(struct posts_tsv *p, const char *path)
{
	memset(p, 0, sizeof *p);
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t lcap = 0, cap = 0;
	ssize_t l;
	int rc = 0;
	while ((l = getline(&line, &lcap, f)) > 0) {
		if (line[l - 1] == '\n')
			line[--l] = 0;
		char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (!t2)
			continue;
		*t2 = 0;
		if ((rc = grow(p, &cap)) < 0)
			break;
		p->text[p->n] = strdup(t2 + 1);
		p->lang[p->n] = strdup(t1 + 1);
		if (!p->text[p->n] || !p->lang[p->n]) {
			free(p->text[p->n]);
			free(p->lang[p->n]);
			rc = -ENOMEM;
			break;
		}
		p->len[p->n] = unescape(p->text[p->n]);
		p->n++;
	}
	free(line);
	fclose(f);
	if (rc < 0)
		posts_tsv_free(p);
	return rc;
}

void posts_tsv_free(struct posts_tsv *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->text[i]);
		free(p->lang[i]);
	}
	free(p->text);
	free(p->lang);
	free(p->len);
	memset(p, 0, sizeof *p);
}
