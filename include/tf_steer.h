/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Host → guest queue steering (TUNSETSTEERINGEBPF). Included by tapflow.h.
 *
 * Without a steering program tun picks a queue for what the host sends from
 * its automatic flow table (the queue the flow last came in on, else a hash).
 * tf_steer_set() replaces that with one of four policies (see
 * tf_steer_shared.h for the exact definitions): a symmetric L3 or L4 hash,
 * virtio-net's Toeplitz RSS with a key and indirection table, or fixed flow
 * rules.
 *
 * Lifecycle, from drivers/net/tun.c: the program hangs off the tun_struct,
 * not the fd that installed it. It stays when that fd closes and goes only
 * with TUNSETSTEERINGEBPF(-1) or with the device (tun_free_netdev). To reach
 * the device tapflow attaches one extra queue for a moment (TUNSETIFF with
 * the tap's own feature flags, so vnet_hdr and no_pi stay as the backend set
 * them), detaches it at once (IFF_DETACH_QUEUE: being last, no other queue is
 * renumbered), installs the program and closes. The active mode is recorded
 * in maps pinned under TF_STEER_PIN_DIR/<netns inode>-<ifindex>/ (0600),
 * locked and versioned as tf_pin.h says.
 */
#ifndef TF_STEER_H
#define TF_STEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "tf_steer_shared.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TF_STEER_PIN_MODULE	"steer"
#define TF_STEER_PIN_DIR	TF_PIN_ROOT "/" TF_STEER_PIN_MODULE
#define TF_STEER_LAYOUT		1	/* the pinned conf and rules maps */

/* One fixed-mode rule and the queue it sends its flow to. */
struct tf_steer_rule_q {
	struct tf_steer_rule rule;
	uint32_t queue;
};

struct tf_steer_opts {
	enum tf_steer_mode mode;	/* TF_STEER_L3 .. TF_STEER_FIXED */
	/* rss */
	bool has_key;			/* false: tf_rss_default_key */
	uint8_t key[TF_STEER_KEY_LEN];
	unsigned int indir_len;		/* 0: TF_STEER_INDIR_MAX, round-robin */
	uint16_t indir[TF_STEER_INDIR_MAX];
	uint32_t hash_types;		/* 0: TF_RSS_HASH_ALL */
	/* fixed */
	const struct tf_steer_rule_q *rules;
	size_t nrules;
	unsigned int default_queue;	/* non-IP and unmatched frames */
	uint32_t flags;			/* TF_STEER_F_* */
};

/* The Microsoft RSS verification key (virtio-net's and most NICs' default). */
extern const uint8_t tf_rss_default_key[TF_STEER_KEY_LEN];

/*
 * Install (or replace) the steering program on the tap `name` in the
 * caller's network namespace. Queue numbers in opts must be below the tap's
 * queue count (tapflow's recorded count, else the attached queues). Nothing
 * changes on failure. Needs CAP_NET_ADMIN and CAP_BPF (or CAP_SYS_ADMIN).
 */
int tf_steer_set(const char *name, const struct tf_steer_opts *opts);
/*
 * How many queues the tap `name` has, for checking the queue numbers of
 * steering options before tf_steer_set(): tapflow's recorded count, else the
 * queues attached now, else (nothing to go by) TF_MAX_QUEUES. Fails like
 * tf_steer_set() for a device that cannot be steered.
 */
int tf_steer_queues(const char *name, unsigned int *nqueues);
/* Remove any steering program from the tap (tapflow's or not) and its pins. */
int tf_steer_off(const char *name);
/*
 * What tapflow installed on ifindex (current netns): 1 and *conf filled,
 * 0 if nothing is recorded, or a negative errno.
 */
int tf_steer_get(int ifindex, struct tf_steer_conf *conf);

const char *tf_steer_mode_name(enum tf_steer_mode mode);

/* ---- parsing (CLI and API callers) --------------------------------------- */

/* 40 bytes as 80 hex digits, optionally separated by ':' or '-'. */
int tf_steer_parse_key(const char *s, uint8_t key[TF_STEER_KEY_LEN]);
/* "Q,Q,...": 1..128 queues, a power of two many, each < nqueues. */
int tf_steer_parse_indir(const char *s, unsigned int nqueues,
			 uint16_t indir[TF_STEER_INDIR_MAX], unsigned int *len);
/*
 * "PROTO:SRC:SPORT:DST:DPORT=Q" with PROTO tcp, udp or ip (then both ports
 * must be 0 or '*'); IPv6 addresses in brackets: udp:[fd00::1]:53:[fd00::2]:9=1.
 */
int tf_steer_parse_rule(const char *s, unsigned int nqueues, struct tf_steer_rule_q *r);

/* ---- reference implementations (tests, predictions) ----------------------- */

/* Toeplitz hash of in[0..len) under key (len <= TF_STEER_HASH_IN_MAX). */
uint32_t tf_toeplitz(const uint8_t key[TF_STEER_KEY_LEN], const uint8_t *in, size_t len);
/* The per-byte lookup table the program uses: tab[i][v] for input byte i = v. */
void tf_toeplitz_table(const uint8_t key[TF_STEER_KEY_LEN],
		       uint32_t tab[TF_STEER_HASH_IN_MAX][256]);

#ifdef __cplusplus
}
#endif

#endif /* TF_STEER_H */
