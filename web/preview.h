/*
 * preview.h (web) - POST /api/sources/preview: the request body in, a
 * preview job (ingest/preview.h) out, and the job's answer back as JSON.
 *
 * Pure functions on the web thread. http.c routes the request (admin token
 * and Origin checked first, as for every mutation), hands the job to the
 * preview worker through web_config.preview and, when the worker has posted
 * it back through the mailbox, writes what web_preview_render() makes of it.
 * docs/API.md describes the endpoint.
 */
#ifndef TRENDD_WEB_PREVIEW_H
#define TRENDD_WEB_PREVIEW_H

#include <stddef.h>

#include "core/bus.h"
#include "core/strbuf.h"
#include "ingest/preview.h"

/*
 * Reads a body shaped like POST /api/sources ({"kind","name","url",...};
 * "name" may be left out here) and checks it with ops->check when set.
 * Returns 0 and *out (the caller's), -EINVAL with a readable message for a
 * 400, or -ENOMEM.
 */
int web_preview_parse(const char *body, size_t len, const struct bus_source_ops *ops,
		      struct preview_job **out, char *err, size_t errlen);

/*
 * The answer to a finished job: 200 {"document":{"title","format",
 * "wellformed","error"},"items":N,"posts":[{"id","author","text","url",
 * "created_at","lang","title"}…]}, 422 {"error"} for a failed fetch or an
 * unreadable document, 503 {"error"} (*retry_after set) when trendd could not
 * try. Returns the HTTP status.
 */
int web_preview_render(struct strbuf *sb, const struct preview_job *j, int *retry_after);

#endif
