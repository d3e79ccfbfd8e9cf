#include "core/snapshot_json.h"

#include "core/clock.h"

void snapshot_json_trend(struct strbuf *sb, const struct trend *t, uint32_t points)
{
	sb_puts(sb, "{\"term\":");
	sb_json_str(sb, t->term, t->term_len);
	sb_puts(sb, ",\"kind\":\"");
	sb_puts(sb, term_kind_name(t->kind));
	sb_puts(sb, "\",\"count\":");
	sb_put_u64(sb, t->count);
	sb_puts(sb, ",\"error\":");
	sb_put_u64(sb, t->error);
	sb_puts(sb, ",\"authors\":");
	sb_put_u64(sb, t->authors);
	sb_puts(sb, ",\"score\":");
	sb_put_double(sb, t->score, 3);
	sb_puts(sb, ",\"sentiment\":");
	sb_put_double(sb, t->sentiment, 4);
	sb_puts(sb, ",\"pos\":");
	sb_put_u64(sb, t->pos);
	sb_puts(sb, ",\"neu\":");
	sb_put_u64(sb, t->neu);
	sb_puts(sb, ",\"neg\":");
	sb_put_u64(sb, t->neg);
	sb_puts(sb, ",\"series\":[");
	for (uint32_t i = 0; t->series && i < points; i++) {
		if (i)
			sb_putc(sb, ',');
		sb_put_u64(sb, t->series[i]);
	}
	sb_puts(sb, "]}");
}

static void stats_json(struct strbuf *sb, const struct snapshot_stats *st)
{
	sb_puts(sb, "{\"posts_total\":");
	sb_put_u64(sb, st->posts_total);
	sb_puts(sb, ",\"posts_per_s\":");
	sb_put_double(sb, st->posts_per_s, 2);
	sb_puts(sb, ",\"late_posts\":");
	sb_put_u64(sb, st->late_posts);
	sb_puts(sb, ",\"future_posts\":");
	sb_put_u64(sb, st->future_posts);
	sb_puts(sb, ",\"terms_tracked\":");
	sb_put_u64(sb, st->terms_tracked);
	sb_puts(sb, ",\"post_queue_depth\":");
	sb_put_u64(sb, st->post_queue_depth);
	sb_puts(sb, ",\"tick_ms\":");
	sb_put_double(sb, st->tick_ms, 3);
	sb_putc(sb, '}');
}

int snapshot_json_members(struct strbuf *sb, const struct snapshot *s,
			  const struct trends_query *q)
{
	char ts[32];
	const struct snapshot_view *v = snapshot_find_view(s, q->window, q->lang, q->source_id);

	clock_format_rfc3339_ms(s->generated_ms, ts, sizeof ts);
	sb_puts(sb, "\"window\":\"");
	sb_puts(sb, window_name(q->window));
	sb_puts(sb, "\",\"kind\":\"");
	sb_puts(sb, term_kind_name(q->kind));
	sb_puts(sb, "\",\"sort\":\"");
	sb_puts(sb, q->sort == SORT_COUNT ? "count" : "score");
	sb_puts(sb, "\",\"lang\":");
	sb_json_cstr(sb, q->lang ? q->lang : "");
	sb_puts(sb, ",\"source\":");
	sb_put_i64(sb, q->source_id);
	sb_puts(sb, ",\"generated_at\":\"");
	sb_puts(sb, ts);
	/* a view the engine carried over from an earlier tick was counted then */
	clock_format_rfc3339_ms(v && v->computed_ms ? v->computed_ms : s->generated_ms, ts, sizeof ts);
	sb_puts(sb, "\",\"computed_at\":\"");
	sb_puts(sb, ts);
	sb_puts(sb, "\",\"seq\":");
	sb_put_u64(sb, s->seq);
	clock_format_rfc3339_ms(s->watermark_ms, ts, sizeof ts);
	sb_puts(sb, ",\"watermark\":\"");
	sb_puts(sb, ts);
	sb_puts(sb, "\",\"warming_up\":");
	sb_puts(sb, v && v->history_ms < v->history_needed_ms ? "true" : "false");
	sb_puts(sb, ",\"history_s\":");
	sb_put_i64(sb, v ? v->history_ms / 1000 : 0);
	sb_puts(sb, ",\"history_needed_s\":");
	sb_put_i64(sb, v ? v->history_needed_ms / 1000 : 0);
	sb_puts(sb, ",\"stats\":");
	stats_json(sb, &s->stats);
	sb_puts(sb, ",\"overall\":{\"posts\":");
	sb_put_u64(sb, v ? v->posts : 0);
	sb_puts(sb, ",\"sentiment\":");
	sb_put_double(sb, v ? v->sentiment : 0, 4);
	sb_puts(sb, ",\"pos\":");
	sb_put_u64(sb, v ? v->pos : 0);
	sb_puts(sb, ",\"neu\":");
	sb_put_u64(sb, v ? v->neu : 0);
	sb_puts(sb, ",\"neg\":");
	sb_put_u64(sb, v ? v->neg : 0);
	sb_puts(sb, ",\"series_step_ms\":");
	sb_put_i64(sb, v ? v->series_step_ms : 0);
	sb_puts(sb, ",\"volume_series\":[");
	for (uint32_t i = 0; v && v->volume_series && i < v->series_points; i++) {
		if (i)
			sb_putc(sb, ',');
		sb_put_u64(sb, v->volume_series[i]);
	}
	sb_puts(sb, "]},\"trends\":[");
	if (v) {
		int kind = q->kind < 0 || q->kind > TERM_KIND_ALL ? TERM_KIND_ALL : q->kind;
		int sort = q->sort == SORT_COUNT ? SORT_COUNT : SORT_SCORE;
		const struct trend_ranking *r = &v->rank[sort][kind];
		size_t n = r->n < q->limit ? r->n : q->limit;
		for (size_t i = 0; i < n; i++) {
			if (i)
				sb_putc(sb, ',');
			snapshot_json_trend(sb, &v->trends[r->idx[i]], v->series_points);
		}
	}
	sb_putc(sb, ']');
	return sb->failed ? -1 : 0;
}
