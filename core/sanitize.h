/*
 * sanitize.h - whether this build runs under AddressSanitizer, for code
 * that must tell it about memory it manages itself (core/bigmem.c) and for
 * tests of that. GCC says so with __SANITIZE_ADDRESS__, clang only through
 * __has_feature(address_sanitizer); TRENDD_ASAN is defined under either.
 */
#ifndef TRENDD_SANITIZE_H
#define TRENDD_SANITIZE_H

#if defined(__SANITIZE_ADDRESS__)
#define TRENDD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TRENDD_ASAN 1
#endif
#endif

#endif
