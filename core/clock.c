#include "core/clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t clock_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Howard Hinnant's days_from_civil: exact for every proleptic Gregorian date. */
int64_t clock_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void split(int64_t t_ms, int64_t *y, unsigned *mo, unsigned *d, unsigned *h,
		  unsigned *mi, unsigned *s, unsigned *ms)
{
	int64_t days = t_ms >= 0 ? t_ms / 86400000 : -((-t_ms + 86399999) / 86400000);
	int64_t rem = t_ms - days * 86400000;
	civil_from_days(days, y, mo, d);
	*h = (unsigned)(rem / 3600000);
	*mi = (unsigned)(rem / 60000 % 60);
	*s = (unsigned)(rem / 1000 % 60);
	*ms = (unsigned)(rem % 1000);
}

void clock_format_rfc3339(int64_t t_ms, char *buf, size_t cap)
{
	int64_t y;
	unsigned mo, d, h, mi, s, ms;
	split(t_ms, &y, &mo, &d, &h, &mi, &s, &ms);
	snprintf(buf, cap, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, mo, d, h, mi, s);
}

void clock_format_rfc3339_ms(int64_t t_ms, char *buf, size_t cap)
{
	int64_t y;
	unsigned mo, d, h, mi, s, ms;
	split(t_ms, &y, &mo, &d, &h, &mi, &s, &ms);
	snprintf(buf, cap, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ", (long long)y, mo, d, h, mi,
		 s, ms);
}

static int digits(const char *s, size_t len, size_t *i, int n, int *out)
{
	int v = 0;
	for (int k = 0; k < n; k++) {
		if (*i >= len || s[*i] < '0' || s[*i] > '9')
			return -1;
		v = v * 10 + (s[(*i)++] - '0');
	}
	*out = v;
	return 0;
}

int clock_parse_rfc3339(const char *s, size_t len, int64_t *out_ms)
{
	size_t i = 0;
	int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
	int64_t off_min = 0;

	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (digits(s, len, &i, 4, &y) || i >= len || s[i++] != '-' ||
	    digits(s, len, &i, 2, &mo) || i >= len || s[i++] != '-' ||
	    digits(s, len, &i, 2, &d))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31)
		return -1;
	if (i < len && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
		i++;
		if (digits(s, len, &i, 2, &h) || i >= len || s[i++] != ':' ||
		    digits(s, len, &i, 2, &mi))
			return -1;
		if (i < len && s[i] == ':') {
			i++;
			if (digits(s, len, &i, 2, &sec))
				return -1;
		}
		if (i < len && (s[i] == '.' || s[i] == ',')) {
			i++;
			int n = 0;
			while (i < len && s[i] >= '0' && s[i] <= '9') {
				if (n < 3)
					ms = ms * 10 + (s[i] - '0');
				n++;
				i++;
			}
			if (n == 0)
				return -1;
			for (; n < 3; n++)
				ms *= 10;
		}
		if (h > 24 || mi > 59 || sec > 60)
			return -1;
		if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
			i++;
		} else if (i < len && (s[i] == '+' || s[i] == '-')) {
			int sign = s[i++] == '-' ? -1 : 1, oh, om = 0;
			if (digits(s, len, &i, 2, &oh))
				return -1;
			if (i < len && s[i] == ':')
				i++;
			if (i < len && s[i] >= '0' && s[i] <= '9' && digits(s, len, &i, 2, &om))
				return -1;
			if (oh > 23 || om > 59)
				return -1;
			off_min = sign * (oh * 60 + om);
		}
	}
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	if (i != len)
		return -1;
	int64_t days = clock_days_from_civil(y, (unsigned)mo, (unsigned)d);
	*out_ms = ((days * 86400 + h * 3600 + mi * 60 + sec) - off_min * 60) * 1000 + ms;
	return 0;
}
