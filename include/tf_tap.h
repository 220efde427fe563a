/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Tap lifecycle: create, delete, list and inspect the persistent
 * IFF_TAP|IFF_NO_PI taps (IFF_MULTI_QUEUE with more than one queue) that VM
 * backends open by name.
 * Included by tapflow.h.
 *
 * How tapflow knows its own taps: the kernel forgets a persistent tap's queue
 * count (numqueues is 0 until a backend attaches), so tapflow writes the
 * parameters it was asked for into the device's ifalias, e.g.
 *
 *	tapflow:v1 queues=4 owner=1000 group=-1 mtu=1500 txqlen=500 vnet_hdr=0
 *
 * (plus " mac=aa:bb:cc:dd:ee:ff" when a MAC was given). The marker lives and
 * dies with the device, so it is never stale; a tap whose alias does not
 * start with "tapflow:v1" was not created by tapflow.
 */
#ifndef TF_TAP_H
#define TF_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <linux/types.h>

#include "tf_steer_shared.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TF_NO_ID ((long)-1)

#define TF_TAP_ALIAS_MARK	"tapflow:v1"
#define TF_TAP_ALIASZ		256	/* IFALIASZ */
#define TF_TAP_DEF_MTU		1500
#define TF_TAP_DEF_TXQLEN	500	/* the kernel's default for a tap */
#define TF_TAP_MIN_MTU		68
#define TF_TAP_MAX_MTU		65535
/*
 * The longest ring a tap queue can have: tun sizes each queue's ptr_ring to
 * txqueuelen entries, and ptr_ring refuses a ring larger than KMALLOC_MAX_SIZE
 * (4 MiB with 4 KiB pages, MAX_PAGE_ORDER 10) of 8-byte pointers; tun's
 * NETDEV_CHANGE_TX_QUEUE_LEN handler then answers NOTIFY_BAD, which reaches
 * the caller as EPERM (include/linux/ptr_ring.h, drivers/net/tun.c).
 */
#define TF_TAP_MAX_TXQLEN	524288

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
	/*
	 * IFF_MULTI_QUEUE. Always with queues > 1; with 1 queue only when
	 * asked: a single-queue tap is what every backend's plainest open
	 * (qemu without queues=, libvirt without <driver queues>, firecracker)
	 * accepts, and tun refuses such an open on a multiqueue tap.
	 */
	bool multi_queue;
};

/* What the kernel (and tapflow's alias) say about one tun/tap device. */
struct tf_tap_info {
	char name[16];
	int ifindex;
	bool tap;			/* IFF_TAP; false: IFF_TUN (layer 3) */
	bool multi_queue;		/* IFF_MULTI_QUEUE */
	bool vnet_hdr;			/* IFF_VNET_HDR, as the last attach set it */
	bool persist;			/* IFF_PERSIST */
	bool no_pi;			/* IFF_NO_PI */
	long owner;			/* uid or TF_NO_ID */
	long group;			/* gid or TF_NO_ID */
	unsigned int mtu;
	unsigned int txqueuelen;
	bool has_mac;
	uint8_t mac[6];
	bool up;			/* IFF_UP (admin) */
	uint8_t operstate;		/* IF_OPER_* */
	unsigned int queues_attached;	/* IFLA_TUN_NUM_QUEUES */
	unsigned int queues_disabled;	/* IFLA_TUN_NUM_DISABLED_QUEUES */
	bool by_tapflow;		/* alias carries a valid tapflow:v1 marker */
	struct tf_tap_opts conf;	/* parsed alias, when by_tapflow */
	char alias[TF_TAP_ALIASZ];
	/* Device-wide counters (IFLA_STATS64); tun keeps no per-queue ones. */
	struct {
		uint64_t rx_packets, tx_packets, rx_bytes, tx_bytes;
		uint64_t rx_dropped, tx_dropped, rx_errors, tx_errors;
	} stats;
};

/*
 * Create a persistent multiqueue tap, verify that all opts->queues queues can
 * attach, apply owner, group, MTU, MAC and txqueuelen, record the parameters
 * in the alias and bring the device up. If a tapflow tap of that name exists
 * with the same parameters, nothing changes and *created is false; different
 * parameters, a foreign tap or another kind of device fail with -EEXIST and a
 * message naming the difference. On any failure a device this call made is
 * gone again. Needs CAP_NET_ADMIN.
 */
int tf_tap_create(const struct tf_tap_opts *opts, bool *created);

/*
 * tf_tap_create(), then the XDP fast path on the tap (tf_fastpath_enable()):
 * what `tapflow create --fastpath` does. If the fast path cannot be had, a
 * tap this call created is deleted again, and the error is the fast path's
 * ("NAME: fast path: ... (tap not created)"), of the fast path's kind.
 * *fp_changed: the fast path was turned on by this call; *legacy: libxdp
 * runs it in legacy (single program) mode. Needs CAP_NET_ADMIN and CAP_BPF.
 */
int tf_tap_create_accelerated(const struct tf_tap_opts *opts, bool *created,
			      bool *fp_changed, bool *legacy);

/*
 * Delete a tun/tap device. Without force it refuses a tap tapflow did not
 * create (-EPERM) and one with queues attached by a backend (-EBUSY). A
 * device that is not a tun/tap is never deleted (-EINVAL). The modules let
 * go of it first (see below). Needs CAP_NET_ADMIN.
 */
int tf_tap_delete(const char *name, bool force);

/* One tun/tap device by name: -ENODEV if absent, -EINVAL if not a tun/tap. */
int tf_tap_get(const char *name, struct tf_tap_info *info);
/* Every tun/tap device of the current network namespace, by ifindex. */
int tf_tap_list(struct tf_tap_info **taps, size_t *n);
void tf_tap_list_free(struct tf_tap_info *taps);

/*
 * Fill the defaults into zero fields: queues 1, MTU 1500, txqueuelen 500,
 * multi_queue when queues > 1, and owner root (uid 0) when neither owner
 * nor group is set: tun lets anyone open a tap that has neither, and
 * /dev/net/tun is 0666. A given group alone stays alone: tun admits a
 * user (without CAP_NET_ADMIN) only when they match every one of owner and
 * group that is set, so an owner added beside it would shut the group out.
 */
void tf_tap_opts_resolve(struct tf_tap_opts *o);
/* Format the alias marker for o (resolved); returns its length or -errno. */
int tf_tap_alias_format(const struct tf_tap_opts *o, char *buf, size_t len);
/*
 * Parse an alias written by tf_tap_alias_format(): 0 and o filled (name
 * left empty), -ENOENT for an alias that is not tapflow's, -EINVAL (with a
 * message) for one that has the marker but is malformed.
 */
int tf_tap_alias_parse(const char *alias, struct tf_tap_opts *o);
/*
 * Describe how an existing tap (have) differs from a request (want), both
 * resolved: "tap0 exists with queues=2, not 4; mtu=9000, not 1500". The MAC
 * is compared only when want->has_mac. Returns the number of differences.
 */
int tf_tap_opts_diff(const struct tf_tap_opts *have, const struct tf_tap_opts *want,
		     char *buf, size_t len);

/* "down", "up", "lowerlayerdown", ... for IF_OPER_* values. */
const char *tf_tap_operstate_name(uint8_t operstate);

/*
 * What the library's modules (tracing, the fast path, steering) have
 * attached to a tap, for `tapflow show`. The modules are a fixed list in
 * libtapflow (user/module.c), so every program linking it gets the same
 * delete and show behaviour: tf_tap_delete() has each module let go of the
 * tap first (detach programs, drop pins kept for its ifindex), and
 * tf_tap_attached() asks each what it has there. Rendering is the caller's.
 */
struct tf_tap_attached {
	bool fastpath;			/* an accelerated tap (tapflow fastpath on) */
	uint32_t fastpath_slot;
	uint32_t fastpath_rules;	/* AF_XDP rules */
	bool steered;			/* a steering program tapflow installed */
	struct tf_steer_conf steer;
	bool traced;
	int trace_backend;		/* enum tf_backend */
};
/* Fill *a for the tap (current netns); returns how many modules have something there. */
int tf_tap_attached(int ifindex, const char *name, struct tf_tap_attached *a);

#ifdef __cplusplus
}
#endif

#endif /* TF_TAP_H */
