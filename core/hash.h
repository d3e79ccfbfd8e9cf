/*
 * hash.h - fast non-cryptographic hashing for in-memory tables.
 *
 * hash_bytes() is a 64-bit hash with 8-byte reads (wyhash-style multiply-mix);
 * tables index with the low bits, so every output bit must depend on every
 * input byte. hash_u64() mixes an integer key. Not for anything an attacker
 * could exploit beyond slower lookups: tables are sized by caps in limits.h.
 */
#ifndef TRENDD_HASH_H
#define TRENDD_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t hash_mix(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t hash_read64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline uint64_t hash_read_small(const unsigned char *p, size_t k)
{
	/* 1..7 bytes */
	uint64_t v = 0;
	if (k >= 4) {
		uint32_t a, b;
		memcpy(&a, p, 4);
		memcpy(&b, p + k - 4, 4);
		return ((uint64_t)a << 32) | b;
	}
	v = ((uint64_t)p[0] << 16) | ((uint64_t)p[k >> 1] << 8) | p[k - 1];
	return v;
}

static inline uint64_t hash_bytes_seed(const void *key, size_t len, uint64_t seed)
{
	const unsigned char *p = key;
	const uint64_t s0 = 0xa0761d6478bd642full, s1 = 0xe7037ed1a0b428dbull,
		       s2 = 0x8ebc6af09c88c6e3ull;
	uint64_t a, b;
	seed ^= hash_mix(seed ^ s0, s1) ^ len;
	if (len <= 16) {
		if (len >= 8) {
			a = hash_read64(p);
			b = hash_read64(p + len - 8);
		} else if (len > 0) {
			a = hash_read_small(p, len);
			b = 0;
		} else {
			a = b = 0;
		}
	} else {
		size_t i = len;
		while (i > 16) {
			seed = hash_mix(hash_read64(p) ^ s1, hash_read64(p + 8) ^ seed);
			p += 16;
			i -= 16;
		}
		a = hash_read64(p + i - 16);
		b = hash_read64(p + i - 8);
	}
	a ^= s1;
	b ^= seed;
	__uint128_t r = (__uint128_t)a * b;
	a = (uint64_t)r;
	b = (uint64_t)(r >> 64);
	return hash_mix(a ^ s0 ^ len, b ^ s2);
}

static inline uint64_t hash_bytes(const void *key, size_t len)
{
	return hash_bytes_seed(key, len, 0x2d358dccaa6c78a5ull);
}

static inline uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

#endif
