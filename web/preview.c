#include "web/preview.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "web/web_internal.h"

int web_preview_parse(const char *body, size_t len, const struct bus_source_ops *ops,
		      struct preview_job **out, char *err, size_t errlen)
{
	/* a test fetch needs no name: one given is checked like any other field */
	struct source_config c = { .enabled = true, .interval_s = 60 };
	bool changed;
	int rc;

	*out = NULL;
	c.name = strdup("preview");
	c.params_json = strdup("{}");
	c.cursor = strdup("");
	if (!c.name || !c.params_json || !c.cursor) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if ((rc = web_source_from_json(body, len, &c, false, &changed, err, errlen)) < 0)
		goto out;
	if (!strcmp(c.kind, "push")) {
		snprintf(err, errlen, "a push source has nothing to fetch: its posts arrive by "
				      "POST /api/ingest");
		rc = -EINVAL;
		goto out;
	}
	if (ops && ops->check && (rc = ops->check(ops->ctx, &c, err, errlen)) < 0) {
		if (rc != -ENOMEM)
			rc = -EINVAL;
		goto out;
	}
	if (!(*out = preview_job_new(&c))) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
	}
out:
	source_config_clear(&c);
	return rc;
}

static void render_post(struct strbuf *sb, const struct post *p)
{
	char when[32];

	clock_format_rfc3339(p->created_at_ms, when, sizeof when);
	sb_puts(sb, "{\"id\":");
	sb_json_cstr(sb, p->id);
	sb_puts(sb, ",\"author\":");
	sb_json_cstr(sb, p->author);
	sb_puts(sb, ",\"text\":");
	sb_json_str(sb, p->text, p->text_len);
	sb_puts(sb, ",\"url\":");
	sb_json_cstr(sb, p->url);
	sb_puts(sb, ",\"created_at\":");
	sb_json_cstr(sb, when);
	sb_puts(sb, ",\"lang\":");
	sb_json_cstr(sb, p->lang);
	sb_puts(sb, ",\"title\":");
	sb_json_cstr(sb, p->title);
	sb_putc(sb, '}');
}

int web_preview_render(struct strbuf *sb, const struct preview_job *j, int *retry_after)
{
	const struct feed_doc *d = &j->doc;

	*retry_after = 0;
	if (j->result != PREVIEW_OK) {
		render_error(sb, j->error[0] ? j->error : "the test fetch failed");
		if (j->result == PREVIEW_FAILED)
			return 422;
		*retry_after = 1;
		return 503;
	}
	sb_puts(sb, "{\"document\":{\"title\":");
	sb_json_cstr(sb, d->title ? d->title : "");
	sb_puts(sb, ",\"format\":");
	sb_json_cstr(sb, j->format);
	sb_puts(sb, ",\"wellformed\":");
	/* a kind that recovered a flawed document keeps it well-formed with the flaw in error */
	sb_puts(sb, d->wellformed && !d->error[0] ? "true" : "false");
	sb_puts(sb, ",\"error\":");
	if (d->error[0])
		sb_json_cstr(sb, d->error);
	else
		sb_puts(sb, "null");
	sb_puts(sb, "},\"items\":");
	sb_put_u64(sb, j->items);
	sb_puts(sb, ",\"posts\":[");
	for (size_t i = 0; i < d->nposts && i < PREVIEW_POSTS_MAX; i++) {
		if (i)
			sb_putc(sb, ',');
		render_post(sb, d->posts[i]);
	}
	sb_puts(sb, "]}");
	return 200;
}
