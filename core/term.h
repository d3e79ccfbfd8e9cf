/*
 * term.h - term kinds and window names shared by every layer.
 *
 * A term is a normalized string plus a kind. Terms keep their sigil ("#rust",
 * "@ada@example.org", "$tsla") so a term string names one term across kinds;
 * bigrams are two words joined by one space.
 */
#ifndef TRENDD_TERM_H
#define TRENDD_TERM_H

#include <stddef.h>
#include <stdint.h>

enum term_kind {
	TERM_WORD,
	TERM_HASHTAG,
	TERM_MENTION,
	TERM_CASHTAG,
	TERM_DOMAIN,
	TERM_EMOJI,
	TERM_BIGRAM,
	TERM_KIND_COUNT,
	TERM_KIND_ALL = TERM_KIND_COUNT /* "all": a filter, never a term's kind */
};

const char *term_kind_name(int kind);           /* "word", ..., "all" */
int term_kind_parse(const char *s, size_t len); /* kind, TERM_KIND_ALL, or -1 */

/*
 * The key trendd groups languages by: the primary subtag of a BCP-47 code,
 * lowercased ("pt-BR" -> "pt", "EN" -> "en"). Writes "" when lang is not a
 * language code (2-8 ASCII letters before any '-' or '_'). out holds 9+ bytes.
 */
void term_lang_key(const char *lang, char *out, size_t cap);

enum window_id { WINDOW_5M, WINDOW_1H, WINDOW_24H, WINDOW_COUNT };

const char *window_name(int w);                 /* "5m", "1h", "24h" */
int window_parse(const char *s, size_t len);    /* window id or -1 */
int64_t window_span_ms(int w);

#endif
