/*
 * demo_vocab.h - the content generator behind the demo feed: a population of
 * accounts, a vocabulary in six languages and a schedule of "stories" (bursts
 * of posts about one event) that start, peak and fade within minutes.
 *
 * A generator is owned by one thread (the demo feed thread, or its starter
 * before the thread runs). It is deterministic: the same seed and the same
 * sequence of calls give the same accounts and the same statuses, whatever the
 * wall clock says; only the timestamps the caller attaches differ.
 *
 * Time inside the generator is "feed time": milliseconds since the feed's
 * epoch (the oldest moment it generates). The story schedule runs on feed time
 * multiplied by story_speed, so tests can watch a whole burst in seconds.
 *
 * Invariants: a status's account, mention and reply indexes are valid indexes
 * into the generator's accounts; tags are static strings; content is owned by
 * the status and freed with demo_status_clear().
 */
#ifndef TRENDD_DEMO_VOCAB_H
#define TRENDD_DEMO_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEMO_LOCAL_DOMAIN   "demo.trendd.invalid"
#define DEMO_MAX_TAGS       4
#define DEMO_MAX_MENTIONS   3
#define DEMO_NO_ACCOUNT     UINT32_MAX

struct demo_account {
	uint64_t id;              /* Mastodon-style snowflake */
	int64_t created_ms;       /* midnight UTC of the sign-up day */
	const char *domain;       /* static; NULL for a local account */
	char username[32];
	char display_name[64];
	const char *note;         /* static HTML */
	uint32_t followers, following, statuses_base;
	uint32_t posted;          /* statuses generated so far */
	uint8_t lang;             /* index into the language table */
	bool bot, locked;
};

struct demo_status {
	uint64_t id;              /* set by the caller */
	int64_t created_ms;       /* set by the caller */
	int64_t edit_delay_ms;    /* 0: never edited; else edited this long after posting */
	uint64_t in_reply_to_id;  /* 0: not a reply */
	uint32_t in_reply_to_account; /* DEMO_NO_ACCOUNT when not a reply */
	uint32_t account;
	uint32_t statuses_count;  /* the author's count including this status */
	const char *lang;         /* static ISO 639-1 code, NULL when unknown */
	char *content;            /* owned: Mastodon-style HTML */
	const char *spoiler;      /* static; "" when none */
	const char *app;          /* static; NULL for remote statuses (Mastodon omits it) */
	const char *app_website;  /* static or NULL */
	uint32_t favourite_pop;   /* favourites it gathers over its first ten minutes */
	uint16_t replies, reblogs;
	uint8_t ntags, nmentions;
	int8_t story;             /* story index, -1 for background */
	bool sensitive;
	const char *tags[DEMO_MAX_TAGS];    /* static, as written in the text */
	uint32_t mentions[DEMO_MAX_MENTIONS];
};

struct demo_gen;
struct strbuf;

/*
 * Asks the owner for a recent status to reply to: `back` = 0 is the newest
 * status generated so far, 1 the one before, ... NULL when there is none.
 * The generator may increment the returned status's reply count.
 */
typedef struct demo_status *(*demo_recent_fn)(void *ctx, uint32_t back);

/* naccounts is clamped to [50, 100000]; story_speed <= 0 means 1. */
int demo_gen_new(struct demo_gen **out, uint64_t seed, uint32_t naccounts, double story_speed);
void demo_gen_free(struct demo_gen *g);

/*
 * Advances the arrival process (Poisson, with a slow wobble in the rate):
 * returns the feed time (ms, fractional) of the next status. Background posts
 * take 70% of posts_per_s and running stories add theirs on top, so the mean
 * stays near posts_per_s while the volume visibly rises when a story peaks.
 */
double demo_gen_next_time(struct demo_gen *g, double posts_per_s);

/*
 * Generates the status posted at feed time t_ms (the value last returned by
 * demo_gen_next_time). Overwrites *st without freeing what it held and fills
 * everything but id and created_ms. Returns 0 or -ENOMEM (st is then empty).
 */
int demo_gen_status(struct demo_gen *g, double t_ms, demo_recent_fn recent, void *ctx,
		    struct demo_status *st);
void demo_status_clear(struct demo_status *st);

const struct demo_account *demo_gen_account(const struct demo_gen *g, uint32_t idx);
uint32_t demo_gen_account_count(const struct demo_gen *g);

/*
 * Jumps the arrival process forward to feed time t_ms without generating the
 * statuses in between (used when the owner fell far behind the clock).
 */
void demo_gen_skip_to(struct demo_gen *g, double t_ms);

/*
 * Level of story `story` at feed time t_ms: 0 when it is not running,
 * 0.75-1.25 at its peak. The schedule only moves forward: it forgets stories
 * that ended, so ask about times near or after the last ones asked about.
 */
double demo_gen_story_level(struct demo_gen *g, int story, double t_ms);

/*
 * Public URLs, built the way Mastodon builds them: the profile page
 * (https://host/@user), the ActivityPub id (local accounts use the numeric
 * /ap/users/<id> form of Mastodon 4.4+) and a hashtag page. demo_tag_name()
 * writes the lower-cased tag name that the tags[] array carries.
 */
void demo_account_url(struct strbuf *sb, const struct demo_account *a);
void demo_account_uri(struct strbuf *sb, const struct demo_account *a);
void demo_tag_url(struct strbuf *sb, const char *tag);
void demo_tag_name(struct strbuf *sb, const char *tag);

/* The static story table: how many, and each one's main hashtag. */
size_t demo_vocab_story_count(void);
const char *demo_vocab_story_tag(size_t story);
/* Languages the vocabulary writes, as ISO 639-1 codes. */
size_t demo_vocab_lang_count(void);
const char *demo_vocab_lang_code(size_t lang);

#endif
