#include "ingest/html_text.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/dict.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include "core/post.h"

/*
 * The parser context keeps a dictionary of every element and attribute name
 * it has seen. Hostile input can invent names without end, so the context is
 * replaced once its dictionary holds this many.
 */
#define HTML_TEXT_DICT_MAX 4096
/* Largest cleaning buffer kept between calls. */
#define HTML_TEXT_SCRATCH_KEEP (256 * 1024)

enum {
	HTML_OPTIONS = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
		       HTML_PARSE_NONET | HTML_PARSE_NODEFDTD | HTML_PARSE_COMPACT |
		       HTML_PARSE_IGNORE_ENC,
};

struct html_text {
	htmlParserCtxtPtr ctxt;   /* owned */
	char *scratch;            /* owned: sanitized copy of the input when needed */
	size_t scratch_cap;
};

/* What an element does to the text around it. */
enum html_role {
	ROLE_INLINE,   /* contributes its text only */
	ROLE_DROP,     /* its content is not text (script, style, ...) */
	ROLE_LINE,     /* starts and ends a line */
	ROLE_PARA,     /* separated by a blank line */
	ROLE_CELL,     /* separated by a space */
	ROLE_BREAK,    /* <br> */
	ROLE_PRE,      /* a paragraph whose whitespace is kept */
};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void global_init_once(void) { xmlInitParser(); }

void html_text_global_init(void) { pthread_once(&g_once, global_init_once); }

/*
 * Parse errors are expected (post bodies are fragments, often sloppy) and of
 * no use to anyone: they are dropped here instead of reaching stderr.
 */
static void ignore_error(void *ctx, xmlErrorPtr err)
{
	(void)ctx;
	(void)err;
}

static htmlParserCtxtPtr ctxt_new(void)
{
	htmlParserCtxtPtr c = htmlNewParserCtxt();
	if (!c)
		return NULL;
	/*
	 * libxml2 2.9 routes errors to a context's own structured handler only
	 * when its SAX block is marked as a SAX2 block; without it the errors
	 * fall through to the process-wide generic handler, which prints.
	 */
	c->sax->initialized = XML_SAX2_MAGIC;
	c->sax->serror = ignore_error;
	c->sax->warning = NULL;
	c->sax->error = NULL;
	c->sax->fatalError = NULL;
	return c;
}

int html_text_new(struct html_text **out)
{
	struct html_text *h;

	html_text_global_init();
	h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	h->ctxt = ctxt_new();
	if (!h->ctxt) {
		free(h);
		return -ENOMEM;
	}
	*out = h;
	return 0;
}

void html_text_free(struct html_text *h)
{
	if (!h)
		return;
	if (h->ctxt)
		htmlFreeParserCtxt(h->ctxt);
	free(h->scratch);
	free(h);
}

static enum html_role role_of(const char *n)
{
	/* Names from libxml2's HTML parser are lower case. */
	switch (n[0]) {
	case 'a':
		if (!strcmp(n, "address") || !strcmp(n, "article") || !strcmp(n, "aside"))
			return ROLE_PARA;
		break;
	case 'b':
		if (!strcmp(n, "br"))
			return ROLE_BREAK;
		if (!strcmp(n, "blockquote"))
			return ROLE_PARA;
		break;
	case 'c':
		if (!strcmp(n, "caption") || !strcmp(n, "center"))
			return ROLE_LINE;
		break;
	case 'd':
		if (!strcmp(n, "div") || !strcmp(n, "dt") || !strcmp(n, "dd"))
			return ROLE_LINE;
		if (!strcmp(n, "dl") || !strcmp(n, "details"))
			return ROLE_PARA;
		break;
	case 'f':
		if (!strcmp(n, "figcaption"))
			return ROLE_LINE;
		if (!strcmp(n, "figure") || !strcmp(n, "footer") || !strcmp(n, "form") ||
		    !strcmp(n, "fieldset"))
			return ROLE_PARA;
		break;
	case 'h':
		if ((n[1] >= '1' && n[1] <= '6' && !n[2]) || !strcmp(n, "header") ||
		    !strcmp(n, "hr"))
			return ROLE_PARA;
		if (!strcmp(n, "head"))
			return ROLE_DROP;
		break;
	case 'i':
		if (!strcmp(n, "iframe"))
			return ROLE_DROP;
		break;
	case 'l':
		if (!strcmp(n, "li") || !strcmp(n, "legend"))
			return ROLE_LINE;
		break;
	case 'm':
		if (!strcmp(n, "main") || !strcmp(n, "menu"))
			return ROLE_PARA;
		if (!strcmp(n, "math"))
			return ROLE_DROP;
		break;
	case 'n':
		if (!strcmp(n, "nav"))
			return ROLE_PARA;
		if (!strcmp(n, "noscript"))
			return ROLE_DROP;
		break;
	case 'o':
		if (!strcmp(n, "ol"))
			return ROLE_PARA;
		if (!strcmp(n, "object"))
			return ROLE_DROP;
		break;
	case 'p':
		if (!n[1])
			return ROLE_PARA;
		if (!strcmp(n, "pre") || !strcmp(n, "plaintext") || !strcmp(n, "listing"))
			return ROLE_PRE;
		break;
	case 's':
		if (!strcmp(n, "section"))
			return ROLE_PARA;
		if (!strcmp(n, "summary"))
			return ROLE_LINE;
		if (!strcmp(n, "script") || !strcmp(n, "style") || !strcmp(n, "svg"))
			return ROLE_DROP;
		break;
	case 't':
		if (!strcmp(n, "tr"))
			return ROLE_LINE;
		if (!strcmp(n, "td") || !strcmp(n, "th"))
			return ROLE_CELL;
		if (!strcmp(n, "table"))
			return ROLE_PARA;
		if (!strcmp(n, "template") || !strcmp(n, "title"))
			return ROLE_DROP;
		break;
	case 'u':
		if (!strcmp(n, "ul"))
			return ROLE_PARA;
		break;
	case 'x':
		if (!strcmp(n, "xmp"))
			return ROLE_PRE;
		break;
	}
	return ROLE_INLINE;
}

/*
 * The text being built. Separators are not written when asked for but when
 * the next visible character arrives, so that empty elements and trailing
 * blocks leave no stray whitespace and the output needs no trimming.
 */
struct text_out {
	struct strbuf *sb;
	size_t start;      /* sb->len when this conversion began */
	size_t limit;      /* stop once sb->len - start reaches it */
	int breaks;        /* newlines owed before the next character (0..2) */
	bool space;        /* a space owed before the next character */
	bool line_start;   /* the last thing written was a newline */
	int pre;           /* depth of <pre>-like elements */
};

static bool out_full(const struct text_out *o) { return o->sb->len - o->start >= o->limit; }

static void out_break(struct text_out *o, int n)
{
	if (n > o->breaks)
		o->breaks = n;
}

/* Writes owed separators before visible content. */
static void out_flush(struct text_out *o)
{
	bool empty = o->sb->len == o->start;

	if (!empty && o->breaks > 0) {
		int n = o->breaks;
		/* A newline already written counts towards the owed ones. */
		if (o->line_start)
			n--;
		for (int i = 0; i < n; i++)
			sb_putc(o->sb, '\n');
		o->line_start = true;
	} else if (!empty && o->space && !o->line_start) {
		sb_putc(o->sb, ' ');
	}
	o->breaks = 0;
	o->space = false;
}

static bool is_ascii_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static void out_text(struct text_out *o, const char *s, size_t len)
{
	size_t i = 0;

	if (o->pre > 0) {
		while (i < len) {
			size_t j = i;
			while (j < len && s[j] != '\r' && s[j] != '\n')
				j++;
			if (j > i) {
				out_flush(o);
				sb_append(o->sb, s + i, j - i);
				o->line_start = false;
			}
			if (j < len && s[j] == '\n') {
				/* Inside <pre> a newline is content, blank lines included. */
				if (o->sb->len > o->start) {
					out_flush(o);
					sb_putc(o->sb, '\n');
					o->line_start = true;
				}
			}
			i = j + 1;
		}
		return;
	}
	while (i < len) {
		if (is_ascii_space((unsigned char)s[i])) {
			o->space = true;
			i++;
			continue;
		}
		size_t j = i;
		while (j < len && !is_ascii_space((unsigned char)s[j]))
			j++;
		out_flush(o);
		sb_append(o->sb, s + i, j - i);
		o->line_start = false;
		i = j;
	}
}

/*
 * Walks the tree without recursion (documents may nest thousands deep),
 * entering each element once on the way down and leaving it on the way up.
 */
static void walk(struct text_out *o, xmlNodePtr root)
{
	xmlNodePtr n = root;

	while (n && !out_full(o)) {
		bool descend = false;

		if (n->type == XML_ELEMENT_NODE && n->name) {
			enum html_role r = role_of((const char *)n->name);
			switch (r) {
			case ROLE_DROP:
				break;
			case ROLE_BREAK:
				/* Two <br> in a row make a blank line, more add nothing. */
				if (o->sb->len > o->start)
					o->breaks = o->breaks < 2 ? o->breaks + 1 : 2;
				break;
			case ROLE_PARA:
			case ROLE_PRE:
				out_break(o, 2);
				descend = true;
				break;
			case ROLE_LINE:
				out_break(o, 1);
				descend = true;
				break;
			case ROLE_CELL:
				o->space = true;
				descend = true;
				break;
			case ROLE_INLINE:
				descend = true;
				break;
			}
			if (r == ROLE_PRE)
				o->pre++;
		} else if (n->type == XML_HTML_DOCUMENT_NODE || n->type == XML_DOCUMENT_NODE) {
			descend = true;
		} else if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) &&
			   n->content) {
			out_text(o, (const char *)n->content, strlen((const char *)n->content));
		}

		if (descend && n->children) {
			n = n->children;
			continue;
		}
		/* Leave n and every ancestor that has no next sibling. */
		for (;;) {
			if (n->type == XML_ELEMENT_NODE && n->name && n != root) {
				enum html_role r = role_of((const char *)n->name);
				if (r == ROLE_PARA || r == ROLE_PRE)
					out_break(o, 2);
				else if (r == ROLE_LINE)
					out_break(o, 1);
				else if (r == ROLE_CELL)
					o->space = true;
				if (r == ROLE_PRE && o->pre > 0)
					o->pre--;
			}
			if (n == root) {
				n = NULL;
				break;
			}
			if (n->next) {
				n = n->next;
				break;
			}
			n = n->parent;
			if (!n)
				break;
		}
	}
}

/* True when s[0..len) is valid UTF-8 without NUL bytes. */
static bool utf8_clean(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		if (p[i] >= 0x01 && p[i] < 0x80) {
			i++;
			continue;
		}
		size_t n = p[i] ? utf8_seq_len(p + i, len - i) : 0;
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/*
 * Trims the appended text, cuts it back to the limit at a character boundary
 * and makes it valid UTF-8.
 */
static int out_finish(struct text_out *o)
{
	struct strbuf *sb = o->sb;
	size_t len = sb->len - o->start;
	char *text = sb->buf ? sb->buf + o->start : NULL;

	if (sb->failed)
		return -ENOMEM;
	/* Only <pre> content can leave whitespace at either end. */
	while (len > 0 && is_ascii_space((unsigned char)text[len - 1]))
		len--;
	size_t lead = 0;
	while (lead < len && is_ascii_space((unsigned char)text[lead]))
		lead++;
	if (lead > 0)
		memmove(text, text + lead, len - lead);
	len -= lead;
	sb->len = o->start + len;
	if (sb->buf)
		sb->buf[sb->len] = 0;
	if (len == 0)
		return 0;
	if (len <= o->limit && utf8_clean(text, len))
		return 0;
	/* Rare: numeric references to surrogates or NUL, or text over the limit. */
	size_t cap = len * 3 + 1;
	if (cap > o->limit + 1)
		cap = o->limit + 1;
	char *tmp = malloc(cap);
	if (!tmp)
		return -ENOMEM;
	size_t n = utf8_sanitize(tmp, cap, text, len);
	sb->len = o->start;
	sb_append(sb, tmp, n);
	free(tmp);
	/* A cut may leave trailing whitespace behind. */
	while (sb->len > o->start && is_ascii_space((unsigned char)sb->buf[sb->len - 1]))
		sb->buf[--sb->len] = 0;
	return sb->failed ? -ENOMEM : 0;
}

int html_text_convert(struct html_text *h, const char *html, size_t len, struct strbuf *out)
{
	struct text_out o = { .sb = out, .start = out->len, .limit = HTML_TEXT_MAX_OUTPUT };
	const char *in = html;
	htmlDocPtr doc;

	if (len > LIMIT_HTML_INPUT_BYTES)
		len = LIMIT_HTML_INPUT_BYTES;
	if (len == 0)
		return 0;
	/*
	 * The parser is told the input is UTF-8. Invalid bytes would make it
	 * stop or switch to Latin-1 halfway, and a NUL ends its input early, so
	 * such input is cleaned first (once, into a reused buffer).
	 */
	if (!utf8_clean(html, len)) {
		size_t need = len * 3 + 1;
		if (need > h->scratch_cap) {
			char *nb = realloc(h->scratch, need);
			if (!nb)
				return -ENOMEM;
			h->scratch = nb;
			h->scratch_cap = need;
		}
		len = utf8_sanitize(h->scratch, need, html, len);
		in = h->scratch;
	}
	if (!h->ctxt && !(h->ctxt = ctxt_new()))
		return -ENOMEM;
	doc = htmlCtxtReadMemory(h->ctxt, in, (int)len, NULL, "UTF-8", HTML_OPTIONS);
	if (doc) {
		walk(&o, (xmlNodePtr)doc);
		xmlFreeDoc(doc);
	}
	if (h->ctxt->dict && xmlDictSize(h->ctxt->dict) > HTML_TEXT_DICT_MAX) {
		htmlFreeParserCtxt(h->ctxt);
		h->ctxt = NULL;   /* made again on the next call */
	}
	if (h->scratch_cap > HTML_TEXT_SCRATCH_KEEP) {
		/* One huge broken input should not pin megabytes for good. */
		free(h->scratch);
		h->scratch = NULL;
		h->scratch_cap = 0;
	}
	return out_finish(&o);
}

int html_to_text(const char *html, size_t len, struct strbuf *out)
{
	struct html_text *h;
	int rc = html_text_new(&h);
	if (rc < 0)
		return rc;
	rc = html_text_convert(h, html, len, out);
	html_text_free(h);
	return rc;
}
