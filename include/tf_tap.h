/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Multiqueue tap lifecycle: create, delete, list and inspect the persistent
 * IFF_TAP|IFF_NO_PI|IFF_MULTI_QUEUE devices that VM backends open by name.
 * Included by tapflow.h.
 */
#ifndef TF_TAP_H
#define TF_TAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TF_NO_ID ((long)-1)

struct tf_tap_opts {
	char name[16];
	unsigned int queues;		/* 1..TF_MAX_QUEUES; 0 means 1 */
	long owner;			/* uid, or TF_NO_ID */
	long group;			/* gid, or TF_NO_ID */
	unsigned int mtu;		/* 0: kernel default (1500) */
	bool has_mac;
	uint8_t mac[6];
	unsigned int txqueuelen;	/* 0: kernel default (500) */
	bool vnet_hdr;
};

#ifdef __cplusplus
}
#endif

#endif /* TF_TAP_H */
