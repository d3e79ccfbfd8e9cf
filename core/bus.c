#include "core/bus.h"

#include <errno.h>

#include <string.h>

#include "core/dbmsg.h"
#include "core/limits.h"
#include "core/live.h"
#include "core/post.h"

int bus_init(struct bus *b)
{
	int rc;

	b->wake_web = NULL;
	b->wake_web_ctx = NULL;
	memset(&b->source_ops, 0, sizeof b->source_ops);
	atomic_init(&b->stopping, false);
	atomic_init(&b->sources_cmds, 0);
	atomic_init(&b->sources_applied, 0);
	if ((rc = queue_init(&b->posts, LIMIT_POST_QUEUE)) < 0)
		return rc;
	if ((rc = queue_init(&b->db, LIMIT_DB_QUEUE)) < 0) {
		queue_destroy(&b->posts);
		return rc;
	}
	if ((rc = queue_init(&b->live, 256)) < 0) {
		queue_destroy(&b->posts);
		queue_destroy(&b->db);
		return rc;
	}
	publish_init(&b->trends);
	publish_init(&b->sources);
	publish_init(&b->db_status);
	dbstats_init(&b->dbstats);
	return 0;
}

void bus_destroy(struct bus *b)
{
	void *items[256];
	size_t n;

	while ((n = queue_pop_batch(&b->posts, items, 256, 0)) > 0)
		for (size_t i = 0; i < n; i++)
			post_free(items[i]);
	while ((n = queue_pop_batch(&b->db, items, 256, 0)) > 0)
		for (size_t i = 0; i < n; i++)
			dbmsg_free(items[i]);
	while ((n = queue_pop_batch(&b->live, items, 256, 0)) > 0)
		for (size_t i = 0; i < n; i++) {
			struct live_req *r = items[i];
			r->rc = -EPIPE; /* analytics is gone: no live part */
			live_answer(r);
		}
	queue_destroy(&b->posts);
	queue_destroy(&b->db);
	queue_destroy(&b->live);
	publish_destroy(&b->trends);
	publish_destroy(&b->sources);
	publish_destroy(&b->db_status);
}

void bus_wake_web(struct bus *b)
{
	if (b->wake_web)
		b->wake_web(b->wake_web_ctx);
}
