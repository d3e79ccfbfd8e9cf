#include "core/heap.h"

#include <stdlib.h> /* defines __GLIBC__ with glibc */

#ifdef __GLIBC__
#include <malloc.h>
#endif

int heap_tune(void)
{
	int ok = 0;
#ifdef __GLIBC__
	/* mallopt() returns 1 on success; each setting also stops glibc adapting the others */
	ok += mallopt(M_TRIM_THRESHOLD, HEAP_KEEP_FREE_BYTES) == 1;
	ok += mallopt(M_TOP_PAD, HEAP_PAD_BYTES) == 1;
	ok += mallopt(M_MMAP_THRESHOLD, HEAP_OWN_MAPPING_BYTES) == 1;
#endif
	return ok;
}
