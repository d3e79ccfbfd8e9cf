#include "core/bigmem.h"
#include "core/sanitize.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifdef TRENDD_ASAN
#include <sanitizer/asan_interface.h>
#define BIG_POISON(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define BIG_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define BIG_POISON(p, n)   ((void)(p), (void)(n))
#define BIG_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define HUGE_BYTES ((size_t)2 << 20)

bool bigmem_is_mapped(size_t bytes) { return bytes >= BIGMEM_MIN; }

static size_t map_len(size_t bytes) { return (bytes + HUGE_BYTES - 1) & ~(HUGE_BYTES - 1); }

/* p[0..bytes) in bounds, the rest of its mapping not (see bigmem.h) */
static void guard(uint8_t *p, size_t bytes)
{
	BIG_UNPOISON(p, bytes);
	BIG_POISON(p + bytes, map_len(bytes) - bytes);
}

/* bytes rounded up to the 64-byte multiple aligned_alloc() wants (at least 64) */
static size_t small_len(size_t bytes) { return bytes ? (bytes + 63) & ~(size_t)63 : 64; }

void *bigmem_alloc(size_t bytes, bool zero)
{
	if (!bigmem_is_mapped(bytes)) {
		size_t n = small_len(bytes);
		uint8_t *p = aligned_alloc(64, n);
		if (p && zero)
			memset(p, 0, n);
		/* the rounding is out of bounds too, as past a malloc'd array */
		if (p)
			BIG_POISON(p + bytes, n - bytes);
		return p;
	}
	/* the mapping asked for below must not wrap around */
	if (bytes > SIZE_MAX - 2 * HUGE_BYTES)
		return NULL;
	size_t len = map_len(bytes);
	/* room to cut a 2 MiB aligned run of len bytes out of the mapping */
	uint8_t *m = mmap(NULL, len + HUGE_BYTES, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	size_t head = (HUGE_BYTES - ((uintptr_t)m & (HUGE_BYTES - 1))) & (HUGE_BYTES - 1);
	if (head)
		munmap(m, head);
	munmap(m + head + len, HUGE_BYTES - head);
#ifdef MADV_HUGEPAGE
	(void)madvise(m + head, len, MADV_HUGEPAGE); /* a hint: failing leaves small pages */
#endif
	/* fresh anonymous memory reads as zero, whatever zero says */
	guard(m + head, bytes);
	return m + head;
}

void bigmem_free(void *p, size_t bytes)
{
	if (!p)
		return;
	if (bigmem_is_mapped(bytes)) {
		BIG_UNPOISON(p, map_len(bytes)); /* a later mapping may reuse the addresses */
		munmap(p, map_len(bytes));
	} else {
		BIG_UNPOISON(p, small_len(bytes));
		free(p);
	}
}

void *bigmem_realloc(void *p, size_t old, size_t bytes)
{
	if (!p)
		return bigmem_alloc(bytes, false);
	if (bigmem_is_mapped(old) && bigmem_is_mapped(bytes) && map_len(old) == map_len(bytes)) {
		guard(p, bytes);
		return p;
	}
	/* not realloc() for small arrays: it would not keep the 64-byte alignment */
	void *q = bigmem_alloc(bytes, false);
	if (!q)
		return NULL;
	memcpy(q, p, old < bytes ? old : bytes);
	bigmem_free(p, old);
	return q;
}
