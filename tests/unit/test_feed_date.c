/*
 * Unit tests for ingest/feed_date.c: the date formats real feeds write.
 * Most inputs are taken from the feeds in tests/fixtures/feeds and from the
 * RFCs' own examples; expected instants were worked out by hand.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "ingest/feed_date.h"
#include "tests/unit/testutil.h"

/* Parses s and returns its RFC 3339 form with milliseconds, or "invalid". */
static const char *iso(const char *s)
{
	static char buf[40];
	int64_t ms;

	if (feed_date_parse(s, strlen(s), &ms) < 0)
		return "invalid";
	clock_format_rfc3339_ms(ms, buf, sizeof buf);
	return buf;
}

#define CHECK(in, want) ck_assert_msg(!strcmp(iso(in), want), "%s -> %s, want %s", in, iso(in), want)

START_TEST(test_feed_date_reads_rfc822_with_and_without_weekday)
{
	CHECK("Thu, 01 Jan 2004 19:48:21 GMT", "2004-01-01T19:48:21.000Z");
	CHECK("01 Jan 2004 19:48:21 GMT", "2004-01-01T19:48:21.000Z");
	CHECK("Thursday, 01 Jan 2004 19:48:21 GMT", "2004-01-01T19:48:21.000Z");
	CHECK("Thu,01 Jan 2004 19:48:21 +0000", "2004-01-01T19:48:21.000Z");
	CHECK("Thu 01 Jan 2004 19:48:21 GMT", "2004-01-01T19:48:21.000Z");
	CHECK("Thu. 1 January 2004 19:48:21 GMT", "2004-01-01T19:48:21.000Z");
	/* From tests/fixtures/feeds/real/rss2/rss_2.0_bbc.xml and rss_2.0_spiegel.xml. */
	CHECK("Thu, 25 Feb 2021 10:15:00 +0000", "2021-02-25T10:15:00.000Z");
	CHECK("Sun, 07 Feb 2021 14:25:00 +0100", "2021-02-07T13:25:00.000Z");
	/* A date without a time is midnight UTC. */
	CHECK("Thu, 01 Jan 2004", "2004-01-01T00:00:00.000Z");
	/* No seconds. */
	CHECK("Thu, 1 Jan 2004 19:48 GMT", "2004-01-01T19:48:00.000Z");
}
END_TEST

START_TEST(test_feed_date_reads_two_and_four_digit_years)
{
	CHECK("Thu, 01 Jan 04 19:48:21 GMT", "2004-01-01T19:48:21.000Z");
	CHECK("Fri, 01 Jan 99 00:00:00 GMT", "1999-01-01T00:00:00.000Z");
	/* RFC 2822 section 4.3: 00-49 are 20xx, 50-99 19xx, 3 digits add 1900. */
	CHECK("Sat, 01 Jan 49 00:00:00 GMT", "2049-01-01T00:00:00.000Z");
	CHECK("Sun, 01 Jan 50 00:00:00 GMT", "1950-01-01T00:00:00.000Z");
	CHECK("Wed, 01 Jan 103 00:00:00 GMT", "2003-01-01T00:00:00.000Z");
}
END_TEST

START_TEST(test_feed_date_applies_named_zones_and_military_letters)
{
	CHECK("Thu, 01 Jan 2004 19:48:21 UT", "2004-01-01T19:48:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 UTC", "2004-01-01T19:48:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 Z", "2004-01-01T19:48:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 EST", "2004-01-02T00:48:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 EDT", "2004-01-01T23:48:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 CST", "2004-01-02T01:48:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 CDT", "2004-01-02T00:48:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 MST", "2004-01-02T02:48:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 MDT", "2004-01-02T01:48:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 PST", "2004-01-02T03:48:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 pdt", "2004-01-02T02:48:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 CEST", "2004-01-01T17:48:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 JST", "2004-01-01T10:48:21.000Z");
	/* RFC 822 military zones, as written there: A is UT-1, N is UT+1, M -12, Y +12. */
	CHECK("Thu, 01 Jan 2004 19:48:21 A", "2004-01-01T20:48:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 N", "2004-01-01T18:48:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 M", "2004-01-02T07:48:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 Y", "2004-01-01T07:48:21.000Z");
	/* Unknown zone names count as UTC; comments are ignored. */
	CHECK("Thu, 01 Jan 2004 19:48:21 XYZT", "2004-01-01T19:48:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 +0000 (GMT)", "2004-01-01T19:48:21.000Z");
	CHECK("Tue, 10 Jun 2003 04:00:00 PST (Pacific Standard Time)", "2003-06-10T12:00:00.000Z");
}
END_TEST

START_TEST(test_feed_date_applies_numeric_zones)
{
	CHECK("Thu, 01 Jan 2004 19:48:21 -0500", "2004-01-02T00:48:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 -05:00", "2004-01-02T00:48:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 +0530", "2004-01-01T14:18:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 GMT+05:30", "2004-01-01T14:18:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 GMT-5", "2004-01-02T00:48:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 UTC+1", "2004-01-01T18:48:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 Etc/GMT", "2004-01-01T19:48:21.000Z");
	CHECK("Thu, 01 Jan 2004 19:48:21 -0000", "2004-01-01T19:48:21.000Z");
	/* A numeric zone wins over a name that only says "GMT". */
	CHECK("Thu, 01 Jan 2004 19:48:21 GMT -0500", "2004-01-02T00:48:21.000Z");
}
END_TEST

START_TEST(test_feed_date_reads_w3cdtf_and_iso8601)
{
	CHECK("2003-12-31T10:14:55Z", "2003-12-31T10:14:55.000Z");
	CHECK("2003-12-31T10:14:55-08:00", "2003-12-31T18:14:55.000Z");
	CHECK("2003-12-31T10:14:55+0100", "2003-12-31T09:14:55.000Z");
	CHECK("2003-12-31T10:14:55+01", "2003-12-31T09:14:55.000Z");
	/* Without seconds, with fractions (cut to milliseconds). */
	CHECK("2003-12-31T10:14Z", "2003-12-31T10:14:00.000Z");
	CHECK("2003-12-31T10:14:55.123456Z", "2003-12-31T10:14:55.123Z");
	CHECK("2003-12-31T10:14:55,5Z", "2003-12-31T10:14:55.500Z");
	/* Lower case, space instead of T, no zone (UTC), a named zone after a space. */
	CHECK("2003-12-31t10:14:55z", "2003-12-31T10:14:55.000Z");
	CHECK("2004-01-01 19:48:21", "2004-01-01T19:48:21.000Z");
	CHECK("2004-01-01 19:48:21 GMT", "2004-01-01T19:48:21.000Z");
	CHECK("2004-01-01T19:48:21 -0500", "2004-01-02T00:48:21.000Z");
	/* Reduced precision and other ISO 8601 forms. */
	CHECK("2003-12-31", "2003-12-31T00:00:00.000Z");
	CHECK("2003-12", "2003-12-01T00:00:00.000Z");
	CHECK("2003", "2003-01-01T00:00:00.000Z");
	CHECK("20031231T101455Z", "2003-12-31T10:14:55.000Z");
	CHECK("20031231", "2003-12-31T00:00:00.000Z");
	CHECK("2004-060", "2004-02-29T00:00:00.000Z");
	CHECK("2004/01/02 15:04:05 -0700", "2004-01-02T22:04:05.000Z");
	/* The CDF fixture's LASTMOD. */
	CHECK("2004-04-06T23:05:43-05:00", "2004-04-07T04:05:43.000Z");
	/* Surrounding whitespace, as element text has it. */
	CHECK("\n\t 2003-12-31T10:14:55Z \n", "2003-12-31T10:14:55.000Z");
}
END_TEST

START_TEST(test_feed_date_reads_common_broken_variants)
{
	/* RFC 850 and asctime. */
	CHECK("Sunday, 06-Nov-94 08:49:37 GMT", "1994-11-06T08:49:37.000Z");
	CHECK("Sun Nov  6 08:49:37 1994", "1994-11-06T08:49:37.000Z");
	CHECK("Sun Nov  6 08:49:37 +0100 1994", "1994-11-06T07:49:37.000Z");
	/* Month before day, AM/PM, commas, ordinal suffixes, "at". */
	CHECK("Jan 5, 2004 8:49 PM EST", "2004-01-06T01:49:00.000Z");
	CHECK("January 5th, 2004 at 12:30am", "2004-01-05T00:30:00.000Z");
	CHECK("Mon, 5 Jan 2004 12:00:00 pm GMT", "2004-01-05T12:00:00.000Z");
	/* Lower and upper case, extra spaces, a dash between date and time. */
	CHECK("thu, 01 jan 2004 19:48:21 gmt", "2004-01-01T19:48:21.000Z");
	CHECK("THU,   01   JAN   2004   19:48:21   GMT", "2004-01-01T19:48:21.000Z");
	CHECK("Mon, 01 Jan 2004 - 10:00", "2004-01-01T10:00:00.000Z");
	CHECK("Sept 3, 2004", "2004-09-03T00:00:00.000Z");
	/* A leap second is read as the last second of its minute. */
	CHECK("2005-12-31T23:59:60Z", "2005-12-31T23:59:59.000Z");
	/* 24:00 is the end of the day. */
	CHECK("2004-01-01T24:00:00Z", "2004-01-02T00:00:00.000Z");
}
END_TEST

START_TEST(test_feed_date_rejects_impossible_and_unreadable_dates)
{
	const char *bad[] = {
		"", "   ", "garbage", "tomorrow", "Mon, 31 Apr 2004 10:00:00 GMT",
		"Thu, 29 Feb 2003 10:00:00 GMT", "2004-13-01", "2004-00-10", "2004-01-32",
		"Thu, 01 Jan 2004 25:00:00 GMT", "Thu, 01 Jan 2004 19:61:00 GMT",
		"2004-01-01T24:30:00Z", "Thu, 01 Foo 2004 19:48:21 GMT", "01 02 03",
		"2003-12-31T10:14:55+25:00", "Thu, 01 Jan 2004 19:48:21 +99",
		"2003-12-31T10:14:55Zjunk", "13:00:00", "Jan 2004", "1/2/2004",
		"Τρι, 29 Ιούν 2004 12:53:00 GMT", "2003-12-31T", "0999-01-01",
		"Thu, 01 Jan 2004 13:00 PM GMT", "Thu, 01 Jan 2004 19:48:21 19:48:21 GMT",
	};
	int64_t ms = 42;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(feed_date_parse(bad[i], strlen(bad[i]), &ms) == -EINVAL,
			      "'%s' should not parse (got %s)", bad[i], iso(bad[i]));
	ck_assert_int_eq(ms, 42);   /* untouched on failure */
}
END_TEST

START_TEST(test_feed_date_bounds_its_input)
{
	char big[4096];
	int64_t ms;

	/* A long run of spaces around a date is still that date... */
	memset(big, ' ', sizeof big);
	memcpy(big + 2000, "2003-12-31", 10);
	ck_assert_int_eq(feed_date_parse(big, sizeof big, &ms), 0);
	/* ...but text longer than any date is not read at all. */
	memset(big, '1', sizeof big);
	ck_assert_int_eq(feed_date_parse(big, sizeof big, &ms), -EINVAL);
	/* Only len bytes are looked at. */
	ck_assert_int_eq(feed_date_parse("2003-12-31T10:14:55Zgarbage", 20, &ms), 0);
	ck_assert_int_eq(ms, 1072865695000);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("feed_date");
	TCase *tc = tcase_create("dates");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_feed_date_reads_rfc822_with_and_without_weekday);
	tcase_add_test(tc, test_feed_date_reads_two_and_four_digit_years);
	tcase_add_test(tc, test_feed_date_applies_named_zones_and_military_letters);
	tcase_add_test(tc, test_feed_date_applies_numeric_zones);
	tcase_add_test(tc, test_feed_date_reads_w3cdtf_and_iso8601);
	tcase_add_test(tc, test_feed_date_reads_common_broken_variants);
	tcase_add_test(tc, test_feed_date_rejects_impossible_and_unreadable_dates);
	tcase_add_test(tc, test_feed_date_bounds_its_input);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return tu_run(suite()); }
