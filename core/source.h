/*
 * source.h - a configured feed source: its settings (stored in SQLite, edited
 * through the API) and the live status the ingest thread keeps.
 *
 * source_config is plain data copied between threads (db -> ingest at start,
 * web -> db -> ingest on edits); every string is owned by the struct and freed
 * with source_config_clear().
 */
#ifndef TRENDD_SOURCE_H
#define TRENDD_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

struct source_config {
	int64_t id;          /* row id; 0 before it is stored */
	char kind[16];       /* "mastodon", "rss", ... */
	char *name;          /* owned, unique */
	char *url;           /* owned; "" for push */
	bool enabled;
	int interval_s;      /* poll interval */
	char *params_json;   /* owned; kind-specific settings as a JSON object text */
	char *cursor;        /* owned; resume position ("" = start from newest) */
};

void source_config_clear(struct source_config *c);
/* Deep copy; returns 0 or -ENOMEM. */
int source_config_copy(struct source_config *dst, const struct source_config *src);

#endif
