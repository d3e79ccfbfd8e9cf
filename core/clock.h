/*
 * clock.h - wall and monotonic time in milliseconds, RFC 3339 formatting and
 * parsing. Thread-safe; no state.
 *
 * trendd keeps every time as int64_t milliseconds since the Unix epoch (UTC),
 * named *_ms. Event time comes from posts; wall time only decides when a tick
 * is due and clamps posts from the future.
 */
#ifndef TRENDD_CLOCK_H
#define TRENDD_CLOCK_H

#include <stddef.h>
#include <stdint.h>

int64_t clock_now_ms(void);   /* CLOCK_REALTIME */
int64_t clock_mono_ms(void);  /* CLOCK_MONOTONIC */
int64_t clock_mono_us(void);

/* Formats t_ms as "YYYY-MM-DDTHH:MM:SSZ" (20 chars + NUL). buf must hold 21+ bytes. */
void clock_format_rfc3339(int64_t t_ms, char *buf, size_t cap);
/* Same with milliseconds: "YYYY-MM-DDTHH:MM:SS.mmmZ". buf must hold 25+ bytes. */
void clock_format_rfc3339_ms(int64_t t_ms, char *buf, size_t cap);

/*
 * Parses an RFC 3339 / ISO 8601 timestamp: date, 'T' or ' ', time, optional
 * fraction, and 'Z' or a numeric offset (+hh:mm, +hhmm, +hh). A bare date is
 * midnight UTC. Returns 0 and writes *out_ms, or -1 when s is not such a time.
 */
int clock_parse_rfc3339(const char *s, size_t len, int64_t *out_ms);

/* Days since 1970-01-01 of a proleptic Gregorian date (no time zone). */
int64_t clock_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
