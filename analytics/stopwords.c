/*
 * stopwords.c - per-language stopword lists in one hash table, and one
 * compact set per language for the tokenizer's word loop.
 *
 * Every list is read from data_dir/stopwords/<lang>.txt at start-up. All
 * lists share one open-addressing table keyed by the normalized word; each
 * slot carries a bit mask of the lists that contain the word, so a lookup is
 * one probe sequence whatever the number of languages, and the set that
 * applies to a post is a mask (stopwords_lang_mask). For each mask that
 * function can return (a list and English, or all lists) the load also
 * builds a struct stopword_set (tokenize.h): only the keys of those lists'
 * words, probed inline without a branch. After load nothing changes, so
 * any number of tokenizers on any threads may share all of it.
 */
#include "analytics/tokenize.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <utf8proc.h>

#include "core/hash.h"
#include "core/log.h"

#define LANG_NAME_BYTES 4   /* "en", "fil": two or three letters and a NUL */
#define FILTER_BITS     (1u << 16)
#define SET_MAX_SLOTS   (1u << 24)  /* bound on a set's table; stopword_slot() allows 2^32 */

/*
 * A word of up to 16 bytes is keyed exactly by its bytes as two zero-padded
 * 64-bit integers and its length (stopword_key() in tokenize.h), so a lookup
 * compares integers and never calls memcmp; longer words are keyed by their
 * hash, with b all ones (no short key has that: 0xFF is in no UTF-8 text),
 * and compared byte by byte. A bitmap
 * indexed by key hash (64 Ki bits, one set per word: with a few thousand
 * words under 8% of other lookups pass it) answers most lookups of words
 * that are not stopwords without touching the table.
 */
struct sw_slot {
	uint64_t a, b;   /* key; len == 0 marks an empty slot */
	uint64_t langs;  /* bit i = list i contains the word */
	uint32_t off;    /* word bytes at pool + off */
	uint32_t len;
};

struct stopwords {
	size_t nlangs;
	char langs[STOPWORDS_MAX_LANGS][LANG_NAME_BYTES];
	uint64_t all_mask;
	int en;                /* index of the English list, or -1 */
	struct sw_slot *slots; /* owned; power-of-two count */
	size_t slot_mask;
	size_t nwords;
	size_t max_len;        /* longest word: longer lookups miss without probing */
	char *pool;            /* owned */
	size_t pool_len, pool_cap;
	uint64_t filter[FILTER_BITS / 64];
	/* sets[i] holds list i and English; sets[nlangs] every list. */
	struct stopword_set *sets; /* owned; nlangs + 1 of them */
};

/* Key of a word; s has at least 16 readable bytes when len <= 16. */
static inline void word_key(const char *s, size_t len, uint64_t *a, uint64_t *b)
{
	if (len <= 16) {
		stopword_key(s, len, a, b);
	} else {
		*a = hash_bytes(s, len);
		*b = ~0ull;
	}
}

static inline uint64_t key_hash(uint64_t a, uint64_t b, size_t len)
{
	return hash_mix(a ^ 0xa0761d6478bd642full, b ^ len ^ 0xe7037ed1a0b428dbull);
}

/* The bitmap uses the high hash bits; the table indexes with the low ones. */
static inline bool filter_has(const struct stopwords *sw, uint64_t h)
{
	size_t bit = (size_t)(h >> 48);
	return (sw->filter[bit / 64] >> (bit % 64)) & 1;
}

static inline bool slot_is(const struct stopwords *sw, const struct sw_slot *e, uint64_t a,
			   uint64_t b, const char *s, size_t len)
{
	return e->a == a && e->b == b && e->len == len &&
	       (len <= 16 || memcmp(sw->pool + e->off, s, len) == 0);
}

static int table_grow(struct stopwords *sw)
{
	size_t ncap = sw->slots ? (sw->slot_mask + 1) * 2 : 1024;
	struct sw_slot *ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	struct sw_slot *os = sw->slots;
	size_t omask = sw->slot_mask;
	sw->slots = ns;
	sw->slot_mask = ncap - 1;
	if (os) {
		for (size_t i = 0; i <= omask; i++) {
			if (!os[i].len)
				continue;
			size_t j = key_hash(os[i].a, os[i].b, os[i].len) & sw->slot_mask;
			while (ns[j].len)
				j = (j + 1) & sw->slot_mask;
			ns[j] = os[i];
		}
		free(os);
	}
	return 0;
}

static int table_add(struct stopwords *sw, const char *s, size_t len, int lang)
{
	char pad[16] = { 0 };
	if (len <= 16) {
		memcpy(pad, s, len);
		s = pad;
	}
	uint64_t a, b;
	word_key(s, len, &a, &b);
	uint64_t h = key_hash(a, b, len);
	size_t i = h & sw->slot_mask;
	for (; sw->slots[i].len; i = (i + 1) & sw->slot_mask) {
		struct sw_slot *e = &sw->slots[i];
		if (slot_is(sw, e, a, b, s, len)) {
			e->langs |= 1ull << lang;
			return 0;
		}
	}
	if (sw->nwords >= STOPWORDS_MAX_WORDS)
		return -E2BIG;
	if (sw->pool_len + len > sw->pool_cap) {
		size_t ncap = sw->pool_cap ? sw->pool_cap * 2 : 16384;
		while (ncap < sw->pool_len + len)
			ncap *= 2;
		char *np = realloc(sw->pool, ncap);
		if (!np)
			return -ENOMEM;
		sw->pool = np;
		sw->pool_cap = ncap;
	}
	memcpy(sw->pool + sw->pool_len, s, len);
	sw->slots[i] =
		(struct sw_slot){ a, b, 1ull << lang, (uint32_t)sw->pool_len, (uint32_t)len };
	sw->pool_len += len;
	sw->nwords++;
	size_t bit = (size_t)(h >> 48);
	sw->filter[bit / 64] |= 1ull << (bit % 64);
	if (len > sw->max_len)
		sw->max_len = len;
	/*
	 * Grow past a load factor of 3/4: probe sequences stay short, and the
	 * table of all shipped lists (about 4,300 words) stays at 8 Ki slots.
	 */
	if (sw->nwords * 4 > (sw->slot_mask + 1) * 3)
		return table_grow(sw);
	return 0;
}

/*
 * Normalizes one list entry the way tokenize.c normalizes a word: NFKC, case
 * folding, default ignorables removed, U+2019 as ASCII apostrophe and U+2010
 * as ASCII hyphen. Returns the length written to out, or -1 when the entry is
 * not valid UTF-8 or too long to ever match a term.
 */
static int normalize_entry(const char *s, size_t len, char *out, size_t outcap)
{
	bool ascii = true;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			ascii = false;
	if (ascii) {
		if (len > outcap)
			return -1;
		for (size_t i = 0; i < len; i++)
			out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
		return (int)len;
	}
	utf8proc_uint8_t *m = NULL;
	utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &m,
					  UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD |
						  UTF8PROC_STABLE | UTF8PROC_IGNORE);
	if (n < 0)
		return -1;
	size_t o = 0;
	for (utf8proc_ssize_t i = 0; i < n;) {
		if (i + 2 < n && m[i] == 0xE2 && m[i + 1] == 0x80 &&
		    (m[i + 2] == 0x99 || m[i + 2] == 0x90)) {
			if (o >= outcap)
				goto toolong;
			out[o++] = m[i + 2] == 0x99 ? '\'' : '-';
			i += 3;
			continue;
		}
		if (o >= outcap)
			goto toolong;
		out[o++] = (char)m[i++];
	}
	free(m);
	return (int)o;
toolong:
	free(m);
	return -1;
}

/* Reads one list file; malformed lines are counted in *bad. */
static int load_file(struct stopwords *sw, const char *path, int lang, size_t *bad)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || st.st_size > STOPWORDS_MAX_FILE_BYTES) {
		fclose(f);
		return -EFBIG;
	}
	size_t size = (size_t)st.st_size;
	char *buf = malloc(size + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	size_t got = fread(buf, 1, size, f);
	fclose(f);
	int rc = 0;
	char word[LIMIT_TERM_BYTES];
	for (size_t i = 0; i < got && rc == 0;) {
		size_t e = i;
		while (e < got && buf[e] != '\n')
			e++;
		size_t a = i, b = e;
		i = e + 1;
		while (a < b && (buf[a] == ' ' || buf[a] == '\t' || buf[a] == '\r'))
			a++;
		while (b > a && (buf[b - 1] == ' ' || buf[b - 1] == '\t' || buf[b - 1] == '\r'))
			b--;
		if (a == b || buf[a] == '#')
			continue;
		if (a == 0 && b - a >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
			a += 3; /* UTF-8 byte order mark */
		int n = normalize_entry(buf + a, b - a, word, sizeof(word));
		for (int k = 0; k < n; k++)
			if ((unsigned char)word[k] < 0x20)
				n = -1; /* no term has one, and set keys rely on that */
		if (n <= 0) {
			(*bad)++;
			continue;
		}
		rc = table_add(sw, word, (size_t)n, lang);
		if (rc == -E2BIG) {
			(*bad)++;
			rc = 0;
		}
	}
	free(buf);
	return rc;
}

/* Salt number d of a bucket: an odd multiplier, d mixed so that salts share no pattern. */
static inline uint64_t set_salt(uint32_t d)
{
	return hash_u64(d + 1) | 1;
}

#define SET_SALTS     (1u << 16) /* salts tried per bucket */
#define SET_BUCKET_MAX 64        /* keys of one bucket beyond this: another multiplier */
#define SET_ATTEMPTS  48         /* multipliers tried; the table grows by at most 1.125^6 */

/*
 * One attempt to place the n keys (a[i], b[i]) in st's table with st's
 * multiplier, bucket and slot counts (slots all empty): buckets with more
 * keys first, while the table is emptier, each taking the first salt that
 * puts its keys in free slots of their own. False when a bucket finds none
 * (or is too big); the caller then tries another multiplier or more slots.
 * h[] takes the keys' hashes.
 */
static bool set_place(struct stopword_set *st, const uint64_t *a, const uint64_t *b, size_t n,
		      uint64_t *h, uint32_t *bucket_of, uint32_t *order, uint32_t *count)
{
	size_t nb = st->bucket_mask + 1;
	memset(count, 0, (nb + 1) * sizeof(*count));
	for (size_t i = 0; i < n; i++) {
		h[i] = stopword_hash(st->mult, a[i], b[i]);
		bucket_of[i] = (uint32_t)stopword_bucket(h[i], st->bucket_mask);
		count[bucket_of[i] + 1]++;
	}
	/* order[]: keys grouped by bucket; count[k]..count[k + 1] is bucket k's run. */
	for (size_t k = 0; k < nb; k++) {
		if (count[k + 1] > SET_BUCKET_MAX)
			return false;
		count[k + 1] += count[k];
	}
	uint32_t *fill = bucket_of + n; /* nb next positions, borrowed from the caller */
	memcpy(fill, count, nb * sizeof(*fill));
	for (size_t i = 0; i < n; i++)
		order[fill[bucket_of[i]]++] = (uint32_t)i;
	for (size_t size = SET_BUCKET_MAX; size > 0; size--) {
		for (size_t k = 0; k < nb; k++) {
			const uint32_t *keys = order + count[k];
			if (count[k + 1] - count[k] != size)
				continue;
			size_t at[SET_BUCKET_MAX];
			uint32_t d = 0;
			for (; d < SET_SALTS; d++) {
				size_t j = 0;
				for (; j < size; j++) {
					uint32_t e = keys[j];
					at[j] = stopword_slot(h[e], set_salt(d),
							      st->slot_mask + 1);
					if (st->slots[at[j]][1])
						break;
					size_t m = 0;
					while (m < j && at[m] != at[j])
						m++;
					if (m < j)
						break;
				}
				if (j == size)
					break;
			}
			if (d == SET_SALTS)
				return false;
			st->salt[k] = set_salt(d);
			for (size_t j = 0; j < size; j++) {
				st->slots[at[j]][0] = a[keys[j]];
				st->slots[at[j]][1] = b[keys[j]];
			}
		}
	}
	return true;
}

/*
 * Builds the set of the lists in mask from the main table. No key is (x, 0):
 * b has a length byte or, at 16 bytes, word bytes; so b == 0 marks an empty
 * slot. A bucket holds about five keys, and the table starts at 1/16 more
 * slots than keys; a multiplier that fails is replaced, and after a few,
 * the table grows by an eighth. (A table nearly full costs more salts to
 * try at load, once; the word loop then probes fewer cache lines, and
 * leaves more of the caches to the rest of the analytics thread.) The
 * shipped lists all place with the first multiplier. Two keys with the
 * same a ^ rotated b hash alike under every multiplier and never place;
 * SET_ATTEMPTS bounds the time and memory such a list costs (it then gets
 * no set, which is slower, not wrong).
 */
static int set_build(struct stopwords *sw, struct stopword_set *st, uint64_t mask)
{
	*st = (struct stopword_set){ .sw = sw, .mask = mask };
	size_t n = 0;
	for (size_t i = 0; i <= sw->slot_mask; i++) {
		const struct sw_slot *e = &sw->slots[i];
		n += e->len && e->len <= 16 && (e->langs & mask);
	}
	size_t nb = 1;
	while (nb < n / 5)
		nb *= 2;
	uint64_t *a = malloc((n + 1) * sizeof(*a));
	uint64_t *b = malloc((n + 1) * sizeof(*b));
	uint64_t *h = malloc((n + 1) * sizeof(*h));
	uint32_t *bucket_of = malloc((n + nb) * sizeof(*bucket_of));
	uint32_t *order = malloc((n + 1) * sizeof(*order));
	uint32_t *count = malloc((nb + 1) * sizeof(*count));
	int rc = -ENOMEM;
	if (!a || !b || !h || !bucket_of || !order || !count)
		goto out;
	n = 0;
	for (size_t i = 0; i <= sw->slot_mask; i++) {
		const struct sw_slot *e = &sw->slots[i];
		if (e->len && e->len <= 16 && (e->langs & mask)) {
			a[n] = e->a;
			b[n] = e->b;
			n++;
		}
	}
	size_t cap = n + n / 16 + 1;
	rc = 0;
	for (unsigned attempt = 1; attempt <= SET_ATTEMPTS && cap <= SET_MAX_SLOTS; attempt++) {
		if (attempt % 8 == 0)
			cap += cap / 8 + 1;
		st->slots = calloc(cap, sizeof(*st->slots));
		st->salt = calloc(nb, sizeof(*st->salt));
		if (!st->slots || !st->salt) {
			rc = -ENOMEM;
			break;
		}
		st->slot_mask = cap - 1;
		st->bucket_mask = nb - 1;
		st->mult = hash_u64(attempt) | 1;
		if (set_place(st, a, b, n, h, bucket_of, order, count))
			goto out;
		free(st->slots);
		free(st->salt);
		st->slots = NULL;
		st->salt = NULL;
	}
	free(st->slots);
	free(st->salt);
	st->slots = NULL;
	st->salt = NULL;
	/* Correct anyway: without a set, lookups take the main table. */
	if (!rc)
		log_warn("stopwords", "no compact set for lists %#llx after %d multipliers",
			 (unsigned long long)mask, SET_ATTEMPTS);
out:
	free(a);
	free(b);
	free(h);
	free(bucket_of);
	free(order);
	free(count);
	return rc;
}

static int sets_build(struct stopwords *sw)
{
	sw->sets = calloc(sw->nlangs + 1, sizeof(*sw->sets));
	if (!sw->sets)
		return -ENOMEM;
	uint64_t en = sw->en >= 0 ? 1ull << sw->en : 0;
	for (size_t i = 0; i <= sw->nlangs; i++) {
		uint64_t mask = i < sw->nlangs ? (1ull << i) | en : sw->all_mask;
		int rc = set_build(sw, &sw->sets[i], mask);
		if (rc)
			return rc;
	}
	return 0;
}

static bool lang_file_name(const char *name, char lang[LANG_NAME_BYTES])
{
	size_t n = 0;
	while (name[n] >= 'a' && name[n] <= 'z')
		n++;
	if (n < 2 || n > 3 || strcmp(name + n, ".txt") != 0)
		return false;
	memcpy(lang, name, n);
	lang[n] = 0;
	return true;
}

static int cmp_lang(const void *a, const void *b)
{
	return strcmp(a, b);
}

int stopwords_load(struct stopwords **out, const char *data_dir, char *err, size_t errlen)
{
	*out = NULL;
	char dir[4096];
	if ((size_t)snprintf(dir, sizeof(dir), "%s/stopwords", data_dir) >= sizeof(dir)) {
		if (err && errlen)
			snprintf(err, errlen, "data directory path too long: %s", data_dir);
		return -ENAMETOOLONG;
	}
	struct stopwords *sw = calloc(1, sizeof(*sw));
	if (!sw)
		goto nomem;
	sw->en = -1;
	if (table_grow(sw) != 0)
		goto nomem;

	DIR *d = opendir(dir);
	if (!d) {
		if (err && errlen)
			snprintf(err, errlen, "cannot read stopword directory %s: %s", dir,
				 strerror(errno));
		stopwords_free(sw);
		return -ENOENT;
	}
	/* Collect the names first and sort them, so list indexes do not depend on readdir order. */
	char names[STOPWORDS_MAX_LANGS][LANG_NAME_BYTES];
	size_t n = 0, skipped = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		char lang[LANG_NAME_BYTES];
		if (!lang_file_name(de->d_name, lang))
			continue;
		if (n == STOPWORDS_MAX_LANGS) {
			skipped++;
			continue;
		}
		memcpy(names[n++], lang, LANG_NAME_BYTES);
	}
	closedir(d);
	if (skipped)
		log_warn("stopwords", "%s: %zu lists over the cap of %d skipped", dir, skipped,
			 STOPWORDS_MAX_LANGS);
	qsort(names, n, LANG_NAME_BYTES, cmp_lang);

	for (size_t i = 0; i < n; i++) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/%.3s.txt", dir, names[i]);
		size_t bad = 0;
		int idx = (int)sw->nlangs;
		int rc = load_file(sw, path, idx, &bad);
		if (rc == -ENOMEM)
			goto nomem;
		if (rc != 0) {
			log_warn("stopwords", "%s skipped: %s", path, strerror(-rc));
			continue;
		}
		if (bad)
			log_warn("stopwords", "%s: %zu malformed or excess lines skipped", path,
				 bad);
		memcpy(sw->langs[idx], names[i], LANG_NAME_BYTES);
		sw->all_mask |= 1ull << idx;
		if (strcmp(names[i], "en") == 0)
			sw->en = idx;
		sw->nlangs++;
	}
	if (sets_build(sw) != 0)
		goto nomem;
	*out = sw;
	return 0;
nomem:
	if (err && errlen)
		snprintf(err, errlen, "out of memory loading stopwords from %s", dir);
	stopwords_free(sw);
	return -ENOMEM;
}

void stopwords_free(struct stopwords *sw)
{
	if (!sw)
		return;
	if (sw->sets)
		for (size_t i = 0; i <= sw->nlangs; i++) {
			free(sw->sets[i].slots);
			free(sw->sets[i].salt);
		}
	free(sw->sets);
	free(sw->slots);
	free(sw->pool);
	free(sw);
}

size_t stopwords_lang_count(const struct stopwords *sw)
{
	return sw ? sw->nlangs : 0;
}

const char *stopwords_lang_name(const struct stopwords *sw, size_t i)
{
	return sw && i < sw->nlangs ? sw->langs[i] : NULL;
}

uint64_t stopwords_lang_mask(const struct stopwords *sw, const char *lang)
{
	if (!sw)
		return 0;
	char primary[LANG_NAME_BYTES];
	size_t n = 0;
	if (lang) {
		for (; lang[n] && lang[n] != '-' && lang[n] != '_'; n++) {
			char c = lang[n];
			if (c >= 'A' && c <= 'Z')
				c = (char)(c + 32);
			if (n >= LANG_NAME_BYTES - 1 || c < 'a' || c > 'z')
				return sw->all_mask;
			primary[n] = c;
		}
	}
	if (n < 2)
		return sw->all_mask;
	primary[n] = 0;
	for (size_t i = 0; i < sw->nlangs; i++) {
		if (strcmp(sw->langs[i], primary) == 0) {
			uint64_t m = 1ull << i;
			if (sw->en >= 0)
				m |= 1ull << sw->en;
			return m;
		}
	}
	return sw->all_mask;
}

const struct stopword_set *stopwords_set(const struct stopwords *sw, uint64_t mask)
{
	if (!sw)
		return NULL;
	for (size_t i = 0; i <= sw->nlangs; i++)
		if (sw->sets[i].slots && sw->sets[i].mask == mask)
			return &sw->sets[i];
	return NULL;
}

int stopwords_contains_padded(const struct stopwords *sw, const char *s, size_t len,
				uint64_t mask)
{
	if (!sw || len > sw->max_len || len == 0)
		return 0;
	uint64_t a, b;
	word_key(s, len, &a, &b);
	uint64_t h = key_hash(a, b, len);
	if (!filter_has(sw, h))
		return 0;
	for (size_t i = h & sw->slot_mask; sw->slots[i].len; i = (i + 1) & sw->slot_mask) {
		const struct sw_slot *e = &sw->slots[i];
		if (slot_is(sw, e, a, b, s, len))
			return (e->langs & mask) != 0;
	}
	return 0;
}

int stopwords_contains(const struct stopwords *sw, const char *s, size_t len, uint64_t mask)
{
	char pad[16] = { 0 };
	if (len <= 16) {
		memcpy(pad, s, len);
		s = pad;
	}
	return stopwords_contains_padded(sw, s, len, mask);
}
