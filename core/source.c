#include "core/source.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void source_config_clear(struct source_config *c)
{
	free(c->name);
	free(c->url);
	free(c->params_json);
	free(c->cursor);
	memset(c, 0, sizeof *c);
}

static int dup(char **dst, const char *src)
{
	*dst = strdup(src ? src : "");
	return *dst ? 0 : -ENOMEM;
}

int source_config_copy(struct source_config *dst, const struct source_config *src)
{
	memset(dst, 0, sizeof *dst);
	dst->id = src->id;
	memcpy(dst->kind, src->kind, sizeof dst->kind);
	dst->kind[sizeof dst->kind - 1] = 0;
	dst->enabled = src->enabled;
	dst->interval_s = src->interval_s;
	if (dup(&dst->name, src->name) || dup(&dst->url, src->url) ||
	    dup(&dst->params_json, src->params_json) || dup(&dst->cursor, src->cursor)) {
		source_config_clear(dst);
		return -ENOMEM;
	}
	return 0;
}
