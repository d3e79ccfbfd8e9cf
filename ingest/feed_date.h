/*
 * feed_date.h - the dates real feeds write, to UTC milliseconds.
 *
 * Feeds are supposed to use RFC 822 (RSS) or RFC 3339 (Atom) and often use
 * something near them. feed_date_parse() reads:
 *
 *   - W3CDTF / ISO 8601: "2003-12-31T10:14:55Z", with or without seconds,
 *     with fractions, numeric offsets with or without the colon ("+01:00",
 *     "+0100", "+01"), a space instead of the 'T', a named zone after the
 *     time ("2004-01-01 19:48:21 GMT"), bare dates and year-months, compact
 *     forms ("20031231T101455Z"), ordinal dates ("2003-365") and '/' as the
 *     date separator;
 *   - RFC 822 / 1123 / 2822 and their relatives: with or without the weekday
 *     (abbreviated or full, with or without the comma), 2-, 3- and 4-digit
 *     years (2-digit years as RFC 2822 says: 00-49 are 20xx, 50-99 19xx),
 *     full or abbreviated month names, day and month in either order,
 *     RFC 850 dashes ("06-Nov-94"), asctime ("Sun Nov  6 08:49:37 1994"),
 *     times without seconds, AM/PM, numeric zones ("-0500", "-05:00",
 *     "GMT+2"), named zones (UT, GMT, UTC, Z, the North American zones,
 *     common European and Asian ones) and the RFC 822 military letters;
 *     comments such as "(PST)" and unknown zone names are ignored (UTC).
 *
 * A date without a time is midnight UTC; a time without a zone is UTC.
 * Stateless and thread-safe.
 */
#ifndef TRENDD_FEED_DATE_H
#define TRENDD_FEED_DATE_H

#include <stddef.h>
#include <stdint.h>

/* Longest date string looked at; feeds do not write longer ones. */
#define FEED_DATE_MAX_BYTES 128

/*
 * Parses s[0..len) (surrounding whitespace allowed). Returns 0 and writes
 * *out_ms, or -EINVAL when the text is no date it knows or names an
 * impossible one (month 13, 31 April, 25:00).
 */
int feed_date_parse(const char *s, size_t len, int64_t *out_ms);

#endif
