#include "web/static.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct {
	const char *ext;
	const char *mime;
} mime_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".mjs", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".json", "application/json; charset=utf-8" },
	{ ".map", "application/json; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
	{ ".webp", "image/webp" },
	{ ".woff2", "font/woff2" },
	{ ".txt", "text/plain; charset=utf-8" },
	{ ".webmanifest", "application/manifest+json" },
};

const char *static_mime_type(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (!dot)
		return NULL;
	for (size_t i = 0; i < sizeof mime_types / sizeof mime_types[0]; i++)
		if (strcmp(dot, mime_types[i].ext) == 0)
			return mime_types[i].mime;
	return NULL;
}

void static_files_init(struct static_files *sf)
{
	sf->v = NULL;
	sf->n = sf->cap = 0;
}

void static_files_free(struct static_files *sf)
{
	for (size_t i = 0; i < sf->n; i++) {
		free(sf->v[i].url);
		free(sf->v[i].path);
	}
	free(sf->v);
	static_files_init(sf);
}

static int add_file(struct static_files *sf, const char *url, const char *path,
		    const char *mime, enum static_cache cache)
{
	if (sf->n == sf->cap) {
		size_t cap = sf->cap ? sf->cap * 2 : 32;
		struct static_file *v = realloc(sf->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		sf->v = v;
		sf->cap = cap;
	}
	struct static_file *f = &sf->v[sf->n];
	f->url = strdup(url);
	f->path = strdup(path);
	if (!f->url || !f->path) {
		free(f->url);
		free(f->path);
		return -ENOMEM;
	}
	f->mime = mime;
	f->html = strncmp(mime, "text/html", 9) == 0;
	f->cache = cache;
	sf->n++;
	return 0;
}

struct walk {
	struct static_files *sf;
	const char *root;        /* resolved root, when confined */
	size_t root_len;
	enum static_cache cache;
	char *err;
	size_t errlen;
};

static bool inside_root(const struct walk *w, const char *real)
{
	if (!w->root)
		return true;
	return strncmp(real, w->root, w->root_len) == 0 &&
	       (w->root_len == 1 || real[w->root_len] == '/');
}

static int walk_dir(struct walk *w, const char *dir, const char *url, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return 0; /* unreadable subdirectory: nothing to serve from it */
	while (rc == 0 && (de = readdir(d)) != NULL) {
		char path[PATH_MAX], sub[PATH_MAX], real[PATH_MAX];
		struct stat st;

		if (de->d_name[0] == '.')
			continue; /* ".", "..", and hidden files are never served */
		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= sizeof path ||
		    (size_t)snprintf(sub, sizeof sub, "%s/%s", url, de->d_name) >= sizeof sub)
			continue;
		if (stat(path, &st) < 0 || !realpath(path, real) || !inside_root(w, real))
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (depth < STATIC_MAX_DEPTH)
				rc = walk_dir(w, path, sub, depth + 1);
			continue;
		}
		const char *mime = static_mime_type(de->d_name);
		if (!S_ISREG(st.st_mode) || !mime)
			continue;
		if (w->sf->n >= STATIC_MAX_FILES) {
			snprintf(w->err, w->errlen, "more than %d files to serve under %s",
				 STATIC_MAX_FILES, w->root ? w->root : dir);
			rc = -E2BIG;
			break;
		}
		rc = add_file(w->sf, sub, real, mime, w->cache);
		if (rc < 0)
			snprintf(w->err, w->errlen, "out of memory indexing %s", dir);
	}
	closedir(d);
	return rc;
}

int static_files_add_dir(struct static_files *sf, const char *dir, const char *url_prefix,
			 bool confine, enum static_cache cache, char *err, size_t errlen)
{
	char root[PATH_MAX];
	struct stat st;
	struct walk w = { .sf = sf, .cache = cache, .err = err, .errlen = errlen };

	errno = 0;
	if (!dir || !*dir || !realpath(dir, root) || stat(root, &st) < 0) {
		snprintf(err, errlen, "cannot open directory %s: %s", dir ? dir : "(none)",
			 strerror(errno ? errno : ENOENT));
		return -ENOENT;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", dir);
		return -ENOTDIR;
	}
	if (confine) {
		w.root = root;
		w.root_len = strlen(root);
	}
	return walk_dir(&w, root, url_prefix, 0);
}

static int cmp_url(const void *a, const void *b)
{
	return strcmp(((const struct static_file *)a)->url, ((const struct static_file *)b)->url);
}

void static_files_finish(struct static_files *sf)
{
	if (sf->n)
		qsort(sf->v, sf->n, sizeof sf->v[0], cmp_url);
}

/*
 * A path is looked up only when it is plainly relative to the root: starts
 * with '/', has no "." or ".." segment, no empty segment, no backslash and no
 * control bytes. lws already decodes %xx and folds dot segments; this check
 * keeps the table lookup safe whoever the caller is.
 */
static bool path_ok(const char *p, size_t len)
{
	if (len == 0 || p[0] != '/' || len >= PATH_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7f || c == '\\')
			return false;
		if (c == '/' && i + 1 < len) {
			size_t j = i + 1, seg;
			while (j < len && p[j] != '/')
				j++;
			seg = j - (i + 1);
			if (seg == 0 || (seg == 1 && p[i + 1] == '.') ||
			    (seg == 2 && p[i + 1] == '.' && p[i + 2] == '.'))
				return false;
		}
	}
	return true;
}

const struct static_file *static_files_find(const struct static_files *sf, const char *path,
					    size_t len)
{
	char key[PATH_MAX];
	size_t lo = 0, hi = sf->n;

	if (!path_ok(path, len) || len + sizeof "index.html" > sizeof key)
		return NULL;
	memcpy(key, path, len);
	key[len] = 0;
	if (key[len - 1] == '/')
		memcpy(key + len, "index.html", sizeof "index.html");
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, sf->v[mid].url);
		if (c == 0)
			return &sf->v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}
