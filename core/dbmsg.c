#include "core/dbmsg.h"

#include <stdlib.h>

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
	}
	free(m);
}
