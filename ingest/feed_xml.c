#include "ingest/feed_xml.h"

#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/entities.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/uri.h>
#include <libxml/xmlerror.h>

#include "core/clock.h"
#include "core/hash.h"
#include "core/post.h"
#include "ingest/feed_date.h"
#include "ingest/html_text.h"

const struct feed_format feed_format_rss = {
	.name = "rss",
	.detect = feed_xml_detect_rss,
	.parse = feed_xml_parse,
};

const struct feed_format feed_format_atom = {
	.name = "atom",
	.detect = feed_xml_detect_atom,
	.parse = feed_xml_parse,
};

#define ENC_NAME_MAX 40
/* Deepest element nesting walked (libxml2 itself stops at 256 without XML_PARSE_HUGE). */
#define WALK_DEPTH_MAX 300
/* Bytes of the document looked at to find the root element when detecting the format. */
#define DETECT_WINDOW 8192

enum {
	XML_OPTIONS = XML_PARSE_RECOVER | XML_PARSE_NONET | XML_PARSE_NOERROR |
		      XML_PARSE_NOWARNING | XML_PARSE_IGNORE_ENC | XML_PARSE_NOCDATA |
		      XML_PARSE_COMPACT,
};

static bool is_xml_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

static bool starts_with(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && !memcmp(s, prefix, k);
}

/* Removes ASCII whitespace at both ends of sb. */
static void sb_trim(struct strbuf *sb)
{
	size_t a = 0, b = sb->len;

	if (!sb->buf)
		return;
	while (a < b && is_xml_space((unsigned char)sb->buf[a]))
		a++;
	while (b > a && is_xml_space((unsigned char)sb->buf[b - 1]))
		b--;
	if (a > 0)
		memmove(sb->buf, sb->buf + a, b - a);
	sb->len = b - a;
	sb->buf[sb->len] = 0;
}

/* Runs of ASCII whitespace become one space; the ends are trimmed. */
static void sb_collapse(struct strbuf *sb)
{
	size_t o = 0;
	bool space = false;

	if (!sb->buf)
		return;
	for (size_t i = 0; i < sb->len; i++) {
		unsigned char c = (unsigned char)sb->buf[i];
		if (is_xml_space(c) || c == '\f') {
			space = o > 0;
			continue;
		}
		if (space)
			sb->buf[o++] = ' ';
		space = false;
		sb->buf[o++] = (char)c;
	}
	sb->len = o;
	sb->buf[o] = 0;
}

static void sb_set(struct strbuf *sb, const char *s, size_t n)
{
	sb_reset(sb);
	sb_append(sb, s, n);
}

static bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		/* Most feeds are mostly ASCII: skip it eight bytes at a time. */
		while (i + 8 <= len) {
			uint64_t v;
			memcpy(&v, p + i, 8);
			if (v & 0x8080808080808080ull)
				break;
			i += 8;
		}
		if (i >= len)
			break;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		size_t n = utf8_seq_len(p + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* ------------------------------------------------------------------------ */
/* Step 1: bytes to UTF-8                                                   */
/* ------------------------------------------------------------------------ */

/* Names feeds and servers use for encodings, to the name iconv and we know them by. */
static const struct {
	const char *alias, *name;
} g_enc_alias[] = {
	{ "utf8", "utf-8" },          { "u8", "utf-8" },             { "utf", "utf-8" },
	{ "ascii", "us-ascii" },      { "646", "us-ascii" },         { "us", "us-ascii" },
	{ "ansi-x3.4-1968", "us-ascii" },
	{ "latin1", "iso-8859-1" },   { "latin-1", "iso-8859-1" },   { "l1", "iso-8859-1" },
	{ "iso8859-1", "iso-8859-1" }, { "iso-8859-1", "iso-8859-1" },
	{ "utf16", "utf-16" },        { "u16", "utf-16" },           { "ucs-2", "utf-16" },
	{ "iso-10646-ucs-2", "utf-16" }, { "csunicode", "utf-16" },
	{ "utf32", "utf-32" },        { "u32", "utf-32" },           { "ucs-4", "utf-32" },
	{ "iso-10646-ucs-4", "utf-32" }, { "csucs4", "utf-32" },
	{ "utf-16-le", "utf-16le" },  { "utf-16-be", "utf-16be" },
	{ "utf-32-le", "utf-32le" },  { "utf-32-be", "utf-32be" },
	/* gb18030 is a superset of gb2312; servers say gb2312 for either. */
	{ "gb2312", "gb18030" },      { "x-gbk", "gbk" },
	{ "ks-c-5601-1987", "cp949" }, { "x-sjis", "shift_jis" },     { "x-euc-jp", "euc-jp" },
	{ "cp037", "ibm037" },        { "x-mac-roman", "macintosh" }, { "macroman", "macintosh" },
};

/*
 * Writes the canonical lower-case form of an encoding name to buf ("" when
 * the text cannot be one): quotes and spaces trimmed, '_' as '-', aliases
 * resolved.
 */
static void enc_normalize(const char *s, size_t n, char *buf, size_t cap)
{
	size_t o = 0;

	buf[0] = 0;
	while (n > 0 && (is_xml_space((unsigned char)*s) || *s == '"' || *s == '\'')) {
		s++;
		n--;
	}
	while (n > 0 && (is_xml_space((unsigned char)s[n - 1]) || s[n - 1] == '"' ||
			 s[n - 1] == '\''))
		n--;
	if (n == 0 || n >= cap)
		return;
	for (size_t i = 0; i < n; i++) {
		char c = lower(s[i]);
		if (c == '_')
			c = '-';
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == ':' || c == '+')) {
			buf[0] = 0;
			return;
		}
		buf[o++] = c;
	}
	buf[o] = 0;
	for (size_t i = 0; i < sizeof g_enc_alias / sizeof g_enc_alias[0]; i++)
		if (!strcmp(buf, g_enc_alias[i].alias)) {
			snprintf(buf, cap, "%s", g_enc_alias[i].name);
			return;
		}
}

static bool enc_is_wide(const char *e)
{
	return !strncmp(e, "utf-16", 6) || !strncmp(e, "utf-32", 6);
}

/*
 * Decodes in[0..len) as enc into out. Sets *as_is instead when the input is
 * already valid UTF-8 that can be used unchanged. Returns 0, -EILSEQ (not
 * valid in enc), -ENOENT (an encoding iconv does not know) or -ENOMEM.
 */
static int decode_as(const char *enc, const char *in, size_t len, struct strbuf *out,
		     bool *as_is)
{
	iconv_t cd;
	int rc = 0;

	*as_is = false;
	if (!strcmp(enc, "utf-8")) {
		if (!utf8_valid(in, len))
			return -EILSEQ;
		*as_is = true;
		return 0;
	}
	if (!strcmp(enc, "us-ascii")) {
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)in[i] >= 0x80)
				return -EILSEQ;
		*as_is = true;
		return 0;
	}
	sb_reset(out);
	if (!strcmp(enc, "iso-8859-1")) {
		if (!sb_reserve(out, len * 2))
			return -ENOMEM;
		char *o = out->buf;
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)in[i];
			if (c < 0x80) {
				*o++ = (char)c;
			} else {
				*o++ = (char)(0xC0 | (c >> 6));
				*o++ = (char)(0x80 | (c & 0x3F));
			}
		}
		out->len = (size_t)(o - out->buf);
		out->buf[out->len] = 0;
		return 0;
	}
	cd = iconv_open("UTF-8", enc);
	if (cd == (iconv_t)-1)
		return errno == ENOMEM ? -ENOMEM : -ENOENT;
	if (!sb_reserve(out, len + len / 2 + 64)) {
		iconv_close(cd);
		return -ENOMEM;
	}
	char *ip = (char *)in;
	size_t il = len;
	for (int flushing = 0; flushing < 2;) {
		char *op = out->buf + out->len;
		size_t ol = out->cap - out->len - 1, r;
		/* The second round flushes stateful encodings (ISO-2022-JP). */
		r = flushing ? iconv(cd, NULL, NULL, &op, &ol) : iconv(cd, &ip, &il, &op, &ol);
		out->len = (size_t)(op - out->buf);
		if (r != (size_t)-1) {
			flushing++;
			continue;
		}
		if (errno == E2BIG) {
			if (!sb_reserve(out, out->cap)) {
				rc = -ENOMEM;
				break;
			}
			continue;
		}
		rc = -EILSEQ;   /* EILSEQ, or EINVAL for a sequence cut at the end */
		break;
	}
	iconv_close(cd);
	if (out->buf)
		out->buf[out->len] = 0;
	return rc;
}

/*
 * The encoding named in the XML declaration, which must open the first line
 * (as feedparser reads it). Writes "" when there is none.
 */
static void xml_decl_encoding(const char *s, size_t len, char *buf, size_t cap)
{
	const char *nl, *p, *end;

	buf[0] = 0;
	if (len < 6 || memcmp(s, "<?", 2))
		return;
	nl = memchr(s, '\n', len);
	end = nl ? nl : s + len;
	p = memmem(s, (size_t)(end - s), "encoding=", 9);
	if (!p)
		return;
	p += 9;
	if (p >= end || (*p != '"' && *p != '\''))
		return;
	p++;
	const char *q = p;
	while (q < end && *q != '"' && *q != '\'')
		q++;
	if (q >= end || !memmem(q, (size_t)(end - q), "?>", 2))
		return;
	enc_normalize(p, (size_t)(q - p), buf, cap);
}

/* Splits a Content-Type into its lower-case media type and normalised charset. */
static void content_type_parse(const char *ct, char *type, size_t type_cap, char *charset,
			       size_t cs_cap)
{
	const char *semi = strchr(ct, ';');
	size_t n = semi ? (size_t)(semi - ct) : strlen(ct), o = 0;

	while (n > 0 && is_xml_space((unsigned char)*ct)) {
		ct++;
		n--;
	}
	while (n > 0 && is_xml_space((unsigned char)ct[n - 1]))
		n--;
	for (size_t i = 0; i < n && o + 1 < type_cap; i++)
		type[o++] = lower(ct[i]);
	type[o] = 0;
	charset[0] = 0;
	while (semi) {
		const char *p = semi + 1, *eq;
		semi = strchr(p, ';');
		size_t pl = semi ? (size_t)(semi - p) : strlen(p);
		eq = memchr(p, '=', pl);
		if (!eq)
			continue;
		const char *k = p;
		size_t kl = (size_t)(eq - p);
		while (kl > 0 && is_xml_space((unsigned char)*k)) {
			k++;
			kl--;
		}
		while (kl > 0 && is_xml_space((unsigned char)k[kl - 1]))
			kl--;
		if (kl == 7 && !strncasecmp(k, "charset", 7))
			enc_normalize(eq + 1, pl - (size_t)(eq + 1 - p), charset, cs_cap);
	}
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !memcmp(s + n - k, suffix, k);
}

int feed_xml_to_utf8(const char *body, size_t len, const char *content_type, struct strbuf *out,
		     char *used, size_t used_cap, char *err, size_t err_cap)
{
	const unsigned char *b = (const unsigned char *)body;
	char bom[ENC_NAME_MAX] = "", decl[ENC_NAME_MAX] = "", rfc[ENC_NAME_MAX] = "";
	char type[128] = "", charset[ENC_NAME_MAX] = "";
	const char *tried[8];
	size_t ntried = 0;
	struct strbuf prefix = STRBUF_INIT;
	int rc, rfc_rc = 0;

	err[0] = 0;
	used[0] = 0;
	/* Byte order marks, then the ways "<?" looks in encodings that are not ASCII-like. */
	if (len >= 4 && !memcmp(b, "\x00\x00\xFE\xFF", 4)) {
		strcpy(bom, "utf-32be");
		body += 4, len -= 4;
	} else if (len >= 4 && !memcmp(b, "\xFF\xFE\x00\x00", 4)) {
		strcpy(bom, "utf-32le");
		body += 4, len -= 4;
	} else if (len >= 2 && !memcmp(b, "\xFE\xFF", 2)) {
		strcpy(bom, "utf-16be");
		body += 2, len -= 2;
	} else if (len >= 2 && !memcmp(b, "\xFF\xFE", 2)) {
		strcpy(bom, "utf-16le");
		body += 2, len -= 2;
	} else if (len >= 3 && !memcmp(b, "\xEF\xBB\xBF", 3)) {
		strcpy(bom, "utf-8");
		body += 3, len -= 3;
	} else if (len >= 4 && !memcmp(b, "\x4C\x6F\xA7\x94", 4)) {
		strcpy(bom, "ibm037");
	} else if (len >= 4 && !memcmp(b, "\x00\x3C\x00\x3F", 4)) {
		strcpy(bom, "utf-16be");
	} else if (len >= 4 && !memcmp(b, "\x3C\x00\x3F\x00", 4)) {
		strcpy(bom, "utf-16le");
	} else if (len >= 4 && !memcmp(b, "\x00\x00\x00\x3C", 4)) {
		strcpy(bom, "utf-32be");
	} else if (len >= 4 && !memcmp(b, "\x3C\x00\x00\x00", 4)) {
		strcpy(bom, "utf-32le");
	}

	/* The declaration is read in the BOM's encoding when there is one. */
	if (bom[0] && strcmp(bom, "utf-8")) {
		bool as_is;
		size_t plen = len < 1024 ? len : 1024;
		plen -= plen % 4;
		if (decode_as(bom, body, plen, &prefix, &as_is) == 0 && prefix.buf)
			xml_decl_encoding(prefix.buf, prefix.len, decl, sizeof decl);
	} else {
		xml_decl_encoding(body, len, decl, sizeof decl);
	}
	if (decl[0] && enc_is_wide(decl)) {
		/*
		 * A declaration readable as ASCII cannot be in UTF-16/32; with a
		 * BOM it names the BOM's encoding (without its byte order).
		 */
		if (bom[0] && enc_is_wide(bom))
			strcpy(decl, bom);
		else
			decl[0] = 0;
	}

	/* RFC 3023, as feedparser applies it. */
	if (content_type && content_type[0])
		content_type_parse(content_type, type, sizeof type, charset, sizeof charset);
	if (!content_type || !content_type[0]) {
		snprintf(rfc, sizeof rfc, "%s", decl[0] ? decl : "utf-8");
	} else if (!strcmp(type, "application/xml") || !strcmp(type, "application/xml-dtd") ||
		   !strcmp(type, "application/xml-external-parsed-entity") ||
		   (!strncmp(type, "application/", 12) && ends_with(type, "+xml"))) {
		snprintf(rfc, sizeof rfc, "%s", charset[0] ? charset : decl[0] ? decl : "utf-8");
	} else if (!strncmp(type, "text/", 5)) {
		/* text/xml, text/...+xml and other text types: the declaration does not count. */
		snprintf(rfc, sizeof rfc, "%s", charset[0] ? charset : "us-ascii");
	} else {
		snprintf(rfc, sizeof rfc, "%s", decl[0] ? decl : "utf-8");
	}
	/* "utf-16" says nothing of the byte order: the BOM does, else little-endian. */
	if (!strcmp(rfc, "utf-16") || !strcmp(rfc, "utf-32"))
		snprintf(rfc, sizeof rfc, "%s",
			 bom[0] && !strncmp(bom, rfc, 6) ? bom
			 : !strcmp(rfc, "utf-16") ? "utf-16le" : "utf-32le");

	const char *candidates[] = { rfc, decl, bom, "utf-8", "windows-1252", "iso-8859-2" };
	rc = -EILSEQ;
	for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
		const char *enc = candidates[i];
		bool dup = false, as_is;
		if (!enc[0])
			continue;
		for (size_t k = 0; k < ntried; k++)
			dup |= !strcmp(tried[k], enc);
		if (dup)
			continue;
		tried[ntried++] = enc;
		rc = decode_as(enc, body, len, out, &as_is);
		if (enc == rfc)
			rfc_rc = rc;
		if (rc == -ENOMEM)
			break;
		if (rc < 0)
			continue;
		if (as_is) {
			sb_reset(out);
			sb_append(out, body, len);
		}
		snprintf(used, used_cap, "%s", enc);
		break;
	}
	sb_free(&prefix);
	if (rc == -ENOMEM || out->failed)
		return -ENOMEM;
	if (rc < 0) {
		/* iso-8859-2 reads any bytes; this is only for an iconv without it. */
		snprintf(err, err_cap, "the bytes are in no encoding trendd can read");
		return 1;
	}
	if (strcmp(used, rfc)) {
		bool have_ct = content_type && content_type[0];
		const char *why = "";
		if (have_ct && charset[0])
			why = " as the Content-Type charset says";
		else if (have_ct && !strncmp(type, "text/", 5))
			why = " (a text/ Content-Type without a charset means us-ascii)";
		else if (decl[0] && !strcmp(rfc, decl))
			why = " as the XML declaration says";
		if (rfc_rc == -ENOENT)
			snprintf(err, err_cap, "unknown encoding \"%s\"; read as %s", rfc, used);
		else
			snprintf(err, err_cap, "the bytes are not valid %s%s; read as %s", rfc, why,
				 used);
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Step 2: repairs that leave libxml2 a well-formed document                 */
/* ------------------------------------------------------------------------ */

struct repair {
	const char *src;
	size_t len;
	bool numeric_all;              /* also predefined entities become character references */
	struct strbuf *out;            /* borrowed: the repaired copy, begun at the first change */
	bool copying;
	size_t done;                   /* src bytes already accounted for in out */
	size_t note_pos;               /* where the first problem is; SIZE_MAX: none */
	char note[160];
	const char *decl[FEED_XML_DECLARED_MAX];   /* entity names of the internal subset */
	unsigned char decl_len[FEED_XML_DECLARED_MAX];
	size_t ndecl;
};

/* C0 controls other than tab, newline and carriage return: not XML characters. */
#define CONTROLS \
	[0x00] = true, [0x01] = true, [0x02] = true, [0x03] = true, [0x04] = true, [0x05] = true, \
	[0x06] = true, [0x07] = true, [0x08] = true, [0x0B] = true, [0x0C] = true, [0x0E] = true, \
	[0x0F] = true, [0x10] = true, [0x11] = true, [0x12] = true, [0x13] = true, [0x14] = true, \
	[0x15] = true, [0x16] = true, [0x17] = true, [0x18] = true, [0x19] = true, [0x1A] = true, \
	[0x1B] = true, [0x1C] = true, [0x1D] = true, [0x1E] = true, [0x1F] = true

static const bool g_control[256] = { CONTROLS };
/* Bytes the scan stops at: '&', '<', the first byte of U+FFFE/U+FFFF, and the controls. */
static const bool g_special[256] = { CONTROLS, ['&'] = true, ['<'] = true, [0xEF] = true };

static void rp_note(struct repair *r, size_t pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void rp_note(struct repair *r, size_t pos, const char *fmt, ...)
{
	va_list ap;

	if (r->note_pos != SIZE_MAX)
		return;
	r->note_pos = pos;
	va_start(ap, fmt);
	vsnprintf(r->note, sizeof r->note, fmt, ap);
	va_end(ap);
}

/* Replaces src[at, at + consumed) with the given bytes in the copy. */
static void rp_replace(struct repair *r, size_t at, size_t consumed, const char *with, size_t n)
{
	if (!r->copying) {
		r->copying = true;
		sb_reset(r->out);
		sb_reserve(r->out, r->len + r->len / 16 + 64);
	}
	sb_append(r->out, r->src + r->done, at - r->done);
	sb_append(r->out, with, n);
	r->done = at + consumed;
}

static bool xml_char_ok(uint32_t v)
{
	return v == 0x9 || v == 0xA || v == 0xD || (v >= 0x20 && v <= 0xD7FF) ||
	       (v >= 0xE000 && v <= 0xFFFD) || (v >= 0x10000 && v <= 0x10FFFF);
}

static bool name_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || c >= 0x80;
}

static bool name_char(unsigned char c)
{
	return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The code point of an HTML 4 entity name, or 0. */
static uint32_t html_entity(const char *name, size_t n)
{
	char buf[40];
	const htmlEntityDesc *e;

	if (n >= sizeof buf)
		return 0;
	memcpy(buf, name, n);
	buf[n] = 0;
	e = htmlEntityLookup((const xmlChar *)buf);
	return e ? e->value : 0;
}

static uint32_t predefined_entity(const char *name, size_t n)
{
	if (n == 3 && !memcmp(name, "amp", 3))
		return '&';
	if (n == 2 && !memcmp(name, "lt", 2))
		return '<';
	if (n == 2 && !memcmp(name, "gt", 2))
		return '>';
	if (n == 4 && !memcmp(name, "quot", 4))
		return '"';
	if (n == 4 && !memcmp(name, "apos", 4))
		return '\'';
	return 0;
}

static void rp_charref(struct repair *r, size_t at, size_t consumed, uint32_t v)
{
	char buf[16];
	int n = snprintf(buf, sizeof buf, "&#%u;", (unsigned)v);
	rp_replace(r, at, consumed, buf, (size_t)n);
}

/* Handles the '&' at i; returns where the scan continues. */
static size_t repair_ref(struct repair *r, size_t i)
{
	const unsigned char *s = (const unsigned char *)r->src;
	size_t n = r->len, j = i + 1;

	if (j < n && s[j] == '#') {
		bool hex = false, upper = false, big = false;
		uint32_t v = 0;
		size_t d0;
		j++;
		if (j < n && (s[j] == 'x' || s[j] == 'X')) {
			hex = true;
			upper = s[j] == 'X';
			j++;
		}
		d0 = j;
		while (j < n && (hex ? hexval(s[j]) >= 0 : (s[j] >= '0' && s[j] <= '9'))) {
			if (j - d0 < 8)
				v = v * (hex ? 16 : 10) + (uint32_t)hexval(s[j]);
			else
				big = true;
			j++;
		}
		if (j == d0 || j >= n || s[j] != ';') {
			rp_note(r, i, "'&' that starts no reference (write &amp;)");
			rp_replace(r, i, 1, "&#38;", 5);
			return i + 1;
		}
		j++;
		if (big || !xml_char_ok(v)) {
			rp_note(r, i, "character reference %.*s names no XML character",
				(int)(j - i > 16 ? 16 : j - i), r->src + i);
			rp_replace(r, i, j - i, "&#65533;", 8);
		} else if (upper) {
			rp_note(r, i, "character reference %.*s (the x must be lower case)",
				(int)(j - i), r->src + i);
			rp_charref(r, i, j - i, v);
		}
		return j;
	}
	size_t k = j;
	if (k < n && name_start(s[k]))
		while (k < n && name_char(s[k]) && k - j <= 64)
			k++;
	if (k == j || k >= n || s[k] != ';' || k - j > 64) {
		rp_note(r, i, "'&' that starts no reference (write &amp;)");
		rp_replace(r, i, 1, "&#38;", 5);
		return i + 1;
	}
	const char *name = r->src + j;
	size_t nl = k - j;
	uint32_t v = predefined_entity(name, nl);
	if (v) {
		if (r->numeric_all)
			rp_charref(r, i, k + 1 - i, v);
		return k + 1;
	}
	for (size_t d = 0; d < r->ndecl; d++)
		if (r->decl_len[d] == nl && !memcmp(r->decl[d], name, nl))
			return k + 1;
	v = html_entity(name, nl);
	rp_note(r, i, "undefined entity &%.*s;", (int)nl, name);
	if (v)
		rp_charref(r, i, k + 1 - i, v);
	else
		rp_replace(r, i, 1, "&#38;", 5);   /* unknown: its text stays as written */
	return k + 1;
}

/* Replaces control characters in src[from, to) (inside comments, CDATA, PIs). */
static void repair_controls(struct repair *r, size_t from, size_t to)
{
	const unsigned char *s = (const unsigned char *)r->src;

	for (size_t i = from; i < to; i++)
		if (g_control[s[i]]) {
			rp_note(r, i, "control character U+%04X", s[i]);
			rp_replace(r, i, 1, "\xEF\xBF\xBD", 3);
		}
}

/* Position after the terminator found from i, or len when it is missing. */
static size_t skip_to(const struct repair *r, size_t i, const char *term)
{
	size_t tl = strlen(term);
	const char *p = i <= r->len ? memmem(r->src + i, r->len - i, term, tl) : NULL;
	return p ? (size_t)(p - r->src) + tl : r->len;
}

/* The internal subset from i (after '['): remembers general entity names. */
static size_t repair_subset(struct repair *r, size_t i)
{
	const unsigned char *s = (const unsigned char *)r->src;
	size_t n = r->len;

	while (i < n) {
		unsigned char c = s[i];
		if (c == ']')
			return i + 1;
		if (c == '"' || c == '\'') {
			const char *q = memchr(r->src + i + 1, c, n - i - 1);
			i = q ? (size_t)(q - r->src) + 1 : n;
		} else if (starts_with(r->src + i, n - i, "<!--")) {
			i = skip_to(r, i + 4, "-->");
		} else if (starts_with(r->src + i, n - i, "<?")) {
			i = skip_to(r, i + 2, "?>");
		} else if (starts_with(r->src + i, n - i, "<!ENTITY")) {
			size_t j = i + 8, k;
			while (j < n && is_xml_space(s[j]))
				j++;
			if (j < n && s[j] == '%') {
				/* Parameter entities are never referenced from content. */
				i = j + 1;
				continue;
			}
			k = j;
			while (k < n && name_char(s[k]))
				k++;
			if (k > j && k - j <= 64 && r->ndecl < FEED_XML_DECLARED_MAX) {
				r->decl[r->ndecl] = r->src + j;
				r->decl_len[r->ndecl++] = (unsigned char)(k - j);
			}
			i = k > j ? k : j + 1;
		} else {
			i++;
		}
	}
	return n;
}

static size_t repair_doctype(struct repair *r, size_t i)
{
	const unsigned char *s = (const unsigned char *)r->src;
	size_t n = r->len;

	while (i < n) {
		unsigned char c = s[i];
		if (c == '"' || c == '\'') {
			const char *q = memchr(r->src + i + 1, c, n - i - 1);
			i = q ? (size_t)(q - r->src) + 1 : n;
		} else if (c == '[') {
			i = repair_subset(r, i + 1);
		} else if (c == '>') {
			return i + 1;
		} else {
			i++;
		}
	}
	return n;
}

/* Handles the '<' at i: comments, CDATA, PIs and the DOCTYPE are passed over. */
static size_t repair_markup(struct repair *r, size_t i)
{
	const char *p = r->src + i;
	size_t left = r->len - i, end;

	if (starts_with(p, left, "<!--")) {
		end = skip_to(r, i + 4, "-->");
	} else if (starts_with(p, left, "<![CDATA[")) {
		end = skip_to(r, i + 9, "]]>");
	} else if (starts_with(p, left, "<?")) {
		end = skip_to(r, i + 2, "?>");
	} else if (starts_with(p, left, "<!DOCTYPE")) {
		return repair_doctype(r, i + 9);
	} else {
		return i + 1;
	}
	repair_controls(r, i, end);
	return end;
}

/*
 * Scans the document and writes a repaired copy to r->out when anything
 * needed repair (r->copying tells). The first problem is noted.
 */
static void repair_scan(struct repair *r)
{
	const unsigned char *s = (const unsigned char *)r->src;
	size_t n = r->len, i = 0;

	r->note_pos = SIZE_MAX;
	while (i < n && is_xml_space(s[i]))
		i++;
	if (i > 0 && n - i > 5 && !memcmp(s + i, "<?xml", 5) &&
	    (is_xml_space(s[i + 5]) || s[i + 5] == '?')) {
		rp_note(r, 0, "whitespace before the XML declaration");
		rp_replace(r, 0, i, "", 0);
	} else {
		i = 0;
	}
	while (i < n) {
		unsigned char c = s[i];
		if (!g_special[c]) {
			i++;
			continue;
		}
		if (c == '&') {
			i = repair_ref(r, i);
		} else if (c == '<') {
			i = repair_markup(r, i);
		} else if (c == 0xEF) {
			bool nonchar = i + 2 < n && s[i + 1] == 0xBF &&
				       (s[i + 2] == 0xBE || s[i + 2] == 0xBF);
			if (nonchar) {
				rp_note(r, i, "U+FFFE/U+FFFF is not an XML character");
				rp_replace(r, i, 3, "\xEF\xBF\xBD", 3);
				i += 3;
			} else {
				i++;
			}
		} else {
			rp_note(r, i, "control character U+%04X", c);
			rp_replace(r, i, 1, "\xEF\xBF\xBD", 3);
			i++;
		}
	}
	if (r->copying)
		sb_append(r->out, r->src + r->done, n - r->done);
}

static int line_of(const char *s, size_t pos)
{
	int line = 1;
	for (const char *p = s; (p = memchr(p, '\n', (size_t)(s + pos - p))); p++)
		line++;
	return line;
}

/* ------------------------------------------------------------------------ */
/* Step 3: libxml2                                                          */
/* ------------------------------------------------------------------------ */

struct xml_error {
	bool have;
	int line;
	char msg[200];
};

static void on_xml_error(void *ctx, xmlErrorPtr e)
{
	xmlParserCtxtPtr c = ctx;
	struct xml_error *xe = c ? c->_private : NULL;

	if (!xe || xe->have || !e || e->level < XML_ERR_ERROR)
		return;
	xe->have = true;
	xe->line = e->line;
	snprintf(xe->msg, sizeof xe->msg, "%s", e->message ? e->message : "error");
	size_t n = strlen(xe->msg);
	while (n > 0 && is_xml_space((unsigned char)xe->msg[n - 1]))
		xe->msg[--n] = 0;
}

/*
 * Parses buf into a tree. *wf tells whether libxml2 found it well-formed
 * (namespaces included), *recovering whether it had to recover from an
 * error in the XML itself (after which named references are lost); the
 * first error goes to *xe. Returns the document (NULL when nothing could be
 * read) or sets *nomem.
 */
static xmlDocPtr xml_parse(const char *buf, size_t len, struct xml_error *xe, bool *wf,
			   bool *recovering, bool *nomem)
{
	xmlParserCtxtPtr c;
	xmlDocPtr d;

	*wf = false;
	*recovering = false;
	*nomem = false;
	html_text_global_init();
	if (len > INT32_MAX)
		return NULL;
	c = xmlNewParserCtxt();
	if (!c) {
		*nomem = true;
		return NULL;
	}
	/* As in html_text.c: errors reach the context's handler only with a SAX2 block. */
	c->sax->initialized = XML_SAX2_MAGIC;
	c->sax->serror = on_xml_error;
	c->sax->warning = NULL;
	c->sax->error = NULL;
	c->sax->fatalError = NULL;
	c->_private = xe;
	d = xmlCtxtReadMemory(c, buf, (int)len, NULL, NULL, XML_OPTIONS);
	*wf = c->wellFormed && c->nsWellFormed;
	*recovering = !c->wellFormed;
	xmlFreeParserCtxt(c);
	return d;
}

/* ------------------------------------------------------------------------ */
/* The tree                                                                 */
/* ------------------------------------------------------------------------ */

enum ns_class { NS_NONE, NS_BASE, NS_DC, NS_DCTERMS, NS_CONTENT, NS_MEDIA, NS_ITUNES,
		NS_XHTML, NS_RDF, NS_XML, NS_OTHER };

/* Namespaces by what they mean to a feed (compared lower-case). */
static const struct {
	const char *uri;
	enum ns_class cls;
} g_namespaces[] = {
	{ "", NS_BASE },
	{ "http://blogs.law.harvard.edu/tech/rss", NS_BASE },
	{ "http://purl.org/rss/1.0/", NS_BASE },
	{ "http://my.netscape.com/rdf/simple/0.9/", NS_BASE },
	{ "http://example.com/newformat#", NS_BASE },
	{ "http://example.com/necho", NS_BASE },
	{ "http://purl.org/echo/", NS_BASE },
	{ "uri/of/echo/namespace#", NS_BASE },
	{ "http://purl.org/pie/", NS_BASE },
	{ "http://purl.org/atom/ns#", NS_BASE },
	{ "http://www.w3.org/2005/atom", NS_BASE },
	{ "http://purl.org/rss/1.0/modules/rss091#", NS_BASE },
	{ "http://purl.org/dc/elements/1.1/", NS_DC },
	{ "http://purl.org/dc/terms/", NS_DCTERMS },
	{ "http://purl.org/rss/1.0/modules/content/", NS_CONTENT },
	{ "http://search.yahoo.com/mrss", NS_MEDIA },
	{ "http://search.yahoo.com/mrss/", NS_MEDIA },
	{ "http://www.itunes.com/dtds/podcast-1.0.dtd", NS_ITUNES },
	{ "http://example.com/dtds/podcast-1.0.dtd", NS_ITUNES },
	{ "http://www.w3.org/1999/xhtml", NS_XHTML },
	{ "http://www.w3.org/1999/02/22-rdf-syntax-ns#", NS_RDF },
	{ "http://www.w3.org/xml/1998/namespace", NS_XML },
	{ "http://webns.net/mvcb/", NS_OTHER },
	{ "http://purl.org/rss/1.0/modules/slash/", NS_OTHER },
	{ "http://wellformedweb.org/commentapi/", NS_OTHER },
	{ "http://purl.org/rss/1.0/modules/syndication/", NS_OTHER },
	{ "http://www.w3.org/1999/xlink", NS_OTHER },
	{ "http://www.georss.org/georss", NS_OTHER },
	{ "http://www.opengis.net/gml", NS_OTHER },
};

/* A namespace trendd does not know means what its prefix usually means. */
static enum ns_class prefix_class(const char *p, size_t n)
{
	static const struct {
		const char *prefix;
		enum ns_class cls;
	} known[] = {
		{ "dc", NS_DC },         { "dcterms", NS_DCTERMS }, { "content", NS_CONTENT },
		{ "media", NS_MEDIA },   { "itunes", NS_ITUNES },   { "xhtml", NS_XHTML },
		{ "rdf", NS_RDF },       { "xml", NS_XML },
	};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strlen(known[i].prefix) == n && !strncasecmp(p, known[i].prefix, n))
			return known[i].cls;
	return NS_OTHER;
}

enum el {
	EL_NONE,
	EL_RSS, EL_RDF, EL_CHANNEL, EL_FEED, EL_ITEM, EL_ENTRY,
	EL_TITLE, EL_LINK, EL_GUID,
	EL_DESCRIPTION,    /* summary whose default type is HTML */
	EL_SUMMARY,        /* summary whose default type is text */
	EL_CONTENT,        /* atom:content, default text */
	EL_CONTENT_HTML,   /* content:encoded, fullitem */
	EL_BODY,           /* xhtml:body */
	EL_AUTHOR, EL_CREATOR, EL_NAME,
	EL_PUBLISHED, EL_UPDATED, EL_LANGUAGE,
	EL_MEDIA_TITLE, EL_MEDIA_DESCRIPTION, EL_MEDIA_GROUP, EL_MEDIA_CONTENT,
};

static const struct {
	enum ns_class cls;
	const char *name;
	enum el el;
} g_elements[] = {
	{ NS_BASE, "rss", EL_RSS },               { NS_BASE, "channel", EL_CHANNEL },
	{ NS_BASE, "feed", EL_FEED },             { NS_BASE, "item", EL_ITEM },
	{ NS_BASE, "entry", EL_ENTRY },           { NS_BASE, "title", EL_TITLE },
	{ NS_BASE, "link", EL_LINK },             { NS_BASE, "guid", EL_GUID },
	{ NS_BASE, "id", EL_GUID },               { NS_BASE, "description", EL_DESCRIPTION },
	{ NS_BASE, "summary", EL_SUMMARY },       { NS_BASE, "abstract", EL_SUMMARY },
	{ NS_BASE, "content", EL_CONTENT },       { NS_BASE, "fullitem", EL_CONTENT_HTML },
	{ NS_BASE, "body", EL_BODY },             { NS_BASE, "author", EL_AUTHOR },
	{ NS_BASE, "managingeditor", EL_AUTHOR }, { NS_BASE, "name", EL_NAME },
	{ NS_BASE, "pubdate", EL_PUBLISHED },     { NS_BASE, "published", EL_PUBLISHED },
	{ NS_BASE, "issued", EL_PUBLISHED },      { NS_BASE, "updated", EL_UPDATED },
	{ NS_BASE, "modified", EL_UPDATED },      { NS_BASE, "lastbuilddate", EL_UPDATED },
	{ NS_BASE, "language", EL_LANGUAGE },
	{ NS_DC, "title", EL_TITLE },             { NS_DC, "description", EL_DESCRIPTION },
	{ NS_DC, "creator", EL_CREATOR },         { NS_DC, "author", EL_CREATOR },
	{ NS_DC, "date", EL_UPDATED },            { NS_DC, "language", EL_LANGUAGE },
	{ NS_DCTERMS, "issued", EL_PUBLISHED },   { NS_DCTERMS, "modified", EL_UPDATED },
	{ NS_CONTENT, "encoded", EL_CONTENT_HTML },
	{ NS_XHTML, "body", EL_BODY },
	{ NS_MEDIA, "title", EL_MEDIA_TITLE },    { NS_MEDIA, "description", EL_MEDIA_DESCRIPTION },
	{ NS_MEDIA, "group", EL_MEDIA_GROUP },    { NS_MEDIA, "content", EL_MEDIA_CONTENT },
	{ NS_ITUNES, "author", EL_CREATOR },      { NS_ITUNES, "summary", EL_SUMMARY },
	{ NS_RDF, "rdf", EL_RDF },
};

/* The state of one document being read; owned by the calling thread for the call. */
struct walk {
	const struct feed_input *in;
	struct feed_doc *doc;
	struct html_text *html;   /* borrowed */
	bool atom;                /* Atom: text constructs say their type; no sniffing */
	bool utf8_source;         /* the bytes were UTF-8: undo double encoding */
	size_t entity_bytes, entity_refs;
	const xmlNs *ns_key[8];   /* cache of namespace classes by declaration */
	enum ns_class ns_val[8];
	unsigned ns_next;
	int64_t now_ms;
	char feed_lang[LIMIT_POST_LANG_BYTES];
	struct strbuf raw, tmp, tmp2, attr, base, val, other;
	struct strbuf title, text, url, id, author, feed_author;
};

static enum ns_class ns_class_of(struct walk *w, const xmlNs *ns)
{
	char low[256];
	const char *href = (const char *)ns->href;
	size_t n;
	enum ns_class c = NS_NONE;

	for (unsigned i = 0; i < 8; i++)
		if (w->ns_key[i] == ns)
			return w->ns_val[i];
	n = href ? strlen(href) : 0;
	if (n < sizeof low) {
		for (size_t i = 0; i < n; i++)
			low[i] = lower(href[i]);
		low[n] = 0;
		if (strstr(low, "backend.userland.com/rss"))
			c = NS_BASE;
		for (size_t i = 0; c == NS_NONE && i < sizeof g_namespaces / sizeof g_namespaces[0];
		     i++)
			if (!strcmp(low, g_namespaces[i].uri))
				c = g_namespaces[i].cls;
	}
	if (c == NS_NONE) {
		/* An unknown default namespace leaves RSS and Atom names what they are. */
		const char *p = (const char *)ns->prefix;
		c = p && p[0] ? prefix_class(p, strlen(p)) : NS_BASE;
	}
	w->ns_key[w->ns_next % 8] = ns;
	w->ns_val[w->ns_next % 8] = c;
	w->ns_next++;
	return c;
}

/* The class and local name of an element or attribute name. */
static enum ns_class name_class(struct walk *w, const xmlNs *ns, const char *name,
				const char **local, bool attribute)
{
	const char *colon;

	*local = name;
	if (ns)
		return ns_class_of(w, ns);
	colon = strchr(name, ':');
	if (colon) {
		/* An undeclared prefix: libxml2 keeps it in the name. */
		*local = colon + 1;
		return prefix_class(name, (size_t)(colon - name));
	}
	return attribute ? NS_NONE : NS_BASE;
}

static enum el el_of(struct walk *w, const xmlNode *n)
{
	const char *local;
	enum ns_class c;

	if (!n || n->type != XML_ELEMENT_NODE || !n->name)
		return EL_NONE;
	c = name_class(w, n->ns, (const char *)n->name, &local, false);
	for (size_t i = 0; i < sizeof g_elements / sizeof g_elements[0]; i++)
		if (g_elements[i].cls == c && !strcasecmp(local, g_elements[i].name))
			return g_elements[i].el;
	return EL_NONE;
}

static const char *local_name(const xmlNode *n)
{
	const char *name = (const char *)n->name, *colon = strchr(name, ':');
	return colon ? colon + 1 : name;
}

static void append_escaped(struct strbuf *out, const char *s, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		const char *rep;
		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		default: continue;
		}
		sb_append(out, s + start, i - start);
		sb_puts(out, rep);
		start = i + 1;
	}
	sb_append(out, s + start, n - start);
}

static bool is_void_element(const char *name)
{
	static const char *const v[] = { "area", "base", "br", "col", "embed", "hr", "img",
					 "input", "link", "meta", "param", "source", "track",
					 "wbr" };
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		if (!strcasecmp(name, v[i]))
			return true;
	return false;
}

static void gather(struct walk *w, const xmlNode *n, struct strbuf *out, int depth, bool markup);

/*
 * Internal entities declared in the DOCTYPE are expanded here, within the
 * document's budget; external ones are never read.
 */
static void gather_entity(struct walk *w, const xmlNode *ref, struct strbuf *out, int depth,
			  bool markup)
{
	const xmlNode *decl = ref->children;
	const xmlEntity *ent;
	size_t before = out->len;

	if (!decl || decl->type != XML_ENTITY_DECL)
		return;
	ent = (const xmlEntity *)decl;
	if (ent->etype != XML_INTERNAL_GENERAL_ENTITY)
		return;
	if (w->entity_bytes >= FEED_XML_ENTITY_BUDGET || ++w->entity_refs > FEED_XML_ENTITY_REFS_MAX)
		return;
	if (ent->children) {
		gather(w, ent->children, out, depth + 1, markup);
	} else if (ent->content && !strpbrk((const char *)ent->content, "<&")) {
		const char *c = (const char *)ent->content;
		if (markup)
			append_escaped(out, c, strlen(c));
		else
			sb_puts(out, c);
	}
	w->entity_bytes += out->len - before;
}

/*
 * Appends the text of n and its following siblings (and their descendants).
 * With markup, elements are written as HTML tags and text is escaped, so
 * that inline XHTML becomes HTML for html_text.
 */
static void gather(struct walk *w, const xmlNode *n, struct strbuf *out, int depth, bool markup)
{
	for (; n; n = n->next) {
		if (out->len >= FEED_XML_TEXT_MAX || out->failed || depth > WALK_DEPTH_MAX)
			return;
		switch (n->type) {
		case XML_TEXT_NODE:
		case XML_CDATA_SECTION_NODE:
			if (n->content) {
				const char *c = (const char *)n->content;
				size_t len = strlen(c), room = FEED_XML_TEXT_MAX - out->len;
				if (len > room)
					len = room;
				if (markup)
					append_escaped(out, c, len);
				else
					sb_append(out, c, len);
			}
			break;
		case XML_ENTITY_REF_NODE:
			gather_entity(w, n, out, depth, markup);
			break;
		case XML_ELEMENT_NODE:
			if (markup) {
				const char *name = local_name(n);
				sb_putc(out, '<');
				sb_puts(out, name);
				sb_putc(out, '>');
				if (is_void_element(name))
					break;
				gather(w, n->children, out, depth + 1, markup);
				sb_puts(out, "</");
				sb_puts(out, name);
				sb_putc(out, '>');
			} else {
				gather(w, n->children, out, depth + 1, markup);
			}
			break;
		default:
			break;
		}
	}
}

/*
 * Appends the value of el's attribute `name` (ASCII case-insensitive) in the
 * namespace class want (NS_NONE: unprefixed). Returns whether it exists.
 */
static bool attr_get(struct walk *w, const xmlNode *el, enum ns_class want, const char *name,
		     struct strbuf *out)
{
	for (const xmlAttr *a = el->properties; a; a = a->next) {
		const char *local;
		enum ns_class c = name_class(w, a->ns, (const char *)a->name, &local, true);
		if (c != want || strcasecmp(local, name))
			continue;
		if (a->children && a->children->type == XML_TEXT_NODE && !a->children->next &&
		    a->children->content)
			sb_puts(out, (const char *)a->children->content);
		else
			gather(w, a->children, out, 0, false);
		return true;
	}
	return false;
}

/* Text content of an element, trimmed, into out (reset first). */
static void text_of(struct walk *w, const xmlNode *el, struct strbuf *out)
{
	sb_reset(out);
	gather(w, el->children, out, 0, false);
	sb_trim(out);
}

static bool has_element_children(const xmlNode *el)
{
	for (const xmlNode *c = el->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			return true;
	return false;
}

/* Whether el holds elements other than <div> (which typepad wraps escaped HTML in). */
static bool has_markup(const xmlNode *el, int depth)
{
	if (depth > WALK_DEPTH_MAX)
		return false;
	for (const xmlNode *c = el->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (strcasecmp(local_name(c), "div") || has_markup(c, depth + 1))
			return true;
	}
	return false;
}

/* ---- URLs ---- */

static bool has_scheme(const char *s)
{
	size_t i = 0;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	while (s[i] && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
			(s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' || s[i] == '.'))
		i++;
	return s[i] == ':';
}

/* Percent-encodes what libxml2's URI parser rejects (spaces, non-ASCII, ...). */
static void uri_escape(const char *s, struct strbuf *out)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p <= 0x20 || *p >= 0x7F || strchr("\"<>\\^`{|}", *p)) {
			sb_putc(out, '%');
			sb_putc(out, hex[*p >> 4]);
			sb_putc(out, hex[*p & 15]);
		} else {
			sb_putc(out, (char)*p);
		}
	}
}

/* Resolves ref against base into out (reset first); ref stays as it is when it cannot be. */
static void url_resolve(struct walk *w, const char *ref, const char *base, struct strbuf *out)
{
	xmlChar *r = NULL;

	sb_reset(out);
	if (!ref[0])
		return;
	if (has_scheme(ref) || !base || !base[0]) {
		sb_puts(out, ref);
		return;
	}
	sb_reset(&w->tmp);
	sb_reset(&w->tmp2);
	uri_escape(ref, &w->tmp);
	uri_escape(base, &w->tmp2);
	if (!w->tmp.failed && !w->tmp2.failed)
		r = xmlBuildURI((const xmlChar *)w->tmp.buf, (const xmlChar *)w->tmp2.buf);
	sb_puts(out, r ? (const char *)r : ref);
	xmlFree(r);
}

/* The base URI in effect at el: xml:base from the root down over the document's URL. */
static void base_at(struct walk *w, const xmlNode *el, struct strbuf *out)
{
	const xmlNode *chain[64];
	size_t n = 0;
	struct strbuf cur = STRBUF_INIT, val = STRBUF_INIT;

	for (const xmlNode *p = el; p && p->type == XML_ELEMENT_NODE; p = p->parent) {
		if (n == sizeof chain / sizeof chain[0])
			break;
		chain[n++] = p;
	}
	sb_puts(&cur, w->in->base_url ? w->in->base_url : "");
	while (n-- > 0) {
		sb_reset(&val);
		if (!attr_get(w, chain[n], NS_XML, "base", &val))
			continue;
		sb_trim(&val);
		if (!val.len)
			continue;
		url_resolve(w, val.buf, cur.buf, out);
		sb_set(&cur, out->buf ? out->buf : "", out->len);
	}
	sb_set(out, cur.buf ? cur.buf : "", cur.len);
	sb_free(&cur);
	sb_free(&val);
}

/* Resolves the link text or href `ref` found at el into out; unsafe schemes give "". */
static void link_resolve(struct walk *w, const xmlNode *el, const char *ref, struct strbuf *out)
{
	static const char *const unsafe[] = { "javascript:", "vbscript:", "data:", "file:" };

	base_at(w, el, &w->base);
	url_resolve(w, ref, w->base.buf, out);
	for (size_t i = 0; out->buf && i < sizeof unsafe / sizeof unsafe[0]; i++)
		if (!strncasecmp(out->buf, unsafe[i], strlen(unsafe[i])))
			sb_reset(out);
	if (out->len >= LIMIT_POST_URL_BYTES)
		sb_reset(out);   /* cut, it would lead somewhere else */
}

/* The target of a link element: url, uri or href attribute (feedparser's order), trimmed. */
static bool link_href(struct walk *w, const xmlNode *el, struct strbuf *out)
{
	static const char *const names[] = { "url", "uri", "href" };

	for (size_t i = 0; i < 3; i++) {
		sb_reset(out);
		if (attr_get(w, el, NS_NONE, names[i], out)) {
			sb_trim(out);
			if (out->len)
				return true;
		}
	}
	sb_reset(out);
	return false;
}

/* ---- text constructs ---- */

/* HTML elements that may appear in RSS text that is really HTML (as feedparser has them). */
static const char *const g_html_elements[] = {
	"a", "abbr", "acronym", "address", "area", "article", "aside", "audio", "b", "big",
	"blockquote", "br", "button", "canvas", "caption", "center", "cite", "code", "col",
	"colgroup", "command", "datagrid", "datalist", "dd", "del", "details", "dfn", "dialog",
	"dir", "div", "dl", "dt", "em", "event-source", "fieldset", "figcaption", "figure", "font",
	"footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "i", "img", "input",
	"ins", "kbd", "keygen", "label", "legend", "li", "m", "map", "menu", "meter", "multicol",
	"nav", "nextid", "noscript", "ol", "optgroup", "option", "output", "p", "pre", "progress",
	"q", "rp", "rt", "ruby", "s", "samp", "section", "select", "small", "sound", "source",
	"spacer", "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "textarea",
	"tfoot", "th", "thead", "time", "tr", "tt", "u", "ul", "var", "video",
};

static bool word_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c >= 0x80;
}

/*
 * RSS titles are plain text by the book and HTML in practice. Text counts
 * as HTML when it has a closing tag or an entity reference, every tag is an
 * HTML element and every entity an HTML entity; false positives would lose
 * text, so this errs on the side of plain text.
 */
static bool looks_like_html(const char *s, size_t n)
{
	bool evidence = false;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '<') {
			size_t j = i + 1, k;
			bool closing = j < n && s[j] == '/';
			if (closing)
				j++;
			k = j;
			while (k < n && word_char((unsigned char)s[k]))
				k++;
			if (k == j)
				continue;
			bool known = false;
			for (size_t e = 0; e < sizeof g_html_elements / sizeof *g_html_elements; e++)
				if (strlen(g_html_elements[e]) == k - j &&
				    !strncasecmp(g_html_elements[e], s + j, k - j))
					known = true;
			if (!known)
				return false;
			if (closing && k < n && s[k] == '>')
				evidence = true;
		} else if (s[i] == '&') {
			size_t j = i + 1, k;
			bool num = j < n && s[j] == '#';
			if (num)
				j++;
			k = j;
			while (k < n && word_char((unsigned char)s[k]))
				k++;
			if (k == j || k >= n || s[k] != ';')
				continue;
			evidence = true;
			if (!num && !predefined_entity(s + j, k - j) && !html_entity(s + j, k - j))
				return false;
		}
	}
	return evidence;
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Replaces s with its base64 decoding when that works and is UTF-8 text;
 * characters outside the alphabet are skipped, as lenient decoders do.
 */
static void base64_try(struct walk *w, struct strbuf *s)
{
	struct strbuf *o = &w->tmp;
	uint32_t acc = 0;
	int bits = 0;
	size_t count = 0, pad = 0;

	sb_reset(o);
	for (size_t i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->buf[i];
		int v = b64val(c);
		if (c == '=') {
			pad++;
			continue;
		}
		if (v < 0)
			continue;
		if (pad)
			return;   /* data after padding */
		count++;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			sb_putc(o, (char)((acc >> bits) & 0xFF));
		}
	}
	if (count == 0 || (count + pad) % 4 != 0 || o->failed)
		return;
	if (memchr(o->buf, 0, o->len) || !utf8_valid(o->buf, o->len))
		return;
	sb_set(s, o->buf, o->len);
}

/*
 * Text that was UTF-8, read as Latin-1 and encoded as UTF-8 again ("Ã©" for
 * "é") is decoded once more - but only when every character fits in Latin-1
 * and the bytes then form valid UTF-8, so real Latin-1 text stays as it is.
 */
static void undo_double_utf8(struct walk *w, struct strbuf *s)
{
	const unsigned char *p = (const unsigned char *)s->buf;
	bool high = false;

	for (size_t i = 0; i < s->len; i++) {
		if (p[i] < 0x80)
			continue;
		if ((p[i] != 0xC2 && p[i] != 0xC3) || i + 1 >= s->len || (p[i + 1] & 0xC0) != 0x80)
			return;
		high = true;
		i++;
	}
	if (!high)
		return;
	sb_reset(&w->tmp);
	if (!sb_reserve(&w->tmp, s->len))
		return;
	char *o = w->tmp.buf;
	for (size_t i = 0; i < s->len; i++) {
		if (p[i] < 0x80) {
			*o++ = (char)p[i];
		} else {
			*o++ = (char)(((p[i] & 0x1F) << 6) | (p[i + 1] & 0x3F));
			i++;
		}
	}
	w->tmp.len = (size_t)(o - w->tmp.buf);
	if (utf8_valid(w->tmp.buf, w->tmp.len))
		sb_set(s, w->tmp.buf, w->tmp.len);
}

/* Windows-1252 meanings of the C1 controls U+0080..U+009F (0: none). */
static const uint16_t g_cp1252[32] = {
	0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
	0x2039, 0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013,
	0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
};

/* C1 controls in text are nearly always Windows-1252 bytes passed off as Latin-1. */
static void map_cp1252(struct walk *w, struct strbuf *s)
{
	const unsigned char *p = (const unsigned char *)s->buf;
	size_t i = 0;

	while (i + 1 < s->len && !(p[i] == 0xC2 && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F))
		i++;
	if (i + 1 >= s->len)
		return;
	sb_reset(&w->tmp);
	for (i = 0; i < s->len; i++) {
		uint16_t u;
		if (p[i] == 0xC2 && i + 1 < s->len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F &&
		    (u = g_cp1252[p[i + 1] - 0x80])) {
			char enc[3];
			if (u < 0x800) {
				enc[0] = (char)(0xC0 | (u >> 6));
				enc[1] = (char)(0x80 | (u & 0x3F));
				sb_append(&w->tmp, enc, 2);
			} else {
				enc[0] = (char)(0xE0 | (u >> 12));
				enc[1] = (char)(0x80 | ((u >> 6) & 0x3F));
				enc[2] = (char)(0x80 | (u & 0x3F));
				sb_append(&w->tmp, enc, 3);
			}
			i++;
		} else {
			sb_putc(&w->tmp, (char)p[i]);
		}
	}
	if (!w->tmp.failed)
		sb_set(s, w->tmp.buf, w->tmp.len);
}

/*
 * A '<' that no '>' follows is text, not a tag cut short: HTML parsers drop
 * such a tail ("a <b" would lose "<b"), so it is escaped first.
 */
static void escape_open_tail(struct walk *w, struct strbuf *s)
{
	const char *gt = s->len ? memrchr(s->buf, '>', s->len) : NULL;
	size_t from = gt ? (size_t)(gt - s->buf) : 0;

	if (!s->len || !memchr(s->buf + from, '<', s->len - from))
		return;
	sb_set(&w->tmp, s->buf, from);
	append_escaped(&w->tmp, s->buf + from, s->len - from);
	sb_set(s, w->tmp.buf, w->tmp.len);
}

/* Copies an attribute value trimmed and in lower case. */
static void lower_trim(const char *t, char *out, size_t cap)
{
	size_t n = 0;

	while (*t && is_xml_space((unsigned char)*t))
		t++;
	for (; t[n] && n + 1 < cap; n++)
		out[n] = lower(t[n]);
	while (n > 0 && is_xml_space((unsigned char)out[n - 1]))
		n--;
	out[n] = 0;
}

/* A content type, with feedparser's short names ("html") spelled out. */
static void type_map(const char *t, char *out, size_t cap)
{
	lower_trim(t, out, cap);
	if (!strcmp(out, "text") || !strcmp(out, "plain"))
		snprintf(out, cap, "text/plain");
	else if (!strcmp(out, "html"))
		snprintf(out, cap, "text/html");
	else if (!strcmp(out, "xhtml"))
		snprintf(out, cap, "application/xhtml+xml");
}

/*
 * The plain text of a text construct (title, summary, content) into out,
 * following its type: text as is, HTML and inline XHTML through html_text,
 * base64 decoded when the type or mode says so. Returns 0 or -ENOMEM.
 */
static int construct_text(struct walk *w, const xmlNode *el, const char *default_type,
			  bool title, struct strbuf *out)
{
	char type[64];
	bool b64 = false, html;

	sb_reset(out);
	sb_reset(&w->raw);
	sb_reset(&w->attr);
	if (attr_get(w, el, NS_NONE, "type", &w->attr))
		type_map(w->attr.buf ? w->attr.buf : "", type, sizeof type);
	else
		snprintf(type, sizeof type, "%s", default_type);
	sb_reset(&w->attr);
	if (attr_get(w, el, NS_NONE, "mode", &w->attr)) {
		sb_trim(&w->attr);
		b64 = w->attr.buf && !strcasecmp(w->attr.buf, "base64");
	}
	if (strncmp(type, "text/", 5) && !ends_with(type, "+xml") && !ends_with(type, "/xml"))
		b64 = true;   /* other media types are base64 (RFC 4287 section 4.1.3.3) */

	if (ends_with(type, "xml") || (has_element_children(el) && has_markup(el, 0))) {
		/* Inline markup, declared or not: serialise it as HTML. */
		gather(w, el->children, &w->raw, 0, true);
		html = true;
	} else {
		gather(w, el->children, &w->raw, 0, false);
		sb_trim(&w->raw);
		if (b64)
			base64_try(w, &w->raw);
		html = !strcmp(type, "text/html") || !strcmp(type, "application/xhtml+xml");
		if (!html && !w->atom && !strcmp(type, "text/plain") && w->raw.len &&
		    looks_like_html(w->raw.buf, w->raw.len))
			html = true;
	}
	if (w->raw.failed)
		return -ENOMEM;
	if (w->utf8_source)
		undo_double_utf8(w, &w->raw);
	if (html) {
		escape_open_tail(w, &w->raw);
		int rc = html_text_convert(w->html, w->raw.buf ? w->raw.buf : "", w->raw.len, out);
		if (rc < 0)
			return rc;
	} else {
		sb_append(out, w->raw.buf ? w->raw.buf : "", w->raw.len);
		sb_trim(out);
	}
	map_cp1252(w, out);
	if (title)
		sb_collapse(out);
	return out->failed || w->tmp.failed ? -ENOMEM : 0;
}

/* ---- authors ---- */

static bool email_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '+' || c == '-';
}

/* Removes the first span of s equal to what (when found). */
static bool remove_span(struct strbuf *s, const char *what)
{
	char *p = s->buf ? strstr(s->buf, what) : NULL;
	size_t n = strlen(what);

	if (!p)
		return false;
	memmove(p, p + n, s->len - (size_t)(p - s->buf) - n + 1);
	s->len -= n;
	return true;
}

/*
 * "me@example.com (Example Name)", "Example Name <me@example.com>" and the
 * like to "Example Name"; an address alone gives "".
 */
static void author_clean(struct strbuf *s)
{
	char *at;

	while (s->buf && (at = strchr(s->buf, '@'))) {
		size_t a = (size_t)(at - s->buf), b = a + 1;
		bool dot = false;
		while (a > 0 && email_char((unsigned char)s->buf[a - 1]))
			a--;
		while (b < s->len && (email_char((unsigned char)s->buf[b])))
			dot |= s->buf[b++] == '.';
		if (a == (size_t)(at - s->buf) || !dot)
			break;   /* not an address: leave the rest alone */
		if (a >= 7 && !strncasecmp(s->buf + a - 7, "mailto:", 7))
			a -= 7;
		memmove(s->buf + a, s->buf + b, s->len - b + 1);
		s->len -= b - a;
	}
	while (remove_span(s, "()") || remove_span(s, "<>"))
		;
	sb_collapse(s);
	if (s->len && s->buf[0] == '(') {
		memmove(s->buf, s->buf + 1, s->len);
		s->len--;
	}
	if (s->len && s->buf[s->len - 1] == ')')
		s->buf[--s->len] = 0;
	sb_trim(s);
}

/* The name an author-like element gives, into out (reset first). */
static void author_of(struct walk *w, const xmlNode *el, enum el kind, struct strbuf *out)
{
	sb_reset(out);
	if (kind == EL_AUTHOR && has_element_children(el)) {
		for (const xmlNode *c = el->children; c; c = c->next)
			if (el_of(w, c) == EL_NAME) {
				text_of(w, c, out);
				sb_collapse(out);
				if (out->len)
					return;
			}
		return;
	}
	text_of(w, el, out);
	author_clean(out);
}

/* ---- languages ---- */

/* A BCP 47 tag as feeds write it ("en-us", "en_US") into out, or "" when it is not one. */
static void lang_clean(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = 0;
	while (n > 0 && is_xml_space((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && is_xml_space((unsigned char)s[n - 1]))
		n--;
	if (n == 0 || n >= cap)
		return;
	for (size_t i = 0; i < n; i++) {
		char c = s[i] == '_' ? '-' : s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return;
		out[o++] = c;
	}
	out[o] = 0;
}

/* xml:lang in effect at el (the nearest one wins, even when empty). */
static bool xml_lang_at(struct walk *w, const xmlNode *el, char *out, size_t cap)
{
	for (const xmlNode *p = el; p && p->type == XML_ELEMENT_NODE; p = p->parent) {
		sb_reset(&w->attr);
		if (attr_get(w, p, NS_XML, "lang", &w->attr)) {
			lang_clean(w->attr.buf ? w->attr.buf : "", w->attr.len, out, cap);
			return true;
		}
	}
	out[0] = 0;
	return false;
}

/* ---- items ---- */

static bool is_http_url(const char *s)
{
	return !strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8);
}

/* Appends "h" and the hex of a 64-bit hash of the given strings. */
static void put_hash_id(struct strbuf *out, const char *a, const char *b, const char *c)
{
	uint64_t h = hash_bytes(a, strlen(a));
	h = hash_bytes_seed(b, strlen(b), h);
	h = hash_bytes_seed(c, strlen(c), h);
	sb_printf(out, "h%016llx", (unsigned long long)h);
}

/*
 * Reads one item or entry into a post. Returns 0 (*out set, or NULL when the
 * cursor rules it out) or -ENOMEM.
 */
static int item_read(struct walk *w, const xmlNode *item, int64_t cursor_ms, int64_t *newest,
		     struct post **out)
{
	const xmlNode *kids[256];
	enum el kinds[256];
	size_t nk = 0;
	const xmlNode *guid = NULL;
	bool guid_permalink = false, have_pub = false, have_upd = false;
	int64_t pub_ms = 0, upd_ms = 0, created_ms;
	char lang[LIMIT_POST_LANG_BYTES] = "";
	int rc;

	*out = NULL;
	sb_reset(&w->url);
	sb_reset(&w->id);
	sb_reset(&w->title);
	sb_reset(&w->text);
	sb_reset(&w->author);

	/* CDF puts the link and date in attributes of the item. */
	sb_reset(&w->val);
	if (attr_get(w, item, NS_NONE, "href", &w->val)) {
		sb_trim(&w->val);
		if (w->val.len)
			link_resolve(w, item, w->val.buf, &w->url);
	}
	sb_reset(&w->val);
	if (attr_get(w, item, NS_NONE, "lastmod", &w->val) && w->val.len &&
	    feed_date_parse(w->val.buf, w->val.len, &upd_ms) == 0)
		have_upd = true;

	/* One pass to classify the children; the fields are then taken in precedence order. */
	for (const xmlNode *c = item->children; c; c = c->next) {
		enum el k = el_of(w, c);
		if (k == EL_NONE)
			continue;
		if (nk < sizeof kids / sizeof kids[0]) {
			kids[nk] = c;
			kinds[nk++] = k;
		}
	}

	/* id: the last non-empty guid/id; url candidates from links. */
	struct strbuf *other = &w->other;   /* first non-alternate link without href */
	sb_reset(other);
	bool other_set = false;
	for (size_t i = 0; i < nk; i++) {
		const xmlNode *c = kids[i];
		switch (kinds[i]) {
		case EL_GUID:
			text_of(w, c, &w->val);
			if (w->val.len) {
				guid = c;
				sb_set(&w->id, w->val.buf, w->val.len);
				sb_reset(&w->attr);
				guid_permalink = true;
				if (attr_get(w, c, NS_NONE, "ispermalink", &w->attr)) {
					sb_trim(&w->attr);
					guid_permalink = w->attr.buf &&
							 !strcasecmp(w->attr.buf, "true");
				}
			}
			break;
		case EL_LINK: {
			char rel[64] = "alternate", type[64];
			sb_reset(&w->attr);
			if (attr_get(w, c, NS_NONE, "rel", &w->attr))
				lower_trim(w->attr.buf ? w->attr.buf : "", rel, sizeof rel);
			sb_reset(&w->attr);
			if (attr_get(w, c, NS_NONE, "type", &w->attr))
				type_map(w->attr.buf ? w->attr.buf : "", type, sizeof type);
			else
				snprintf(type, sizeof type, "%s",
					 strcmp(rel, "self") ? "text/html" : "application/atom+xml");
			bool alternate = !strcmp(rel, "alternate") &&
					 (!strcmp(type, "text/html") ||
					  !strcmp(type, "application/xhtml+xml"));
			bool href = link_href(w, c, &w->val);
			if (!href) {
				text_of(w, c, &w->val);
				if (!w->val.len)
					break;
			}
			if (alternate) {
				link_resolve(w, c, w->val.buf, &w->url);
			} else if (!href && !other_set) {
				link_resolve(w, c, w->val.buf, other);
				other_set = other->len > 0;
			}
			break;
		}
		default:
			break;
		}
	}
	if (!w->url.len && other_set)
		sb_set(&w->url, other->buf, other->len);
	/*
	 * A guid that is a permalink (the RSS default) is the URL when there is
	 * no link - if it looks like one: many feeds leave isPermaLink out of
	 * numeric guids.
	 */
	if (!w->url.len && guid && guid_permalink &&
	    (is_http_url(w->id.buf) || (w->id.buf[0] == '/' && w->id.buf[1] != '/'))) {
		link_resolve(w, guid, w->id.buf, &w->url);
		if (!is_http_url(w->url.buf ? w->url.buf : ""))
			sb_reset(&w->url);
	}
	if (!w->id.len) {
		sb_reset(&w->val);
		if (attr_get(w, item, NS_RDF, "about", &w->val)) {
			sb_trim(&w->val);
			sb_set(&w->id, w->val.buf ? w->val.buf : "", w->val.len);
		}
	}

	/* Dates: the last readable one of each kind. */
	for (size_t i = 0; i < nk; i++) {
		int64_t ms;
		if (kinds[i] != EL_PUBLISHED && kinds[i] != EL_UPDATED)
			continue;
		text_of(w, kids[i], &w->val);
		if (!w->val.len || feed_date_parse(w->val.buf, w->val.len, &ms) < 0)
			continue;
		if (kinds[i] == EL_PUBLISHED) {
			pub_ms = ms;
			have_pub = true;
		} else {
			upd_ms = ms;
			have_upd = true;
		}
	}
	bool dated = have_pub || have_upd;
	created_ms = have_pub ? pub_ms : have_upd ? upd_ms : w->now_ms;
	if (dated && cursor_ms > 0 && created_ms <= cursor_ms)
		return 0;
	if (dated && created_ms > *newest)
		*newest = created_ms;

	/* Title: the first non-empty title, else the last media:title. */
	for (size_t i = 0; i < nk && !w->title.len; i++)
		if (kinds[i] == EL_TITLE &&
		    (rc = construct_text(w, kids[i], "text/plain", true, &w->title)) < 0)
			return rc;
	for (size_t i = nk; i-- > 0 && !w->title.len;) {
		if (kinds[i] == EL_MEDIA_TITLE) {
			if ((rc = construct_text(w, kids[i], "text/plain", true, &w->title)) < 0)
				return rc;
		} else if (kinds[i] == EL_MEDIA_GROUP || kinds[i] == EL_MEDIA_CONTENT) {
			for (const xmlNode *g = kids[i]->last; g && !w->title.len; g = g->prev)
				if (el_of(w, g) == EL_MEDIA_TITLE &&
				    (rc = construct_text(w, g, "text/plain", true, &w->title)) < 0)
					return rc;
		}
	}

	/* Text: the first non-empty content, else the last non-empty summary. */
	for (size_t i = 0; i < nk && !w->text.len; i++) {
		const char *def = kinds[i] == EL_CONTENT ? "text/plain"
				  : kinds[i] == EL_CONTENT_HTML ? "text/html"
				  : kinds[i] == EL_BODY ? "application/xhtml+xml" : NULL;
		if (def && (rc = construct_text(w, kids[i], def, false, &w->text)) < 0)
			return rc;
	}
	for (size_t i = nk; i-- > 0 && !w->text.len;) {
		const char *def = kinds[i] == EL_SUMMARY ? "text/plain"
				  : kinds[i] == EL_DESCRIPTION || kinds[i] == EL_MEDIA_DESCRIPTION
					  ? "text/html" : NULL;
		if (def && (rc = construct_text(w, kids[i], def, false, &w->text)) < 0)
			return rc;
	}
	for (size_t i = nk; i-- > 0 && !w->text.len;) {
		if (kinds[i] != EL_MEDIA_GROUP && kinds[i] != EL_MEDIA_CONTENT)
			continue;
		for (const xmlNode *g = kids[i]->last; g && !w->text.len; g = g->prev)
			if (el_of(w, g) == EL_MEDIA_DESCRIPTION &&
			    (rc = construct_text(w, g, "text/html", false, &w->text)) < 0)
				return rc;
	}

	/* Author: the first that names someone. */
	for (size_t i = 0; i < nk && !w->author.len; i++)
		if (kinds[i] == EL_AUTHOR || kinds[i] == EL_CREATOR)
			author_of(w, kids[i], kinds[i], &w->author);
	if (!w->author.len && w->feed_author.len)
		sb_set(&w->author, w->feed_author.buf, w->feed_author.len);

	/* Language: the item's own element, else xml:lang, else the channel's. */
	for (size_t i = nk; i-- > 0 && !lang[0];)
		if (kinds[i] == EL_LANGUAGE) {
			text_of(w, kids[i], &w->val);
			lang_clean(w->val.buf ? w->val.buf : "", w->val.len, lang, sizeof lang);
		}
	if (!lang[0] && !xml_lang_at(w, item, lang, sizeof lang))
		snprintf(lang, sizeof lang, "%s", w->feed_lang);

	/* id fallbacks; ids too long for a post are hashed rather than cut. */
	if (!w->id.len && w->url.len)
		sb_set(&w->id, w->url.buf, w->url.len);
	if (w->id.len >= LIMIT_POST_ID_BYTES) {
		sb_set(&w->val, w->id.buf, w->id.len);
		sb_reset(&w->id);
		put_hash_id(&w->id, w->val.buf, "", "");
	} else if (!w->id.len) {
		char when[24] = "";
		if (dated)
			snprintf(when, sizeof when, "%lld", (long long)created_ms);
		put_hash_id(&w->id, w->title.buf ? w->title.buf : "", when,
			    w->title.len ? "" : w->text.buf ? w->text.buf : "");
	}
	if (w->id.failed || w->url.failed || w->title.failed || w->text.failed ||
	    w->author.failed || w->val.failed)
		return -ENOMEM;

	struct post_fields f = {
		.source_id = w->in->source_id,
		.created_at_ms = created_ms,
		.id = w->id.buf,
		.url = w->url.buf,
		.author = w->author.buf,
		.lang = lang,
		.title = w->title.buf,
		.text = w->text.buf ? w->text.buf : "",
		.text_len = w->text.len,
	};
	*out = post_new(&f);
	return *out ? 0 : -ENOMEM;
}

/* ---- the document ---- */

static bool is_container(enum el k)
{
	return k == EL_RSS || k == EL_RDF || k == EL_CHANNEL || k == EL_FEED;
}

/* Feed-level data from the channel (RSS, RDF, CDF) or feed (Atom) element. */
static int channel_read(struct walk *w, const xmlNode *ch)
{
	int rc;

	free(w->doc->title);
	w->doc->title = NULL;
	sb_reset(&w->title);
	for (const xmlNode *c = ch->children; c; c = c->next) {
		enum el k = el_of(w, c);
		if (k == EL_TITLE && !w->title.len) {
			if ((rc = construct_text(w, c, "text/plain", true, &w->title)) < 0)
				return rc;
		} else if (k == EL_LANGUAGE) {
			char l[LIMIT_POST_LANG_BYTES];
			text_of(w, c, &w->val);
			lang_clean(w->val.buf ? w->val.buf : "", w->val.len, l, sizeof l);
			if (l[0])
				memcpy(w->feed_lang, l, sizeof l);
		} else if (k == EL_AUTHOR && w->atom && !w->feed_author.len) {
			author_of(w, c, k, &w->feed_author);
		}
	}
	/* media:title only stands in for a missing title. */
	for (const xmlNode *c = ch->last; c && !w->title.len; c = c->prev)
		if (el_of(w, c) == EL_MEDIA_TITLE &&
		    (rc = construct_text(w, c, "text/plain", true, &w->title)) < 0)
			return rc;
	if (!w->feed_lang[0])
		xml_lang_at(w, ch, w->feed_lang, sizeof w->feed_lang);
	w->doc->title = strdup(w->title.buf ? w->title.buf : "");
	return w->doc->title ? 0 : -ENOMEM;
}

/* Items of the document, in order, from the containers (rss, rdf, channel, feed) down. */
static int items_read(struct walk *w, const xmlNode *parent, int depth, int64_t cursor_ms,
		      int64_t *newest)
{
	int rc;

	for (const xmlNode *c = parent->children; c; c = c->next) {
		enum el k = el_of(w, c);
		if (k == EL_ITEM || k == EL_ENTRY) {
			struct post *p;
			w->doc->items++;
			if (w->doc->nposts >= LIMIT_POSTS_PER_PAGE) {
				w->doc->skipped++;
				continue;
			}
			if ((rc = item_read(w, c, cursor_ms, newest, &p)) < 0)
				return rc;
			if (p && (rc = feed_doc_add(w->doc, p)) < 0)
				return rc;
		} else if (is_container(k) && depth < 4) {
			if ((rc = items_read(w, c, depth + 1, cursor_ms, newest)) < 0)
				return rc;
		}
	}
	return 0;
}

static void walk_free(struct walk *w)
{
	struct strbuf *bufs[] = { &w->raw, &w->tmp, &w->tmp2, &w->attr, &w->base, &w->val,
				  &w->other, &w->title, &w->text, &w->url, &w->id, &w->author,
				  &w->feed_author };
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
		sb_free(bufs[i]);
}

/* Reads the tree: feed-level data, then every item. */
static int tree_read(struct walk *w, xmlDocPtr xdoc, const char *why_not_wf, bool *is_feed)
{
	const xmlNode *root = xmlDocGetRootElement(xdoc), *ch = NULL;
	int64_t cursor_ms = 0, newest = 0;
	enum el rk = el_of(w, root);
	int rc;

	*is_feed = false;
	if (!root) {
		feed_doc_fail(w->doc, "not a feed: %s", why_not_wf && why_not_wf[0] ? why_not_wf
							: "the document has no root element");
		return 0;
	}
	if (!is_container(rk) && rk != EL_ITEM && rk != EL_ENTRY) {
		feed_doc_fail(w->doc, "not an RSS or Atom feed: the root element is <%.60s>",
			      (const char *)root->name);
		return 0;
	}
	*is_feed = true;
	w->atom = rk == EL_FEED || rk == EL_ENTRY;
	if (rk == EL_FEED || rk == EL_CHANNEL) {
		ch = root;
	} else if (is_container(rk)) {
		for (const xmlNode *c = root->children; c && !ch; c = c->next) {
			enum el k = el_of(w, c);
			if (k == EL_CHANNEL || k == EL_FEED)
				ch = c;
		}
	}
	if (ch) {
		if ((rc = channel_read(w, ch)) < 0)
			return rc;
	} else {
		xml_lang_at(w, root, w->feed_lang, sizeof w->feed_lang);
	}
	if (w->in->cursor && w->in->cursor[0]) {
		char *end;
		long long v = strtoll(w->in->cursor, &end, 10);
		if (*end == 0 && v > 0)
			cursor_ms = v;
	}
	if (rk == EL_ITEM || rk == EL_ENTRY) {
		struct post *p;
		w->doc->items = 1;
		if ((rc = item_read(w, root, cursor_ms, &newest, &p)) < 0)
			return rc;
		if (p && (rc = feed_doc_add(w->doc, p)) < 0)
			return rc;
	} else if ((rc = items_read(w, root, 0, cursor_ms, &newest)) < 0) {
		return rc;
	}
	if (newest > w->now_ms)
		newest = w->now_ms;   /* a date in the future must not hide the items after it */
	if (newest > cursor_ms) {
		char buf[24];
		snprintf(buf, sizeof buf, "%lld", (long long)newest);
		free(w->doc->cursor);
		if (!(w->doc->cursor = strdup(buf)))
			return -ENOMEM;
	}
	return 0;
}

int feed_xml_read(const struct feed_input *in, struct feed_doc *doc, bool *recovered)
{
	struct walk w = { .in = in, .doc = doc, .html = in->html };
	struct strbuf text = STRBUF_INIT, fixed = STRBUF_INIT;
	struct html_text *own_html = NULL;
	struct xml_error xe = { 0 };
	struct repair rp = { 0 };
	char used[ENC_NAME_MAX], enc_err[192], why[256] = "";
	xmlDocPtr xdoc = NULL;
	bool wf, recovering, nomem, is_feed = false;
	const char *buf;
	size_t len;
	int rc;

	if (recovered)
		*recovered = false;
	free(doc->title);
	if (!(doc->title = strdup("")))
		return -ENOMEM;
	if (in->len == 0) {
		feed_doc_fail(doc, "not a feed: the document is empty");
		return 0;
	}
	rc = feed_xml_to_utf8(in->body, in->len, in->content_type, &text, used, sizeof used,
			      enc_err, sizeof enc_err);
	if (rc < 0)
		goto out;
	if (rc == 1)
		snprintf(why, sizeof why, "%s", enc_err);
	w.utf8_source = !strcmp(used, "utf-8");
	buf = text.buf ? text.buf : "";
	len = text.len;

	rp.src = buf;
	rp.len = len;
	rp.out = &fixed;
	repair_scan(&rp);
	if (fixed.failed) {
		rc = -ENOMEM;
		goto out;
	}
	xdoc = rp.copying ? xml_parse(fixed.buf, fixed.len, &xe, &wf, &recovering, &nomem)
			  : xml_parse(buf, len, &xe, &wf, &recovering, &nomem);
	if (nomem) {
		rc = -ENOMEM;
		goto out;
	}
	if (!why[0] && (rp.note_pos != SIZE_MAX || xe.have)) {
		int rline = rp.note_pos != SIZE_MAX ? line_of(buf, rp.note_pos) : 0;
		if (rp.note_pos != SIZE_MAX && (!xe.have || rline <= xe.line))
			snprintf(why, sizeof why, "not well-formed XML at line %d: %s", rline,
				 rp.note);
		else
			snprintf(why, sizeof why, "not well-formed XML at line %d: %s", xe.line,
				 xe.msg);
	} else if (!why[0] && !wf) {
		snprintf(why, sizeof why, "not well-formed XML");
	}
	if (recovering) {
		/*
		 * libxml2's recovery drops named entity references after the
		 * first error: parse again with every reference numeric.
		 */
		struct xml_error xe2 = { 0 };
		bool wf2, again;
		xmlFreeDoc(xdoc);
		rp = (struct repair){ .src = buf, .len = len, .out = &fixed, .numeric_all = true };
		repair_scan(&rp);
		if (fixed.failed) {
			xdoc = NULL;
			rc = -ENOMEM;
			goto out;
		}
		xdoc = rp.copying ? xml_parse(fixed.buf, fixed.len, &xe2, &wf2, &again, &nomem)
				  : xml_parse(buf, len, &xe2, &wf2, &again, &nomem);
		if (nomem) {
			rc = -ENOMEM;
			goto out;
		}
	}
	sb_free(&fixed);
	sb_free(&text);   /* the tree holds its own copies */

	if (!w.html) {
		if ((rc = html_text_new(&own_html)) < 0)
			goto out;
		w.html = own_html;
	}
	w.now_ms = clock_now_ms();
	if (!xdoc) {
		feed_doc_fail(doc, "not a feed: %s", why[0] ? why : "no XML document");
		rc = 0;
		goto out;
	}
	rc = tree_read(&w, xdoc, why, &is_feed);
	if (rc < 0)
		goto out;
	if (is_feed && why[0]) {
		feed_doc_recovered(doc, "%s", why);
		if (recovered)
			*recovered = true;
	}
out:
	xmlFreeDoc(xdoc);
	html_text_free(own_html);
	sb_free(&fixed);
	sb_free(&text);
	walk_free(&w);
	return rc;
}

int feed_xml_parse(const struct feed_input *in, struct feed_doc *doc)
{
	return feed_xml_read(in, doc, NULL);
}

/* ------------------------------------------------------------------------ */
/* Detection                                                                */
/* ------------------------------------------------------------------------ */

/*
 * The local name of the root element, lower case, from the first bytes
 * (UTF-16/32 read by taking every 2nd/4th byte). Returns false when the text
 * does not start like XML.
 */
static bool root_name(const char *body, size_t len, char *name, size_t cap)
{
	const unsigned char *b = (const unsigned char *)body;
	char view[DETECT_WINDOW];
	size_t off = 0, step = 1, lo = 0, n = 0, i = 0;

	name[0] = 0;
	if (len >= 3 && !memcmp(b, "\xEF\xBB\xBF", 3)) {
		off = 3;
	} else if (len >= 4 && !memcmp(b, "\x00\x00\xFE\xFF", 4)) {
		off = 4, step = 4, lo = 3;
	} else if (len >= 4 && !memcmp(b, "\xFF\xFE\x00\x00", 4)) {
		off = 4, step = 4;
	} else if (len >= 2 && !memcmp(b, "\xFE\xFF", 2)) {
		off = 2, step = 2, lo = 1;
	} else if (len >= 2 && !memcmp(b, "\xFF\xFE", 2)) {
		off = 2, step = 2;
	} else if (len >= 4 && !memcmp(b, "\x00\x00\x00\x3C", 4)) {
		step = 4, lo = 3;
	} else if (len >= 4 && !memcmp(b, "\x3C\x00\x00\x00", 4)) {
		step = 4;
	} else if (len >= 4 && !memcmp(b, "\x00\x3C\x00\x3F", 4)) {
		step = 2, lo = 1;
	} else if (len >= 4 && !memcmp(b, "\x3C\x00\x3F\x00", 4)) {
		step = 2;
	}
	for (size_t k = off + lo; k < len && n < sizeof view; k += step)
		view[n++] = (char)b[k];

	while (i < n) {
		while (i < n && is_xml_space((unsigned char)view[i]))
			i++;
		if (i >= n)
			break;   /* markup only, no element (yet) */
		if (view[i] != '<')
			return false;
		if (starts_with(view + i, n - i, "<?")) {
			const char *e = memmem(view + i, n - i, "?>", 2);
			if (!e)
				return true;
			i = (size_t)(e - view) + 2;
		} else if (starts_with(view + i, n - i, "<!--")) {
			const char *e = memmem(view + i, n - i, "-->", 3);
			if (!e)
				return true;
			i = (size_t)(e - view) + 3;
		} else if (starts_with(view + i, n - i, "<!")) {
			/* DOCTYPE, perhaps with an internal subset. */
			int depth = 0;
			for (i += 2; i < n; i++) {
				if (view[i] == '[')
					depth++;
				else if (view[i] == ']')
					depth--;
				else if (view[i] == '>' && depth <= 0)
					break;
			}
			i++;
		} else {
			size_t s = ++i, o = 0;
			while (i < n && !is_xml_space((unsigned char)view[i]) && view[i] != '>' &&
			       view[i] != '/')
				i++;
			const char *q = memchr(view + s, ':', i - s);
			if (q)
				s = (size_t)(q - view) + 1;
			for (; s < i && o + 1 < cap; s++)
				name[o++] = lower(view[s]);
			name[o] = 0;
			return true;
		}
	}
	return n > 0;
}

static int detect(const char *body, size_t len, const char *content_type, bool atom)
{
	char name[32];
	const char *ct = content_type ? content_type : "";

	if (!root_name(body, len, name, sizeof name))
		return 0;
	if (!strcmp(name, "feed"))
		return atom ? 95 : 0;
	if (!strcmp(name, "entry"))
		return atom ? 50 : 0;
	if (!strcmp(name, "rss"))
		return atom ? 0 : 95;
	if (!strcmp(name, "rdf"))
		return atom ? 0 : 90;
	if (!strcmp(name, "channel"))
		return atom ? 0 : 60;
	if (!strcmp(name, "item"))
		return atom ? 0 : 40;
	/* Some other XML: say which parser should explain that it is not a feed. */
	if (strcasestr(ct, "atom"))
		return atom ? 20 : 15;
	return atom ? 14 : 15;
}

int feed_xml_detect_rss(const char *body, size_t len, const char *content_type)
{
	return detect(body, len, content_type, false);
}

int feed_xml_detect_atom(const char *body, size_t len, const char *content_type)
{
	return detect(body, len, content_type, true);
}
