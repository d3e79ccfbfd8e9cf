#include "ingest/feed_date.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "core/clock.h"

/* A date and time as written, before the zone is applied. */
struct stamp {
	int y, mo, d, h, mi, s, ms;
	int off_min;   /* east of UTC */
};

/* Zone names seen in feeds, in minutes east of UTC. Ambiguous ones take their most common use. */
static const struct {
	const char *name;
	int off_min;
} g_zones[] = {
	{ "ut", 0 },      { "utc", 0 },     { "gmt", 0 },     { "z", 0 },       { "wet", 0 },
	{ "west", 60 },   { "bst", 60 },    { "cet", 60 },    { "met", 60 },    { "mez", 60 },
	{ "cest", 120 },  { "mest", 120 },  { "mesz", 120 },  { "eet", 120 },   { "eest", 180 },
	{ "msk", 180 },   { "ist", 330 },   { "wib", 420 },   { "ict", 420 },   { "hkt", 480 },
	{ "sgt", 480 },   { "awst", 480 },  { "pht", 480 },   { "jst", 540 },   { "kst", 540 },
	{ "acst", 570 },  { "acdt", 630 },  { "aest", 600 },  { "aedt", 660 },  { "nzst", 720 },
	{ "nzdt", 780 },  { "nst", -210 },  { "ndt", -150 },  { "ast", -240 },  { "adt", -180 },
	{ "est", -300 },  { "edt", -240 },  { "et", -300 },   { "cst", -360 },
	{ "cdt", -300 },  { "ct", -360 },   { "mst", -420 },  { "mdt", -360 },  { "mt", -420 },
	{ "pst", -480 },  { "pdt", -420 },  { "pt", -480 },   { "akst", -540 }, { "akdt", -480 },
	{ "hst", -600 },
};

static const char *const g_months[] = { "jan", "feb", "mar", "apr", "may", "jun",
					"jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const g_month_full[] = { "january", "february", "march", "april",
					    "may", "june", "july", "august",
					    "september", "october", "november", "december" };
static const char *const g_days[] = { "monday", "tuesday", "wednesday", "thursday",
				      "friday", "saturday", "sunday" };

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int mo)
{
	static const int n[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return mo == 2 && is_leap(y) ? 29 : n[mo - 1];
}

/* Checks the fields and converts; -EINVAL for impossible dates. */
static int stamp_to_ms(const struct stamp *t, int64_t *out_ms)
{
	int s = t->s;

	if (t->y < 1000 || t->y > 9999 || t->mo < 1 || t->mo > 12 || t->d < 1 ||
	    t->d > days_in_month(t->y, t->mo))
		return -EINVAL;
	if (t->h < 0 || t->h > 24 || t->mi < 0 || t->mi > 59 || s < 0 || s > 60)
		return -EINVAL;
	if (t->h == 24 && (t->mi || s || t->ms))
		return -EINVAL;
	if (s == 60)
		s = 59;   /* a leap second: the last second of the minute is near enough */
	if (t->off_min < -24 * 60 || t->off_min > 24 * 60)
		return -EINVAL;
	int64_t days = clock_days_from_civil(t->y, (unsigned)t->mo, (unsigned)t->d);
	int64_t secs = days * 86400 + (int64_t)t->h * 3600 + t->mi * 60 + s - t->off_min * 60;
	*out_ms = secs * 1000 + t->ms;
	return 0;
}

/* Reads 1..max digits at s[*i]; returns the count read (0: none). */
static int read_num(const char *s, size_t len, size_t *i, int max, int *out)
{
	int n = 0, v = 0;

	while (*i < len && n < max && is_digit(s[*i])) {
		v = v * 10 + (s[*i] - '0');
		(*i)++;
		n++;
	}
	*out = v;
	return n;
}

/* Milliseconds from a fraction of a second ("5" = 500 ms); skips digits beyond the third. */
static int read_fraction(const char *s, size_t len, size_t *i)
{
	int ms = 0, n = 0;

	while (*i < len && is_digit(s[*i])) {
		if (n < 3)
			ms = ms * 10 + (s[*i] - '0');
		n++;
		(*i)++;
	}
	for (; n < 3; n++)
		ms *= 10;
	return ms;
}

/* A named zone, military letter or "gmt+hh[:mm]" form in a lower-case token. */
static bool zone_named(const char *t, size_t n, int *off_min)
{
	if (n == 1 && t[0] >= 'a' && t[0] <= 'z' && t[0] != 'j') {
		/* RFC 822 military zones: A..I = -1..-9, K..M = -10..-12, N..Y = +1..+12, Z = 0. */
		char c = t[0];
		if (c == 'z')
			*off_min = 0;
		else if (c <= 'i')
			*off_min = -(c - 'a' + 1) * 60;
		else if (c <= 'm')
			*off_min = -(c - 'a') * 60;
		else
			*off_min = (c - 'n' + 1) * 60;
		return true;
	}
	for (size_t k = 0; k < sizeof g_zones / sizeof g_zones[0]; k++)
		if (strlen(g_zones[k].name) == n && !memcmp(g_zones[k].name, t, n)) {
			*off_min = g_zones[k].off_min;
			return true;
		}
	return false;
}

/* "+hh", "+hhmm", "+hh:mm", "+h" (the sign included). */
static bool zone_numeric(const char *t, size_t n, int *off_min)
{
	size_t i = 1;
	int h, m = 0, nd;

	if (n < 2 || (t[0] != '+' && t[0] != '-'))
		return false;
	nd = read_num(t, n, &i, 2, &h);
	if (nd == 0)
		return false;
	if (i < n && t[i] == ':')
		i++;
	if (i < n) {
		if (read_num(t, n, &i, 2, &m) != 2)
			return false;
	}
	if (i != n || h > 23 || m > 59)
		return false;
	*off_min = (t[0] == '-' ? -1 : 1) * (h * 60 + m);
	return true;
}

/* Any zone token: named, numeric, or a name glued to an offset ("gmt+2", "utc-05:00"). */
static bool zone_token(const char *t, size_t n, int *off_min)
{
	if (n > 4 && !memcmp(t, "etc/", 4)) {
		t += 4;
		n -= 4;
	}
	if (zone_named(t, n, off_min) || zone_numeric(t, n, off_min))
		return true;
	for (size_t k = 2; k <= 3 && k < n; k++)
		if ((t[k] == '+' || t[k] == '-') &&
		    (!memcmp(t, "ut", 2) || (k == 3 && (!memcmp(t, "gmt", 3) ||
							!memcmp(t, "utc", 3)))) &&
		    (k == 3 || t[2] == '+' || t[2] == '-'))
			return zone_numeric(t + k, n - k, off_min);
	return false;
}

/* Month 1..12 of a lower-case month name or abbreviation ("sept" too), else 0. */
static int month_of(const char *t, size_t n)
{
	if (n < 3)
		return 0;
	for (int m = 0; m < 12; m++) {
		if (memcmp(t, g_months[m], 3))
			continue;
		/* "jan", "january", "sept", "jun." all name a month; "janitor" does not. */
		if (n <= strlen(g_month_full[m]) && !memcmp(t, g_month_full[m], n))
			return m + 1;
		if (n == 4 && !memcmp(t, "sept", 4))
			return 9;
		return 0;
	}
	return 0;
}

static bool is_day_name(const char *t, size_t n)
{
	if (n < 2)
		return false;
	for (size_t k = 0; k < 7; k++)
		if (n <= strlen(g_days[k]) && !memcmp(t, g_days[k], n) && n >= 3)
			return true;
	/* "tues", "thur", "thurs" */
	return (n == 4 && (!memcmp(t, "tues", 4) || !memcmp(t, "thur", 4))) ||
	       (n == 5 && !memcmp(t, "thurs", 5));
}

/* "hh:mm[:ss[.frac]]" with an optional glued "am"/"pm". */
static bool time_token(const char *t, size_t n, struct stamp *st, int *ampm)
{
	size_t i = 0;

	if (read_num(t, n, &i, 2, &st->h) == 0 || i >= n || t[i] != ':')
		return false;
	i++;
	if (read_num(t, n, &i, 2, &st->mi) != 2)
		return false;
	st->s = st->ms = 0;
	if (i < n && t[i] == ':') {
		i++;
		if (read_num(t, n, &i, 2, &st->s) != 2)
			return false;
		if (i < n && (t[i] == '.' || t[i] == ',')) {
			i++;
			if (i >= n || !is_digit(t[i]))
				return false;
			st->ms = read_fraction(t, n, &i);
		}
	}
	if (i + 2 == n && (t[i] == 'a' || t[i] == 'p') && t[i + 1] == 'm') {
		*ampm = t[i] == 'a' ? 1 : 2;
		i += 2;
	}
	return i == n;
}

static int apply_ampm(struct stamp *st, int ampm)
{
	if (!ampm)
		return 0;
	if (st->h < 1 || st->h > 12)
		return -EINVAL;
	if (ampm == 1 && st->h == 12)
		st->h = 0;
	else if (ampm == 2 && st->h != 12)
		st->h += 12;
	return 0;
}

/*
 * ISO 8601 / W3CDTF and near forms. s is lower case and trimmed. Returns 0,
 * or -EINVAL when s is not such a date.
 */
static int parse_iso(const char *s, size_t len, struct stamp *st)
{
	size_t i = 0;
	int nd;

	memset(st, 0, sizeof *st);
	st->mo = st->d = 1;
	if (read_num(s, len, &i, 4, &st->y) != 4)
		return -EINVAL;
	if (i < len && (s[i] == '-' || s[i] == '/')) {
		char sep = s[i++];
		nd = read_num(s, len, &i, 3, &st->mo);
		if (nd == 3) {
			/* Ordinal date: day of the year. */
			int yd = st->mo;
			st->mo = 1;
			if (yd < 1 || yd > (is_leap(st->y) ? 366 : 365))
				return -EINVAL;
			while (yd > days_in_month(st->y, st->mo)) {
				yd -= days_in_month(st->y, st->mo);
				st->mo++;
			}
			st->d = yd;
		} else if (nd == 0) {
			return -EINVAL;
		} else if (i < len && s[i] == sep) {
			i++;
			if (read_num(s, len, &i, 2, &st->d) == 0)
				return -EINVAL;
		}
	} else if (i < len && is_digit(s[i])) {
		/* Compact: YYYYMMDD or YYYYDDD. */
		int v;
		nd = read_num(s, len, &i, 4, &v);
		if (nd == 4) {
			st->mo = v / 100;
			st->d = v % 100;
		} else {
			return -EINVAL;
		}
	}
	if (i < len && (s[i] == 't' || is_space(s[i]))) {
		size_t save = i;
		i++;
		while (i < len && is_space(s[i]))
			i++;
		if (i < len && is_digit(s[i])) {
			nd = read_num(s, len, &i, 2, &st->h);
			if (i < len && s[i] == ':') {
				i++;
				if (read_num(s, len, &i, 2, &st->mi) != 2)
					return -EINVAL;
				if (i < len && s[i] == ':') {
					i++;
					if (read_num(s, len, &i, 2, &st->s) != 2)
						return -EINVAL;
				}
			} else if (nd == 2 && i < len && is_digit(s[i])) {
				/* Compact hhmm[ss]. */
				if (read_num(s, len, &i, 2, &st->mi) != 2)
					return -EINVAL;
				if (i < len && is_digit(s[i]) &&
				    read_num(s, len, &i, 2, &st->s) != 2)
					return -EINVAL;
			} else {
				return -EINVAL;
			}
			if (i < len && (s[i] == '.' || s[i] == ',') && i + 1 < len &&
			    is_digit(s[i + 1])) {
				i++;
				st->ms = read_fraction(s, len, &i);
			}
		} else if (s[save] == 't') {
			return -EINVAL;   /* a 'T' promises a time */
		} else {
			i = save;
		}
	}
	/* The zone, glued or after spaces; then maybe a comment. */
	while (i < len && is_space(s[i]))
		i++;
	if (i < len && s[i] != '(') {
		size_t j = i;
		while (j < len && !is_space(s[j]) && s[j] != '(')
			j++;
		/* Military letters other than Z would be read into stray text here. */
		if ((j - i == 1 && s[i] != 'z') || !zone_token(s + i, j - i, &st->off_min))
			return -EINVAL;
		i = j;
		while (i < len && is_space(s[i]))
			i++;
	}
	if (i < len && s[i] == '(') {
		const char *close = memchr(s + i, ')', len - i);
		if (!close)
			return -EINVAL;
		i = (size_t)(close - s) + 1;
		while (i < len && is_space(s[i]))
			i++;
	}
	return i == len ? 0 : -EINVAL;
}

/*
 * RFC 850 writes "06-nov-94": a dash between a number and a month name
 * separates fields. Dashes in zones ("-0500", "gmt-5") are left alone.
 */
static void split_dashes(char *s, size_t len)
{
	for (size_t k = 1; k + 1 < len; k++) {
		if (s[k] != '-')
			continue;
		if (is_digit(s[k - 1]) && is_alpha(s[k + 1])) {
			s[k] = ' ';
		} else if (is_alpha(s[k - 1]) && is_digit(s[k + 1])) {
			size_t w = k;
			while (w > 0 && is_alpha(s[w - 1]))
				w--;
			if (month_of(s + w, k - w))
				s[k] = ' ';
		}
	}
}

/*
 * The RFC 822 family, asctime and friends: the text is split into tokens and
 * each token is recognised on its own (weekday, month, number, time, zone),
 * so field order and punctuation may vary the way feeds vary them.
 */
static int parse_words(const char *s, size_t len, struct stamp *st)
{
	int nums[3], num_len[3], nnum = 0, month = 0, ampm = 0, zone = 0;
	bool have_time = false, have_zone = false, zone_is_utc_name = false;
	size_t i = 0;

	memset(st, 0, sizeof *st);
	while (i < len) {
		while (i < len && (is_space(s[i]) || s[i] == ','))
			i++;
		if (i >= len)
			break;
		if (s[i] == '(') {
			const char *close = memchr(s + i, ')', len - i);
			i = close ? (size_t)(close - s) + 1 : len;
			continue;
		}
		size_t j = i;
		while (j < len && !is_space(s[j]) && s[j] != ',' && s[j] != '(')
			j++;
		const char *t = s + i;
		size_t n = j - i;
		i = j;

		while (n > 0 && t[n - 1] == '.')
			n--;   /* "thu." "jan." */
		if (n == 0)
			continue;

		if (is_digit(t[0])) {
			if (memchr(t, ':', n)) {
				if (have_time || !time_token(t, n, st, &ampm))
					return -EINVAL;
				have_time = true;
				continue;
			}
			size_t k = 0;
			int v;
			int nd = read_num(t, n, &k, 4, &v);
			/* Ordinal suffixes: "1st", "22nd". */
			if (k + 2 == n && (!memcmp(t + k, "st", 2) || !memcmp(t + k, "nd", 2) ||
					   !memcmp(t + k, "rd", 2) || !memcmp(t + k, "th", 2)))
				k = n;
			if (k != n || nnum == 3)
				return -EINVAL;
			nums[nnum] = v;
			num_len[nnum++] = nd;
			continue;
		}
		if (n == 1 && t[0] == '-')
			continue;   /* "Mon, 01 Jan 2004 - 10:00" */
		if (t[0] == '+' || t[0] == '-') {
			int off;
			if (!zone_numeric(t, n, &off))
				return -EINVAL;
			if (!have_zone || zone_is_utc_name) {
				zone = off;
				have_zone = true;
				zone_is_utc_name = false;
			}
			continue;
		}
		if (!is_alpha(t[0]))
			return -EINVAL;
		int m = month_of(t, n);
		if (m) {
			if (month)
				return -EINVAL;
			month = m;
			continue;
		}
		if (is_day_name(t, n))
			continue;
		if (n == 2 && (!memcmp(t, "am", 2) || !memcmp(t, "pm", 2))) {
			ampm = t[0] == 'a' ? 1 : 2;
			continue;
		}
		int off;
		if (zone_token(t, n, &off)) {
			if (!have_zone) {
				zone = off;
				have_zone = true;
				zone_is_utc_name = off == 0;
			}
			continue;
		}
		/*
		 * Short words ("at", "uhr") and unknown zone names after the time
		 * are ignored; a long unknown word before it means this is not a
		 * date at all.
		 */
		if (n > 5 && !have_time)
			return -EINVAL;
	}
	if (!month || nnum != 2)
		return -EINVAL;
	int di = 0, yi = 1;
	/* The year is the number that cannot be a day; otherwise the day comes first. */
	if (num_len[0] >= 3 || nums[0] > 31) {
		di = 1;
		yi = 0;
	}
	st->d = nums[di];
	st->y = nums[yi];
	if (num_len[yi] <= 2)
		st->y += st->y < 50 ? 2000 : 1900;   /* RFC 2822 section 4.3 */
	else if (num_len[yi] == 3)
		st->y += 1900;
	st->mo = month;
	st->off_min = zone;
	if (!have_time) {
		st->h = st->mi = st->s = st->ms = 0;
		if (ampm)
			return -EINVAL;
	}
	return apply_ampm(st, ampm);
}

int feed_date_parse(const char *s, size_t len, int64_t *out_ms)
{
	char buf[FEED_DATE_MAX_BYTES];
	struct stamp st;
	size_t n = 0;

	while (len > 0 && is_space(*s)) {
		s++;
		len--;
	}
	while (len > 0 && is_space(s[len - 1]))
		len--;
	if (len == 0 || len >= sizeof buf)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		else if ((unsigned char)c >= 0x80 || c == 0)
			return -EINVAL;   /* dates in other scripts are not read */
		buf[n++] = c;
	}
	if (n >= 4 && is_digit(buf[0]) && is_digit(buf[1]) && is_digit(buf[2]) &&
	    is_digit(buf[3]) && parse_iso(buf, n, &st) == 0)
		return stamp_to_ms(&st, out_ms);
	split_dashes(buf, n);
	if (parse_words(buf, n, &st) == 0)
		return stamp_to_ms(&st, out_ms);
	return -EINVAL;
}
