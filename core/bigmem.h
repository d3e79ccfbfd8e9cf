/*
 * bigmem.h - arrays of a megabyte and more, on transparent huge pages.
 *
 * The analytics thread rebuilds a few large arrays again and again: an open
 * minute's author log and the scratch it is sorted into (analytics/window.c),
 * a minute's register table of dense author sets (analytics/hll.c), and the
 * term records and index when they grow. Such an array is mostly written
 * soon after it is made, and on 4 KiB pages every page of it costs a page
 * fault first - about 1.2 us each on the virtual machines measured, so 0.6 ms
 * for 2 MiB - against one fault that clears a 2 MiB page.
 *
 * An array of at least BIGMEM_MIN bytes is therefore mapped on its own, 2 MiB
 * aligned and a whole number of 2 MiB long, and advised for huge pages
 * (madvise(MADV_HUGEPAGE)): a system that runs THP in "madvise" mode gives
 * huge pages to nothing else. The advice is only a hint: without huge pages
 * to give, the kernel maps small ones and the array works the same. The
 * rounding wastes less than the array's own size. Smaller arrays come from
 * aligned_alloc(). Every array is 64-byte aligned.
 *
 * The caller keeps the size: bigmem_free() and bigmem_realloc() take the
 * size the array was allocated with, which says how it was made. Any thread
 * may call these; they keep no state.
 *
 * AddressSanitizer knows nothing of mappings it did not make, so in builds
 * with it the rest of a mapping past the array, and the rounding of a small
 * array, are marked out of bounds: an overrun past the end fails as it would
 * on a malloc'd array. (A mapping has no guard before its start.)
 */
#ifndef TRENDD_BIGMEM_H
#define TRENDD_BIGMEM_H

#include <stdbool.h>
#include <stddef.h>

#define BIGMEM_MIN ((size_t)1 << 20)

/* bytes of memory (zeroed when zero is set), 64-byte aligned; NULL when out of memory
 * (or when bytes is too large to map) */
void *bigmem_alloc(size_t bytes, bool zero);
/* frees p (NULL is fine), allocated with bytes */
void bigmem_free(void *p, size_t bytes);
/*
 * p (from bigmem_alloc(old), or NULL) resized to bytes, its first
 * min(old, bytes) bytes kept and the rest undefined; NULL (p unchanged) when
 * out of memory. A mapped array that still fits its mapping stays in place.
 */
void *bigmem_realloc(void *p, size_t old, size_t bytes);
/* whether an array of bytes is mapped on its own (for tests) */
bool bigmem_is_mapped(size_t bytes);

#endif
