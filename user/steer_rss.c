// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * virtio-net's RSS hash, as the steering program computes it: the Toeplitz
 * hash under a 40-byte key, the per-byte table the program reads from its
 * .rodata, and the default key. The reference implementation that tests
 * and predictions compare the program against.
 */
#include <stddef.h>
#include <stdint.h>

#include "tapflow.h"

const uint8_t tf_rss_default_key[TF_STEER_KEY_LEN] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2,
	0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
	0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4,
	0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
	0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/* The 32 key bits starting at bit k (MSB of key[0] is bit 0). */
static uint32_t key_window(const uint8_t key[TF_STEER_KEY_LEN], unsigned int k)
{
	uint32_t w = 0;

	for (unsigned int b = k; b < k + 32; b++)
		w = w << 1 | ((key[b / 8] >> (7 - b % 8)) & 1);
	return w;
}

uint32_t tf_toeplitz(const uint8_t key[TF_STEER_KEY_LEN], const uint8_t *in, size_t len)
{
	uint32_t h = 0;

	for (size_t i = 0; i < len && i < TF_STEER_HASH_IN_MAX; i++)
		for (unsigned int b = 0; b < 8; b++)
			if (in[i] & (0x80 >> b))
				h ^= key_window(key, i * 8 + b);
	return h;
}

void tf_toeplitz_table(const uint8_t key[TF_STEER_KEY_LEN],
		       uint32_t tab[TF_STEER_HASH_IN_MAX][256])
{
	for (unsigned int i = 0; i < TF_STEER_HASH_IN_MAX; i++) {
		uint32_t win[8];

		for (unsigned int b = 0; b < 8; b++)
			win[b] = key_window(key, i * 8 + b);
		for (unsigned int v = 0; v < 256; v++) {
			uint32_t h = 0;

			for (unsigned int b = 0; b < 8; b++)
				if (v & (0x80 >> b))
					h ^= win[b];
			tab[i][v] = h;
		}
	}
}
