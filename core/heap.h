/*
 * heap.h - how much freed memory the C library's heap keeps for reuse.
 *
 * The analytics thread frees and allocates all the time: an author set that
 * grows gets a bigger array and frees the old one, a flush of an author log
 * takes scratch and returns it, a closing minute frees its entries and sets
 * while the next one allocates theirs. glibc by default gives the top of its
 * heap back to the kernel as soon as 128 KiB there are free, and serves an
 * allocation of 128 KiB or more (or a little more, as it adapts) with a
 * mapping of its own that it unmaps on free: either way the next allocation
 * maps the same amount again and faults it in, about 1 us a 4 KiB page on the
 * virtual machines measured. bench/analytics took ~1,080 page faults for a
 * round of 200,000 posts, and ~36 with the settings below.
 *
 * heap_tune() makes the heap keep up to HEAP_KEEP_FREE_BYTES free at its top,
 * grow by HEAP_PAD_BYTES beyond what an allocation needs, and serve
 * allocations below HEAP_OWN_MAPPING_BYTES from the heap itself. The memory
 * it keeps stays bounded by those figures; it is reused, not leaked. Call it
 * once, at start-up, before threads start. It changes nothing where the C
 * library is not glibc (and nothing under AddressSanitizer, whose allocator
 * replaces glibc's).
 */
#ifndef TRENDD_HEAP_H
#define TRENDD_HEAP_H

#define HEAP_KEEP_FREE_BYTES    ((int)(64u << 20))
#define HEAP_PAD_BYTES          ((int)(1u << 20))
#define HEAP_OWN_MAPPING_BYTES  ((int)(4u << 20))

/* The number of settings the C library took: 3 with glibc, 0 where it takes none. */
int heap_tune(void);

#endif
