#include "core/dbmsg.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/post.h"
#include "core/snapshot.h"

struct dbmsg *dbmsg_new(enum dbmsg_kind kind)
{
	struct dbmsg *m = calloc(1, sizeof *m);
	if (m)
		m->kind = kind;
	return m;
}

void dbmsg_free(struct dbmsg *m)
{
	if (!m)
		return;
	switch (m->kind) {
	case DBMSG_TERM_MINUTES:
		free(m->u.minutes.rows);
		free(m->u.minutes.pool);
		break;
	case DBMSG_SNAPSHOT:
		snapshot_put(m->u.snapshot);
		break;
	case DBMSG_SOURCE_STATE:
		free(m->u.source.cursor);
		free(m->u.source.last_error);
		break;
	case DBMSG_SOURCE_SAVE:
		source_config_clear(&m->u.save.cfg);
		break;
	case DBMSG_SOURCE_DELETE:
		break;
	case DBMSG_VOLUME_MINUTES:
		free(m->u.volume.rows);
		break;
	case DBMSG_CHECKPOINT:
		free(m->u.checkpoint.term_rows);
		free(m->u.checkpoint.pool);
		free(m->u.checkpoint.volume_rows);
		free(m->u.checkpoint.state);
		free(m->u.checkpoint.segments);
		free(m->u.checkpoint.segment_refs);
		for (size_t i = 0; i < m->u.checkpoint.ncursors; i++)
			source_cursor_clear(&m->u.checkpoint.cursors[i]);
		free(m->u.checkpoint.cursors);
		break;
	case DBMSG_PUSH:
		for (size_t i = 0; i < m->u.push.n; i++)
			post_free(m->u.push.posts[i]);
		free(m->u.push.posts);
		free(m->u.push.seq);
		free(m->u.push.errors_json);
		break;
	}
	free(m);
}

void source_cursor_clear(struct source_cursor *c)
{
	free(c->cursor);
	free(c->seen);
	memset(c, 0, sizeof *c);
}

int source_cursor_copy(struct source_cursor *dst, const struct source_cursor *src)
{
	memset(dst, 0, sizeof *dst);
	dst->source_id = src->source_id;
	dst->gen = src->gen;
	dst->cursor = strdup(src->cursor ? src->cursor : "");
	if (src->seen_len && (dst->seen = malloc(src->seen_len)))
		memcpy(dst->seen, src->seen, src->seen_len);
	dst->seen_len = dst->seen ? src->seen_len : 0;
	if (!dst->cursor || (src->seen_len && !dst->seen)) {
		source_cursor_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

/* The marker's layout: the post first, so post_free() frees the whole block. */
struct marker {
	struct post post;
	struct source_cursor cur;   /* strings point into this allocation */
};

struct post *dbmsg_marker_new(int64_t source_id, const char *cursor, const void *seen,
			      size_t seen_len)
{
	return dbmsg_marker_new_gen(source_id, dbmsg_source_gen(source_id), cursor, seen,
				    seen_len);
}

struct post *dbmsg_marker_new_gen(int64_t source_id, uint64_t gen, const char *cursor,
				  const void *seen, size_t seen_len)
{
	size_t cl = cursor ? strlen(cursor) : 0;
	struct marker *m = malloc(sizeof *m + cl + 1 + seen_len);
	if (!m)
		return NULL;
	char *w = (char *)(m + 1);
	memcpy(w, cursor ? cursor : "", cl + 1);
	if (seen_len)
		memcpy(w + cl + 1, seen, seen_len);
	m->post = (struct post){ .source_id = source_id, .received_ms = POST_MARKER_MS,
				 .id = w + cl, .url = w + cl, .author = w + cl, .lang = w + cl,
				 .title = w + cl, .text = w + cl, .text_len = 0 };
	m->cur = (struct source_cursor){ .source_id = source_id, .cursor = w,
					 .seen = seen_len ? (uint8_t *)w + cl + 1 : NULL,
					 .seen_len = seen_len, .gen = gen };
	return &m->post;
}

const struct source_cursor *dbmsg_marker_cursor(const struct post *p)
{
	if (!post_is_marker(p))
		return NULL;
	return &((const struct marker *)(const void *)p)->cur;
}

/* Sources reset since start, with the generation of their reset (from one counter). */
static struct {
	pthread_mutex_t mu;
	uint64_t next;                 /* the generation the next bump gives */
	size_t n;
	struct { int64_t id; uint64_t gen; } slot[DBMSG_GEN_SLOTS];
} gens = { .mu = PTHREAD_MUTEX_INITIALIZER, .next = DBMSG_GEN_FIRST + 1 };

uint64_t dbmsg_source_gen(int64_t source_id)
{
	uint64_t g = DBMSG_GEN_FIRST;

	pthread_mutex_lock(&gens.mu);
	for (size_t i = 0; i < gens.n; i++)
		if (gens.slot[i].id == source_id) {
			g = gens.slot[i].gen;
			break;
		}
	pthread_mutex_unlock(&gens.mu);
	return g;
}

void dbmsg_source_gen_bump(int64_t source_id)
{
	size_t i, oldest = 0;

	pthread_mutex_lock(&gens.mu);
	for (i = 0; i < gens.n && gens.slot[i].id != source_id; i++)
		if (gens.slot[i].gen < gens.slot[oldest].gen)
			oldest = i;
	if (i == gens.n && gens.n < DBMSG_GEN_SLOTS)
		gens.n++;
	else if (i == gens.n)
		i = oldest;
	gens.slot[i].id = source_id;
	gens.slot[i].gen = gens.next++;
	pthread_mutex_unlock(&gens.mu);
}
