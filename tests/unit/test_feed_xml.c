/*
 * Unit tests for ingest/feed_xml.c: RSS and Atom documents to posts.
 * Real documents come from tests/fixtures/feeds (feedparser's test
 * documents and real-world feeds, see ORIGIN.md there); the rest are built
 * here to pin one behaviour each. The whole feedparser check list runs in
 * tests/integration/parse.test.mjs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/post.h"
#include "core/strbuf.h"
#include "ingest/feed_xml.h"
#include "ingest/html_text.h"
#include "tests/unit/testutil.h"

static void parse_full(const char *body, size_t len, const char *ct, const char *base,
		       const char *cursor, struct feed_doc *doc)
{
	struct feed_input in = { .body = body, .len = len, .content_type = ct, .base_url = base,
				 .cursor = cursor, .source_id = 9 };
	feed_doc_init(doc);
	ck_assert_int_eq(feed_xml_parse(&in, doc), 0);
	ck_assert_ptr_nonnull(doc->title);
}

static void parse_str(const char *s, struct feed_doc *doc)
{
	parse_full(s, strlen(s), NULL, NULL, NULL, doc);
}

static void parse_fixture(const char *rel, const char *ct, struct feed_doc *doc)
{
	size_t n;
	char *buf = tu_read_fixture(rel, &n);
	parse_full(buf, n, ct, NULL, NULL, doc);
	free(buf);
}

static int64_t ms_of(const char *rfc3339)
{
	int64_t ms;
	ck_assert_int_eq(clock_parse_rfc3339(rfc3339, strlen(rfc3339), &ms), 0);
	return ms;
}

static bool valid_utf8(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = s[i] ? utf8_seq_len((const unsigned char *)s + i, len - i) : 0;
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* Every post obeys post.h whatever the input was. */
static void check_invariants(const struct feed_doc *doc)
{
	for (size_t i = 0; i < doc->nposts; i++) {
		const struct post *p = doc->posts[i];
		const char *f[] = { p->id, p->url, p->author, p->lang, p->title, p->text };
		for (size_t k = 0; k < 6; k++) {
			ck_assert_ptr_nonnull(f[k]);
			ck_assert(valid_utf8(f[k], strlen(f[k])));
		}
		ck_assert_uint_gt(strlen(p->id), 0);
		ck_assert_uint_lt(strlen(p->id), LIMIT_POST_ID_BYTES);
		ck_assert_uint_le(strlen(p->title), LIMIT_POST_TITLE_BYTES);
		ck_assert_uint_le(p->text_len, LIMIT_POST_TEXT_BYTES);
		ck_assert_uint_eq(p->source_id, 9);
	}
}

START_TEST(test_feed_xml_reads_rss2_items_in_document_order)
{
	const char *xml =
		"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		"<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n"
		"     xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">\n"
		"<channel><title>Example &amp; Co</title><language>en-GB</language>\n"
		"<item><title>First</title><link>http://example.com/1</link>\n"
		" <guid isPermaLink=\"false\">id-1</guid>\n"
		" <description>&lt;p&gt;Summary &lt;b&gt;one&lt;/b&gt;&lt;/p&gt;</description>\n"
		" <content:encoded><![CDATA[<p>Full <i>text</i> one</p>]]></content:encoded>\n"
		" <dc:creator>Alice Example</dc:creator>\n"
		" <pubDate>Thu, 01 Jan 2004 19:48:21 GMT</pubDate></item>\n"
		"<item><title>Second</title><guid>http://example.com/2</guid>\n"
		" <description>Plain &amp;amp; simple</description>\n"
		" <author>bob@example.com (Bob Builder)</author>\n"
		" <dc:date>2004-01-02T10:00:00+01:00</dc:date></item>\n"
		"<item><description>No title here</description></item>\n"
		"</channel></rss>\n";
	struct feed_doc doc;
	int64_t before = clock_now_ms();

	parse_str(xml, &doc);
	ck_assert(doc.wellformed);
	ck_assert_str_eq(doc.error, "");
	ck_assert_str_eq(doc.title, "Example & Co");
	ck_assert_uint_eq(doc.nposts, 3);
	ck_assert_uint_eq(doc.items, 3);
	ck_assert_uint_eq(doc.skipped, 0);
	check_invariants(&doc);

	const struct post *p = doc.posts[0];
	ck_assert_str_eq(p->id, "id-1");
	ck_assert_str_eq(p->url, "http://example.com/1");
	ck_assert_str_eq(p->title, "First");
	ck_assert_str_eq(p->text, "Full text one");   /* content:encoded wins over description */
	ck_assert_str_eq(p->author, "Alice Example");
	ck_assert_str_eq(p->lang, "en-GB");
	ck_assert_int_eq(p->created_at_ms, ms_of("2004-01-01T19:48:21Z"));

	p = doc.posts[1];
	ck_assert_str_eq(p->id, "http://example.com/2");
	ck_assert_str_eq(p->url, "http://example.com/2");   /* a permalink guid */
	ck_assert_str_eq(p->text, "Plain & simple");        /* HTML: &amp; decoded */
	ck_assert_str_eq(p->author, "Bob Builder");
	ck_assert_int_eq(p->created_at_ms, ms_of("2004-01-02T09:00:00Z"));

	p = doc.posts[2];
	ck_assert_str_eq(p->title, "");
	ck_assert_str_eq(p->text, "No title here");
	ck_assert_str_eq(p->url, "");
	ck_assert_uint_eq(strlen(p->id), 17);   /* "h" + 16 hex digits */
	ck_assert_int_eq(p->id[0], 'h');
	/* No date: the time it was read. */
	ck_assert_int_ge(p->created_at_ms, before);
	ck_assert_int_le(p->created_at_ms, clock_now_ms());
	/* The cursor is the newest item date; undated items do not count. */
	char want[32];
	snprintf(want, sizeof want, "%lld", (long long)ms_of("2004-01-02T09:00:00Z"));
	ck_assert_str_eq(doc.cursor, want);
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_feed_xml_reads_atom_text_constructs_by_their_type)
{
	const char *xml =
		"<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\">\n"
		"<title type=\"html\">&lt;b&gt;Atom&lt;/b&gt; feed</title>\n"
		"<author><name>Feed Owner</name><email>owner@example.com</email></author>\n"
		"<entry xml:lang=\"de\"><id>tag:example.com,2024:1</id>\n"
		" <title type=\"text\">History of the &lt;blink&gt; tag</title>\n"
		" <link rel=\"self\" href=\"http://example.com/self\"/>\n"
		" <link rel=\"enclosure\" href=\"http://example.com/a.mp3\"/>\n"
		" <link href=\"http://example.com/entry1\"/>\n"
		" <summary type=\"text\">a &lt; b</summary>\n"
		" <content type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">"
		"<p>Example <b>Atom</b></p><script>alert(1)</script></div></content>\n"
		" <author><name>Ann Author</name><email>ann@example.com</email></author>\n"
		" <updated>2024-05-02T00:00:00Z</updated><published>2024-05-01T12:00:00Z</published>\n"
		"</entry>\n"
		"<entry><id>tag:example.com,2024:2</id>\n"
		" <title type=\"html\">Fish &amp;amp; Chips</title>\n"
		" <link rel=\"alternate\" type=\"text/html\" href=\"http://example.com/entry2\"/>\n"
		" <link rel=\"alternate\" type=\"application/atom+xml\" href=\"http://example.com/e2.xml\"/>\n"
		" <summary type=\"html\">&lt;p&gt;Only a summary&lt;/p&gt;</summary>\n"
		" <content src=\"http://example.com/out-of-line\"/>\n"
		" <updated>2024-05-03T00:00:00Z</updated>\n"
		"</entry></feed>\n";
	struct feed_doc doc;

	parse_str(xml, &doc);
	ck_assert(doc.wellformed);
	ck_assert_str_eq(doc.title, "Atom feed");
	ck_assert_uint_eq(doc.nposts, 2);
	check_invariants(&doc);

	const struct post *p = doc.posts[0];
	ck_assert_str_eq(p->id, "tag:example.com,2024:1");
	ck_assert_str_eq(p->url, "http://example.com/entry1");   /* rel defaults to alternate */
	ck_assert_str_eq(p->title, "History of the <blink> tag"); /* type text: taken as is */
	ck_assert_str_eq(p->text, "Example Atom");               /* xhtml, script dropped */
	ck_assert_str_eq(p->author, "Ann Author");
	ck_assert_str_eq(p->lang, "de");
	ck_assert_int_eq(p->created_at_ms, ms_of("2024-05-01T12:00:00Z")); /* published wins */

	p = doc.posts[1];
	ck_assert_str_eq(p->title, "Fish & Chips");
	ck_assert_str_eq(p->url, "http://example.com/entry2");
	ck_assert_str_eq(p->text, "Only a summary");   /* empty out-of-line content */
	ck_assert_str_eq(p->author, "Feed Owner");     /* inherited from the feed */
	ck_assert_str_eq(p->lang, "en");               /* xml:lang of the feed */
	ck_assert_int_eq(p->created_at_ms, ms_of("2024-05-03T00:00:00Z"));
	ck_assert_str_eq(doc.cursor, "1714694400000");   /* the newest item date */
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_feed_xml_reads_rdf_and_atom03_documents)
{
	struct feed_doc doc;

	/* RSS 1.0: items beside the channel, ids from rdf:about. */
	parse_str("<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"\n"
		  " xmlns=\"http://purl.org/rss/1.0/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n"
		  "<channel rdf:about=\"http://example.com/index.rdf\"><title>RDF</title>\n"
		  "<dc:language>fr</dc:language></channel>\n"
		  "<item rdf:about=\"http://example.com/1\"><title>Un</title>\n"
		  "<link>http://example.com/1.html</link><dc:date>2002-09-28T20:01:19Z</dc:date></item>\n"
		  "</rdf:RDF>", &doc);
	ck_assert(doc.wellformed);
	ck_assert_str_eq(doc.title, "RDF");
	ck_assert_uint_eq(doc.nposts, 1);
	ck_assert_str_eq(doc.posts[0]->id, "http://example.com/1");
	ck_assert_str_eq(doc.posts[0]->url, "http://example.com/1.html");
	ck_assert_str_eq(doc.posts[0]->lang, "fr");
	ck_assert_int_eq(doc.posts[0]->created_at_ms, ms_of("2002-09-28T20:01:19Z"));
	feed_doc_clear(&doc);

	/* Atom 0.3: escaped and base64 modes, issued/modified. */
	parse_str("<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"><title>Old</title>\n"
		  "<entry><title type=\"text/html\" mode=\"escaped\">&lt;i&gt;x&lt;/i&gt; &amp;amp; y"
		  "</title>\n<summary mode=\"base64\">SGVsbG8sIGJhc2U2NA==</summary>\n"
		  "<modified>2004-01-01T19:48:21Z</modified><issued>2003-12-31T10:14:55Z</issued>\n"
		  "<link rel=\"alternate\" type=\"text/html\" href=\"http://example.com/old\"/>\n"
		  "<id>tag:old</id></entry></feed>", &doc);
	ck_assert(doc.wellformed);
	ck_assert_uint_eq(doc.nposts, 1);
	ck_assert_str_eq(doc.posts[0]->title, "x & y");
	ck_assert_str_eq(doc.posts[0]->text, "Hello, base64");
	ck_assert_int_eq(doc.posts[0]->created_at_ms, ms_of("2003-12-31T10:14:55Z"));
	ck_assert_str_eq(doc.posts[0]->url, "http://example.com/old");
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_feed_xml_reads_real_feeds)
{
	struct feed_doc doc;

	/* A BBC podcast: itunes:summary and itunes:author. */
	parse_fixture("feeds/real/rss2/rss_2.0_bbc.xml", NULL, &doc);
	ck_assert(doc.wellformed);
	ck_assert_str_eq(doc.title, "In Our Time");
	ck_assert_uint_eq(doc.nposts, 1);
	ck_assert_str_eq(doc.posts[0]->id, "urn:bbc:podcast:m000sjxt");
	ck_assert_str_eq(doc.posts[0]->url, "http://www.bbc.co.uk/programmes/m000sjxt");
	ck_assert_str_eq(doc.posts[0]->title, "Marcus Aurelius");
	ck_assert_str_eq(doc.posts[0]->author, "BBC Radio 4");
	ck_assert_str_eq(doc.posts[0]->lang, "en");
	ck_assert_int_eq(doc.posts[0]->created_at_ms, ms_of("2021-02-25T10:15:00Z"));
	check_invariants(&doc);
	feed_doc_clear(&doc);

	/* ISO-8859-1 RSS 1.0 from golem.de. */
	parse_fixture("feeds/real/rss1/rss_1.0_iso8859.xml", NULL, &doc);
	ck_assert(doc.wellformed);
	ck_assert_str_eq(doc.title, "Golem.de");
	ck_assert_uint_ge(doc.nposts, 1);
	ck_assert_str_eq(doc.posts[0]->title,
			 "Digitalministerium: Neue Glasfaserf\xC3\xB6rderung mit Schnellkasse");
	check_invariants(&doc);
	feed_doc_clear(&doc);

	/* Every real feed reads into posts that obey post.h. */
	const char *all[] = { "atom/atom_mediarss_reddit_1.xml", "atom/atom_example_7.xml",
			      "rss2/rss_2.0_cloudflare.xml", "rss2/rss_2.0_wirecutter.xml",
			      "rss0/rss_0.92_spec_1.xml", "rss1/rss_1.0_biorxiv.xml" };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		char rel[128];
		snprintf(rel, sizeof rel, "feeds/real/%s", all[i]);
		parse_fixture(rel, NULL, &doc);
		ck_assert_msg(doc.wellformed, "%s: %s", all[i], doc.error);
		ck_assert_msg(doc.nposts > 0 && doc.title[0], "%s", all[i]);
		check_invariants(&doc);
		feed_doc_clear(&doc);
	}
}
END_TEST

START_TEST(test_feed_xml_resolves_links_against_xml_base_and_document_url)
{
	const char *xml =
		"<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:base=\"/blog/\">\n"
		"<entry xml:base=\"2024/\"><id>1</id><link href=\"post.html\"/></entry>\n"
		"<entry><id>2</id><link href=\"/abs\"/></entry>\n"
		"<entry xml:base=\"https://other.example/x/\"><id>3</id>"
		"<link href=\"../y?a=1&amp;b=2#f\"/></entry>\n"
		"<entry><id>4</id><link href=\"javascript:alert(1)\"/></entry>\n"
		"<entry><id>5</id><link href=\"a b/caf\xC3\xA9.html\"/></entry>\n"
		"<entry><id>6</id><link href=\"//cdn.example/z\"/></entry>\n"
		"</feed>";
	const char *want[] = {
		"http://feeds.example/blog/2024/post.html", "http://feeds.example/abs",
		"https://other.example/y?a=1&b=2#f",       "",
		"http://feeds.example/blog/a%20b/caf%C3%A9.html", "http://cdn.example/z",
	};
	struct feed_doc doc;

	parse_full(xml, strlen(xml), NULL, "http://feeds.example/feed.xml", NULL, &doc);
	ck_assert(doc.wellformed);
	ck_assert_uint_eq(doc.nposts, 6);
	for (size_t i = 0; i < 6; i++)
		ck_assert_msg(!strcmp(doc.posts[i]->url, want[i]), "entry %zu: %s", i + 1,
			      doc.posts[i]->url);
	feed_doc_clear(&doc);

	/* Without a document URL a relative link stays as written; ids are never resolved. */
	parse_str("<rss><channel><item><guid>/g/1</guid><link>/p/1</link></item></channel></rss>",
		  &doc);
	ck_assert_str_eq(doc.posts[0]->url, "/p/1");
	ck_assert_str_eq(doc.posts[0]->id, "/g/1");
	feed_doc_clear(&doc);
}
END_TEST

/* Encodes the BMP text of a UTF-8 string as UTF-16 or UTF-32, with or without a BOM. */
static char *wide(const char *utf8, int unit, bool big, bool bom, size_t *len)
{
	size_t n = strlen(utf8), o = 0;
	char *out = malloc((n + 1) * (size_t)unit);
	const unsigned char *s = (const unsigned char *)utf8;

	for (size_t i = 0; i <= n;) {
		uint32_t c;
		if (i == 0 && bom) {
			c = 0xFEFF;
		} else if (i == n) {
			break;
		} else if (s[i] < 0x80) {
			c = s[i++];
		} else if (s[i] < 0xE0) {
			c = ((s[i] & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu);
			i += 2;
		} else {
			c = ((s[i] & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
			i += 3;
		}
		for (int k = 0; k < unit; k++) {
			int shift = big ? 8 * (unit - 1 - k) : 8 * k;
			out[o++] = (char)((c >> shift) & 0xFF);
		}
		if (i == 0)
			bom = false;
	}
	*len = o;
	return out;
}

static void expect_title(const char *body, size_t len, const char *ct, const char *title,
			 bool wellformed)
{
	struct feed_doc doc;
	parse_full(body, len, ct, NULL, NULL, &doc);
	ck_assert_msg(!strcmp(doc.title, title), "title '%s', want '%s' (%s)", doc.title, title,
		      doc.error);
	ck_assert_msg(doc.wellformed == wellformed, "wellformed %d: %s", doc.wellformed,
		      doc.error);
	feed_doc_clear(&doc);
}

START_TEST(test_feed_xml_reads_declared_and_sniffed_encodings)
{
	const char *u8 = "<?xml version=\"1.0\" encoding=\"utf-16\"?><rss><channel>"
			 "<title>Caf\xC3\xA9 \xE2\x80\x9Cq\xE2\x80\x9D</title></channel></rss>";
	const char *want = "Caf\xC3\xA9 \xE2\x80\x9Cq\xE2\x80\x9D";
	size_t n;
	char *w;

	/* UTF-16 and UTF-32, with a BOM and sniffed from "<?" without one. */
	w = wide(u8, 2, false, true, &n);
	expect_title(w, n, NULL, want, true);
	free(w);
	w = wide(u8, 2, true, false, &n);
	expect_title(w, n, NULL, want, true);
	free(w);
	w = wide(u8, 4, false, true, &n);
	expect_title(w, n, NULL, want, true);
	free(w);
	w = wide(u8, 4, true, false, &n);
	expect_title(w, n, NULL, want, true);
	free(w);

	/* Single-byte encodings from the declaration. */
	const char *l1 = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>"
			 "<rss><channel><title>Caf\xE9</title></channel></rss>";
	expect_title(l1, strlen(l1), NULL, "Caf\xC3\xA9", true);
	const char *cp = "<?xml version=\"1.0\" encoding=\"windows-1252\"?>"
			 "<rss><channel><title>\x93q\x94 \x80</title></channel></rss>";
	expect_title(cp, strlen(cp), NULL, "\xE2\x80\x9Cq\xE2\x80\x9D \xE2\x82\xAC", true);

	/* A UTF-8 BOM. */
	const char *bom = "\xEF\xBB\xBF<rss><channel><title>\xC3\xA9</title></channel></rss>";
	expect_title(bom, strlen(bom), NULL, "\xC3\xA9", true);

	/* The Content-Type charset overrides the declaration (RFC 3023). */
	const char *decl8 = "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
			    "<rss><channel><title>Caf\xE9</title></channel></rss>";
	expect_title(decl8, strlen(decl8), "application/rss+xml; charset=\"ISO-8859-1\"",
		     "Caf\xC3\xA9", true);
	expect_title(decl8, strlen(decl8), "text/xml;charset=latin1", "Caf\xC3\xA9", true);

	/* text/xml without a charset means us-ascii: UTF-8 text is read, but flagged. */
	const char *plain8 = "<rss><channel><title>Caf\xC3\xA9</title></channel></rss>";
	expect_title(plain8, strlen(plain8), "text/xml", "Caf\xC3\xA9", false);
	/* application/xml without a charset defers to the document. */
	expect_title(plain8, strlen(plain8), "application/xml", "Caf\xC3\xA9", true);

	/* Bytes that are not what the declaration says: read anyway, flagged. */
	const char *liar = "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
			   "<rss><channel><title>Caf\xE9</title></channel></rss>";
	expect_title(liar, strlen(liar), NULL, "Caf\xC3\xA9", false);
	const char *bogus = "<?xml version=\"1.0\" encoding=\"bogus\"?>"
			    "<rss><channel><title>ok</title></channel></rss>";
	expect_title(bogus, strlen(bogus), NULL, "ok", false);

	/* Multi-byte legacy encodings through iconv: feedparser's EUC-KR and Big5 documents. */
	struct feed_doc doc;
	parse_fixture("feeds/feedparser/encoding/euc-kr-item.xml", NULL, &doc);
	ck_assert(doc.wellformed);
	ck_assert_str_eq(doc.posts[0]->text, "\xEB\x85\x84");   /* U+B144 */
	feed_doc_clear(&doc);
	parse_fixture("feeds/feedparser/encoding/http_text_xml_charset_2.xml",
		      "text/xml; charset=windows-1252", &doc);
	ck_assert(doc.wellformed);
	ck_assert_str_eq(doc.posts[0]->text,
			 "This is a \xC2\xA3\xE2\x80\x9Ctest.\xE2\x80\x9D");
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_feed_xml_to_utf8_reports_the_encoding_used)
{
	struct strbuf out = STRBUF_INIT;
	char used[40], err[192];

	ck_assert_int_eq(feed_xml_to_utf8("<a>\xE9</a>", 8, "text/html; charset=ISO-8859-15", &out,
					  used, sizeof used, err, sizeof err), 0);
	ck_assert_str_eq(used, "iso-8859-15");
	ck_assert_str_eq(out.buf, "<a>\xC3\xA9</a>");
	ck_assert_str_eq(err, "");

	sb_reset(&out);
	ck_assert_int_eq(feed_xml_to_utf8("<a>\xC3\xA9</a>", 9, "text/xml", &out, used,
					  sizeof used, err, sizeof err), 1);
	ck_assert_str_eq(used, "utf-8");
	ck_assert_ptr_nonnull(strstr(err, "us-ascii"));

	/* gb2312 is read as its superset gb18030. */
	sb_reset(&out);
	ck_assert_int_eq(feed_xml_to_utf8("<a>\xD6\xD0</a>", 9, "application/xml;charset=gb2312",
					  &out, used, sizeof used, err, sizeof err), 0);
	ck_assert_str_eq(used, "gb18030");
	ck_assert_str_eq(out.buf, "<a>\xE4\xB8\xAD</a>");

	/* Nothing any candidate reads as declared: the last resort reads every byte. */
	sb_reset(&out);
	ck_assert_int_eq(feed_xml_to_utf8("<a>\x81\x8D</a>", 9, NULL, &out, used, sizeof used,
					  err, sizeof err), 1);
	ck_assert_str_eq(used, "iso-8859-2");
	ck_assert(valid_utf8(out.buf, out.len));
	sb_free(&out);
}
END_TEST

START_TEST(test_feed_xml_maps_html_entities_and_keeps_unknown_ones)
{
	struct feed_doc doc;

	parse_str("<rss version=\"2.0\"><channel>\n"
		  "<title>a&nbsp;b &hellip; &doesnotexist; &#X41; AT&T &eacute;&Eacute;</title>\n"
		  "<item><title>q&amp;a</title><link>http://x.example/?a=1&b=2</link></item>\n"
		  "</channel></rss>", &doc);
	ck_assert(!doc.wellformed);
	ck_assert_str_eq(doc.error, "not well-formed XML at line 2: undefined entity &nbsp;");
	ck_assert_str_eq(doc.title, "a\xC2\xA0" "b \xE2\x80\xA6 &doesnotexist; A AT&T "
				    "\xC3\xA9\xC3\x89");
	ck_assert_uint_eq(doc.nposts, 1);
	ck_assert_str_eq(doc.posts[0]->title, "q&a");
	ck_assert_str_eq(doc.posts[0]->url, "http://x.example/?a=1&b=2");
	feed_doc_clear(&doc);

	/*
	 * After a real XML error libxml2 would drop &amp; and friends: the
	 * document is parsed again with numeric references, so they survive.
	 */
	parse_str("<rss version=\"2.0\"><channel><title>T</title>\n"
		  "<item><title>one</titel></item>\n"
		  "<item><title>Q&amp;A &lt;3</title></item>\n"
		  "</channel></rss>", &doc);
	ck_assert(!doc.wellformed);
	ck_assert_ptr_nonnull(strstr(doc.error, "line 2"));
	ck_assert_uint_ge(doc.nposts, 1);
	ck_assert_str_eq(doc.posts[doc.nposts - 1]->title, "Q&A <3");
	feed_doc_clear(&doc);

	/* Entities declared in the document's own DOCTYPE are expanded. */
	parse_fixture("feeds/feedparser/wellformed/rss/entity_in_doctype.xml", NULL, &doc);
	ck_assert(doc.wellformed);
	ck_assert_str_eq(doc.posts[0]->id, "tag:example.com,2006-05-04:/blog/");
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_feed_xml_billion_laughs_do_nothing)
{
	struct strbuf sb = STRBUF_INIT;
	struct feed_doc doc;
	int64_t t0 = clock_mono_ms();

	sb_puts(&sb, "<?xml version=\"1.0\"?>\n<!DOCTYPE rss [\n<!ENTITY lol \"lol\">\n");
	for (int i = 1; i <= 9; i++) {
		sb_printf(&sb, "<!ENTITY lol%d \"", i);
		for (int k = 0; k < 10; k++)
			sb_printf(&sb, i == 1 ? "&lol;" : "&lol%d;", i - 1);
		sb_puts(&sb, "\">\n");
	}
	sb_puts(&sb, "]>\n<rss><channel><title>&lol9;</title>\n"
		     "<item><title>&lol9;</title><link href=\"&lol9;\">&lol9;</link>"
		     "<description>&lol9;</description></item>\n"
		     "<item><title>after</title></item></channel></rss>\n");
	parse_full(sb.buf, sb.len, NULL, NULL, NULL, &doc);
	ck_assert_int_lt(clock_mono_ms() - t0, 3000);
	ck_assert(!doc.wellformed);   /* libxml2 refuses the amplification */
	size_t total = strlen(doc.title);
	for (size_t i = 0; i < doc.nposts; i++)
		total += strlen(doc.posts[i]->title) + doc.posts[i]->text_len +
			 strlen(doc.posts[i]->url);
	ck_assert_uint_le(total, 2 * FEED_XML_ENTITY_BUDGET);
	check_invariants(&doc);
	feed_doc_clear(&doc);

	/* Quadratic blow-up: one big entity referenced many times stays within the budget. */
	sb_reset(&sb);
	sb_puts(&sb, "<!DOCTYPE rss [<!ENTITY big \"");
	for (int i = 0; i < 50000; i++)
		sb_puts(&sb, "x");
	sb_puts(&sb, "\">]><rss><channel><title>t</title>");
	for (int i = 0; i < 200; i++) {
		sb_puts(&sb, "<item><description>");
		for (int k = 0; k < 50; k++)
			sb_puts(&sb, "&big;");
		sb_puts(&sb, "</description></item>");
	}
	sb_puts(&sb, "</channel></rss>");
	t0 = clock_mono_ms();
	parse_full(sb.buf, sb.len, NULL, NULL, NULL, &doc);
	ck_assert_int_lt(clock_mono_ms() - t0, 5000);
	total = 0;
	for (size_t i = 0; i < doc.nposts; i++)
		total += doc.posts[i]->text_len;
	ck_assert_uint_le(total, FEED_XML_ENTITY_BUDGET + LIMIT_POST_TEXT_BYTES);
	feed_doc_clear(&doc);
	sb_free(&sb);
}
END_TEST

START_TEST(test_feed_xml_never_reads_external_entities_or_dtds)
{
	char secret[] = "/tmp/trendd-feed-xml-XXXXXX";
	char dtd[] = "/tmp/trendd-feed-dtd-XXXXXX";
	int fd = mkstemp(secret), fd2 = mkstemp(dtd);
	struct strbuf sb = STRBUF_INIT;
	struct feed_doc doc;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(fd2, 0);
	ck_assert_int_eq(write(fd, "CANARY-1234", 11), 11);
	const char *d = "<!ENTITY leak \"CANARY-DTD\">";
	ck_assert_int_eq(write(fd2, d, strlen(d)), (ssize_t)strlen(d));
	close(fd);
	close(fd2);

	sb_printf(&sb,
		  "<?xml version=\"1.0\"?>\n"
		  "<!DOCTYPE rss SYSTEM \"file://%s\" [\n"
		  "<!ENTITY xxe SYSTEM \"file://%s\">\n"
		  "<!ENTITY %% pe SYSTEM \"file://%s\"> %%pe;\n"
		  "<!ENTITY net SYSTEM \"http://127.0.0.1:1/x\">\n"
		  "]>\n<rss><channel><title>t&xxe;</title><item><title>a&xxe;b&leak;&net;</title>"
		  "<description>&xxe;</description></item></channel></rss>",
		  dtd, secret, dtd);
	parse_full(sb.buf, sb.len, NULL, NULL, NULL, &doc);
	ck_assert_ptr_null(strstr(doc.title, "CANARY"));
	for (size_t i = 0; i < doc.nposts; i++) {
		ck_assert_ptr_null(strstr(doc.posts[i]->title, "CANARY"));
		ck_assert_ptr_null(strstr(doc.posts[i]->text, "CANARY"));
	}
	ck_assert_uint_eq(doc.nposts, 1);
	ck_assert_str_eq(doc.posts[0]->title, "ab&leak;");   /* &leak; is undeclared here */
	feed_doc_clear(&doc);
	sb_free(&sb);
	unlink(secret);
	unlink(dtd);
}
END_TEST

START_TEST(test_feed_xml_bounds_huge_and_deep_documents)
{
	struct strbuf sb = STRBUF_INIT;
	struct feed_doc doc;
	int64_t t0 = clock_mono_ms();

	/* Nesting far beyond any feed: libxml2's depth limit stops it, in bounded time. */
	sb_puts(&sb, "<rss><channel><title>deep</title><item><title>t</title><description>");
	for (int i = 0; i < 100000; i++)
		sb_puts(&sb, "<a>");
	sb_puts(&sb, "x</description></item></channel></rss>");
	parse_full(sb.buf, sb.len, NULL, NULL, NULL, &doc);
	ck_assert(!doc.wellformed);
	ck_assert_str_eq(doc.title, "deep");
	check_invariants(&doc);
	feed_doc_clear(&doc);
	ck_assert_int_lt(clock_mono_ms() - t0, 5000);

	/* More items than a page may hold: the rest are counted, not read. */
	sb_reset(&sb);
	sb_puts(&sb, "<rss><channel><title>many</title>");
	for (int i = 0; i < LIMIT_POSTS_PER_PAGE + 500; i++)
		sb_printf(&sb, "<item><guid>g%d</guid><title>t%d</title></item>", i, i);
	sb_puts(&sb, "</channel></rss>");
	parse_full(sb.buf, sb.len, NULL, NULL, NULL, &doc);
	ck_assert(doc.wellformed);
	ck_assert_uint_eq(doc.items, LIMIT_POSTS_PER_PAGE + 500);
	ck_assert_uint_eq(doc.nposts, LIMIT_POSTS_PER_PAGE);
	ck_assert_uint_eq(doc.skipped, 500);
	ck_assert_str_eq(doc.posts[LIMIT_POSTS_PER_PAGE - 1]->id, "g999");
	feed_doc_clear(&doc);

	/* Huge fields are cut to the caps of post.h at a character boundary. */
	sb_reset(&sb);
	sb_puts(&sb, "<rss><channel><item><title>");
	for (int i = 0; i < 1 << 20; i++)
		sb_puts(&sb, "\xC3\xA9");
	sb_puts(&sb, "</title><description>");
	for (int i = 0; i < 1 << 19; i++)
		sb_puts(&sb, "word ");
	sb_puts(&sb, "</description></item></channel></rss>");
	parse_full(sb.buf, sb.len, NULL, NULL, NULL, &doc);
	ck_assert_uint_eq(doc.nposts, 1);
	check_invariants(&doc);
	ck_assert_uint_gt(strlen(doc.posts[0]->title), LIMIT_POST_TITLE_BYTES - 4);
	ck_assert_uint_gt(doc.posts[0]->text_len, LIMIT_POST_TEXT_BYTES / 2);
	feed_doc_clear(&doc);
	sb_free(&sb);
}
END_TEST

START_TEST(test_feed_xml_turns_hostile_html_into_plain_text)
{
	struct feed_doc doc;

	parse_str("<rss version=\"2.0\"><channel><title>&lt;b&gt;Safe&lt;/b&gt; &amp;amp; sound"
		  "</title><item>\n"
		  "<title><![CDATA[<b onmouseover=\"alert(1)\">Bold</b> <i>title</i>]]></title>\n"
		  "<link>javascript:alert(2)</link>\n"
		  "<description><![CDATA[<script>alert(3)</script><style>p{color:red}</style>"
		  "<p onclick=\"alert(4)\">Hello <img src=x onerror=alert(5)> "
		  "<a href=\"javascript:alert(6)\">world</a></p><iframe src=\"http://evil\">"
		  "frame</iframe><!-- <b>comment</b> --><scr<script>ipt>x</script>"
		  "<p>a < b and c > d</p>]]></description></item></channel></rss>", &doc);
	ck_assert(doc.wellformed);
	ck_assert_uint_eq(doc.nposts, 1);
	const struct post *p = doc.posts[0];
	ck_assert_str_eq(p->title, "Bold title");
	ck_assert_str_eq(p->url, "");
	ck_assert_ptr_null(strstr(p->text, "alert"));
	ck_assert_ptr_null(strstr(p->text, "color"));
	ck_assert_ptr_null(strstr(p->text, "comment"));
	ck_assert_ptr_nonnull(strstr(p->text, "Hello world"));
	ck_assert_ptr_nonnull(strstr(p->text, "a < b and c > d"));
	ck_assert_ptr_null(strchr(p->title, '<'));
	/* RSS "text" that is really HTML is read as HTML... */
	ck_assert_str_eq(doc.title, "Safe & sound");
	feed_doc_clear(&doc);

	/* ...but only when it looks like ordinary HTML; anything else is the text it says. */
	parse_str("<rss><channel><title>&lt;script&gt;x()&lt;/script&gt; tags</title>"
		  "</channel></rss>", &doc);
	ck_assert_str_eq(doc.title, "<script>x()</script> tags");
	feed_doc_clear(&doc);

	/* Control characters are not XML: replaced, and the document flagged. */
	parse_str("<rss><channel><item><title>a\x01" "b\x1B" "c</title></item></channel></rss>",
		  &doc);
	ck_assert(!doc.wellformed);
	ck_assert_str_eq(doc.posts[0]->title, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c");
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_feed_xml_recovers_what_it_can_from_illformed_documents)
{
	struct feed_doc doc;
	bool recovered = false;

	/* Cut off in the middle of the second item. */
	const char *cut = "<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel><title>Cut</title>\n"
			  "<item><guid>1</guid><title>Whole</title></item>\n"
			  "<item><guid>2</guid><title>Half";
	struct feed_input in = { .body = cut, .len = strlen(cut), .source_id = 9 };
	feed_doc_init(&doc);
	ck_assert_int_eq(feed_xml_read(&in, &doc, &recovered), 0);
	ck_assert(recovered);
	ck_assert(!doc.wellformed);
	ck_assert_ptr_nonnull(strstr(doc.error, "not well-formed XML at line 4"));
	ck_assert_str_eq(doc.title, "Cut");
	ck_assert_uint_eq(doc.nposts, 2);
	ck_assert_str_eq(doc.posts[0]->title, "Whole");
	ck_assert_str_eq(doc.posts[1]->id, "2");
	feed_doc_clear(&doc);

	/* Whitespace before the declaration, a stray '<' and an undeclared prefix. */
	parse_str("  \n<?xml version=\"1.0\"?><rss><channel><title>x</title>"
		  "<item><title>1 < 2</title><foo:bar>z</foo:bar><guid>g</guid></item>"
		  "</channel></rss>", &doc);
	ck_assert(!doc.wellformed);
	ck_assert_str_eq(doc.error, "not well-formed XML at line 1: whitespace before the XML "
				    "declaration");
	ck_assert_uint_eq(doc.nposts, 1);
	ck_assert_str_eq(doc.posts[0]->id, "g");
	feed_doc_clear(&doc);

	/* Incomplete CDATA: feedparser's own test document. */
	parse_fixture("feeds/feedparser/illformed/rss_incomplete_cdata.xml", NULL, &doc);
	ck_assert(!doc.wellformed);
	ck_assert_str_eq(doc.title, "can feedparser read this xml");
	feed_doc_clear(&doc);
}
END_TEST

static void expect_not_a_feed(const char *body, size_t len, const char *why)
{
	struct feed_doc doc;
	parse_full(body, len, NULL, NULL, NULL, &doc);
	ck_assert(!doc.wellformed);
	ck_assert_uint_eq(doc.nposts, 0);
	ck_assert_str_eq(doc.title, "");
	ck_assert_msg(strstr(doc.error, why), "error '%s' lacks '%s'", doc.error, why);
	feed_doc_clear(&doc);
}

START_TEST(test_feed_xml_says_why_a_document_is_not_a_feed)
{
	const char *html = "<!DOCTYPE html>\n<html><head><title>Oops</title></head>"
			   "<body><p>Not found</p></body></html>";
	expect_not_a_feed(html, strlen(html),
			  "not an RSS or Atom feed: the root element is <html>");
	expect_not_a_feed("", 0, "not a feed: the document is empty");
	expect_not_a_feed("<!-- nothing -->\n", 17, "not a feed");
	expect_not_a_feed("{\"items\": []}", 13, "not a feed");
	expect_not_a_feed("\x00\x01\x02\xFF\xFE garbage", 12, "not a feed");
	const char *svg = "<svg xmlns=\"http://www.w3.org/2000/svg\"><title>x</title></svg>";
	expect_not_a_feed(svg, strlen(svg), "root element is <svg>");
}
END_TEST

START_TEST(test_feed_xml_cursor_skips_older_items_and_moves_forward)
{
	const char *xml = "<rss><channel>\n"
			  "<item><guid>a</guid><pubDate>Mon, 01 Jan 2024 00:00:00 GMT</pubDate></item>\n"
			  "<item><guid>b</guid><pubDate>Tue, 02 Jan 2024 00:00:00 GMT</pubDate></item>\n"
			  "<item><guid>c</guid><pubDate>Wed, 03 Jan 2024 00:00:00 GMT</pubDate></item>\n"
			  "<item><guid>undated</guid></item>\n"
			  "<item><guid>bad</guid><pubDate>someday</pubDate></item>\n"
			  "</channel></rss>";
	char cursor[32];
	struct feed_doc doc;

	snprintf(cursor, sizeof cursor, "%lld", (long long)ms_of("2024-01-01T12:00:00Z"));
	parse_full(xml, strlen(xml), NULL, NULL, cursor, &doc);
	ck_assert_uint_eq(doc.items, 5);
	ck_assert_uint_eq(doc.nposts, 4);   /* "a" is older than the cursor */
	ck_assert_str_eq(doc.posts[0]->id, "b");
	ck_assert_str_eq(doc.posts[1]->id, "c");
	ck_assert_str_eq(doc.posts[2]->id, "undated");
	ck_assert_str_eq(doc.posts[3]->id, "bad");
	snprintf(cursor, sizeof cursor, "%lld", (long long)ms_of("2024-01-03T00:00:00Z"));
	ck_assert_str_eq(doc.cursor, cursor);
	feed_doc_clear(&doc);

	/* An item dated exactly at the cursor was read before; nothing newer: no new cursor. */
	parse_full(xml, strlen(xml), NULL, NULL, cursor, &doc);
	ck_assert_uint_eq(doc.nposts, 2);
	ck_assert_str_eq(doc.posts[0]->id, "undated");
	ck_assert_ptr_null(doc.cursor);
	feed_doc_clear(&doc);

	/* A date in the future never moves the cursor past now. */
	parse_str("<rss><channel><item><guid>f</guid><pubDate>Fri, 01 Jan 2100 00:00:00 GMT"
		  "</pubDate></item></channel></rss>", &doc);
	ck_assert_ptr_nonnull(doc.cursor);
	ck_assert_int_le(strtoll(doc.cursor, NULL, 10), clock_now_ms());
	ck_assert_int_eq(doc.posts[0]->created_at_ms, ms_of("2100-01-01T00:00:00Z"));
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_feed_xml_ids_fall_back_to_the_link_then_a_stable_hash)
{
	const char *xml = "<rss><channel>\n"
			  "<item><title>A</title><link>http://example.com/a</link></item>\n"
			  "<item><title>B</title><pubDate>Mon, 01 Jan 2024 00:00:00 GMT</pubDate></item>\n"
			  "<item><title>C</title><pubDate>Mon, 01 Jan 2024 00:00:00 GMT</pubDate></item>\n"
			  "<item><guid>   spaced id   </guid></item>\n"
			  "</channel></rss>";
	struct feed_doc d1, d2;
	char id_b[32];

	parse_str(xml, &d1);
	parse_str(xml, &d2);
	ck_assert_str_eq(d1.posts[0]->id, "http://example.com/a");
	ck_assert_int_eq(d1.posts[1]->id[0], 'h');
	ck_assert_str_eq(d1.posts[1]->id, d2.posts[1]->id);   /* stable across polls */
	ck_assert_str_ne(d1.posts[1]->id, d1.posts[2]->id);   /* and tells items apart */
	ck_assert_str_eq(d1.posts[3]->id, "spaced id");
	snprintf(id_b, sizeof id_b, "%s", d1.posts[1]->id);
	feed_doc_clear(&d1);
	feed_doc_clear(&d2);

	/* The undated hash does not change with the time of reading. */
	parse_str("<rss><channel><item><title>B</title></item></channel></rss>", &d1);
	sleep(1);
	parse_str("<rss><channel><item><title>B</title></item></channel></rss>", &d2);
	ck_assert_str_eq(d1.posts[0]->id, d2.posts[0]->id);
	ck_assert_str_ne(d1.posts[0]->id, id_b);   /* the date is part of it */
	feed_doc_clear(&d1);
	feed_doc_clear(&d2);

	/* Ids too long for a post are hashed, not cut (cut ones could collide). */
	struct strbuf sb = STRBUF_INIT;
	sb_puts(&sb, "<rss><channel><item><guid>");
	for (int i = 0; i < LIMIT_POST_ID_BYTES; i++)
		sb_putc(&sb, 'x');
	sb_puts(&sb, "1</guid></item><item><guid>");
	for (int i = 0; i < LIMIT_POST_ID_BYTES; i++)
		sb_putc(&sb, 'x');
	sb_puts(&sb, "2</guid></item></channel></rss>");
	parse_str(sb.buf, &d1);
	ck_assert_uint_eq(strlen(d1.posts[0]->id), 17);
	ck_assert_str_ne(d1.posts[0]->id, d1.posts[1]->id);
	feed_doc_clear(&d1);
	sb_free(&sb);
}
END_TEST

START_TEST(test_feed_xml_author_names_leave_out_email_addresses)
{
	static const char *const cases[][2] = {
		{ "Example editor (me@example.com)", "Example editor" },
		{ "me@example.com (Example editor)", "Example editor" },
		{ "Example editor &lt;me@example.com&gt;", "Example editor" },
		{ "mailto:me@example.com (Ex Ample)", "Ex Ample" },
		{ "me@example.com", "" },
		{ "  Just   a name  ", "Just a name" },
		{ "@handle", "@handle" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char xml[512];
		struct feed_doc doc;
		snprintf(xml, sizeof xml,
			 "<rss><channel><item><author>%s</author></item></channel></rss>",
			 cases[i][0]);
		parse_str(xml, &doc);
		ck_assert_msg(!strcmp(doc.posts[0]->author, cases[i][1]), "'%s' -> '%s'",
			      cases[i][0], doc.posts[0]->author);
		feed_doc_clear(&doc);
	}
}
END_TEST

START_TEST(test_feed_xml_repairs_double_encoding_and_windows_1252)
{
	struct feed_doc doc;

	/* feedparser's documents: C1 controls meant as Windows-1252, UTF-8 read as Latin-1. */
	parse_fixture("feeds/feedparser/encoding/demoronize-1.xml", NULL, &doc);
	ck_assert_str_eq(doc.posts[0]->text, "don\xE2\x80\x99t");
	feed_doc_clear(&doc);
	parse_fixture("feeds/feedparser/encoding/double-encoded-html.xml", NULL, &doc);
	ck_assert_str_eq(doc.posts[0]->text, "\xE2\x80\xA6");
	feed_doc_clear(&doc);

	/* Real Latin-1 text in a Latin-1 document stays as it is. */
	const char *l1 = "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>"
			 "<rss><channel><item><title>\xC3\xA9</title></item></channel></rss>";
	parse_str(l1, &doc);
	ck_assert_str_eq(doc.posts[0]->title, "\xC3\x83\xC2\xA9");
	feed_doc_clear(&doc);
}
END_TEST

START_TEST(test_feed_xml_detects_rss_and_atom_by_the_root_element)
{
	const char *rss = "<?xml version=\"1.0\"?>\n<!-- c --><!DOCTYPE rss [<!ENTITY a \"b\">]>"
			  "<rss version=\"2.0\"><channel/></rss>";
	const char *atom = "\xEF\xBB\xBF<feed xmlns=\"http://www.w3.org/2005/Atom\"/>";
	const char *rdf = "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"/>";
	const char *html = "<!DOCTYPE html><html></html>";
	size_t n;
	char *w = wide("<?xml version=\"1.0\"?><feed/>", 2, true, false, &n);

	ck_assert_int_eq(feed_format_rss.detect(rss, strlen(rss), NULL), 95);
	ck_assert_int_eq(feed_format_atom.detect(rss, strlen(rss), NULL), 0);
	ck_assert_int_eq(feed_format_atom.detect(atom, strlen(atom), NULL), 95);
	ck_assert_int_eq(feed_format_rss.detect(atom, strlen(atom), NULL), 0);
	ck_assert_int_eq(feed_format_rss.detect(rdf, strlen(rdf), NULL), 90);
	ck_assert_int_eq(feed_format_atom.detect(w, n, NULL), 95);
	/* Other XML is claimed weakly, so that parsing can say what it is. */
	ck_assert_int_eq(feed_format_rss.detect(html, strlen(html), NULL), 15);
	ck_assert_int_eq(feed_format_rss.detect("[{\"id\":1}]", 10, NULL), 0);
	ck_assert_int_eq(feed_format_atom.detect("{\"version\":1}", 13, NULL), 0);
	ck_assert_int_eq(feed_format_rss.detect("", 0, NULL), 0);
	free(w);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("feed_xml");
	TCase *tc = tcase_create("feed_xml");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_feed_xml_reads_rss2_items_in_document_order);
	tcase_add_test(tc, test_feed_xml_reads_atom_text_constructs_by_their_type);
	tcase_add_test(tc, test_feed_xml_reads_rdf_and_atom03_documents);
	tcase_add_test(tc, test_feed_xml_reads_real_feeds);
	tcase_add_test(tc, test_feed_xml_resolves_links_against_xml_base_and_document_url);
	tcase_add_test(tc, test_feed_xml_reads_declared_and_sniffed_encodings);
	tcase_add_test(tc, test_feed_xml_to_utf8_reports_the_encoding_used);
	tcase_add_test(tc, test_feed_xml_maps_html_entities_and_keeps_unknown_ones);
	tcase_add_test(tc, test_feed_xml_billion_laughs_do_nothing);
	tcase_add_test(tc, test_feed_xml_never_reads_external_entities_or_dtds);
	tcase_add_test(tc, test_feed_xml_bounds_huge_and_deep_documents);
	tcase_add_test(tc, test_feed_xml_turns_hostile_html_into_plain_text);
	tcase_add_test(tc, test_feed_xml_recovers_what_it_can_from_illformed_documents);
	tcase_add_test(tc, test_feed_xml_says_why_a_document_is_not_a_feed);
	tcase_add_test(tc, test_feed_xml_cursor_skips_older_items_and_moves_forward);
	tcase_add_test(tc, test_feed_xml_ids_fall_back_to_the_link_then_a_stable_hash);
	tcase_add_test(tc, test_feed_xml_author_names_leave_out_email_addresses);
	tcase_add_test(tc, test_feed_xml_repairs_double_encoding_and_windows_1252);
	tcase_add_test(tc, test_feed_xml_detects_rss_and_atom_by_the_root_element);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return tu_run(suite()); }
