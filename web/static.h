/*
 * static.h - the table of files the web server may send: the dashboard
 * (static/) and Chart.js, indexed once when the server is created.
 *
 * Built on the creating thread before the service loop runs; read-only
 * afterwards, so the lws service thread looks files up without touching the
 * file system (lws' own file serving then opens and streams the file).
 *
 * Only regular files with a known type are indexed, dot files and dot
 * directories are skipped, and under a confined directory a file (after
 * resolving symlinks) must lie inside it. A request path names a file only
 * by exact match with an indexed URL, so "..", encoded dots, NUL bytes or
 * absolute paths can never reach anything outside the table. Files added
 * after start are not served until restart.
 */
#ifndef TRENDD_WEB_STATIC_H
#define TRENDD_WEB_STATIC_H

#include <stdbool.h>
#include <stddef.h>

#define STATIC_MAX_FILES  4096   /* indexed files across all directories */
#define STATIC_MAX_DEPTH  8      /* directory levels below a root */

enum static_cache { STATIC_CACHE_REVALIDATE, STATIC_CACHE_LONG };

struct static_file {
	char *url;               /* owned: "/app.js", "/vendor/chart.js/chart.min.js" */
	char *path;              /* owned: resolved absolute path */
	const char *mime;        /* static string */
	bool html;               /* gets the Content-Security-Policy */
	enum static_cache cache;
};

struct static_files {
	struct static_file *v;   /* owned, sorted by url after static_files_finish() */
	size_t n, cap;
};

void static_files_init(struct static_files *sf);
/*
 * Indexes dir recursively under url_prefix ("" for the root, or "/vendor/x").
 * Returns 0, -ENOENT when dir does not exist (err says so; callers may go on
 * without it), or another negative errno with a message in err.
 */
int static_files_add_dir(struct static_files *sf, const char *dir, const char *url_prefix,
			 bool confine, enum static_cache cache, char *err, size_t errlen);
void static_files_finish(struct static_files *sf);   /* sorts for lookup */
void static_files_free(struct static_files *sf);

/*
 * Finds the file for a request path (URL-decoded, no query). "/" and paths
 * ending in "/" mean their index.html. NULL when the path is malformed or
 * names no indexed file.
 */
const struct static_file *static_files_find(const struct static_files *sf, const char *path,
					    size_t len);

/* The Content-Type for a file name by extension; NULL when not served. */
const char *static_mime_type(const char *name);

#endif
