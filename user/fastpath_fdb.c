// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The fast path's fdb: static MAC -> port entries beside the ones the
 * programs learn, and the sorted listing `tapflow fdb list` prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/capability.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "tapflow.h"
#include "log.h"
#include "fastpath.skel.h"

#include "fastpath_int.h"

/* What an fdb change works on: NAME's port, MAC as the map's key and as text. */
struct fdb_op {
	struct fp s;
	struct tf_fp_port port;
	struct tf_fp_fdb_key k;
	int ifindex;
	char m[TF_MAC_STRLEN];
};

static int fdb_open(struct fdb_op *o, const char *name, const uint8_t mac[6])
{
	int err = fp_open_port(&o->s, name, &o->ifindex, &o->port, false);

	if (err)
		return err;
	memset(&o->k, 0, sizeof(o->k));
	memcpy(o->k.mac, mac, 6);
	tf_mac_format(mac, o->m);
	return 0;
}

int tf_fdb_add(const char *name, const uint8_t mac[6])
{
	struct tf_fp_fdb v, old;
	struct fdb_op o;
	int err;

	err = fdb_open(&o, name, mac);
	if (err)
		return err;
	if (!bpf_map_lookup_elem(o.s.fdb, &o.k, &old) && (old.flags & TF_FP_FDB_STATIC)) {
		char other[IF_NAMESIZE] = "?";

		if ((int)old.ifindex != o.ifindex) {
			if_indextoname(old.ifindex, other);
			err = tf_err(-EEXIST, "%s is already on port %s (tapflow fdb del %s %s first)",
				     o.m, other, other, o.m);
		}
		goto out;
	}
	memset(&v, 0, sizeof(v));
	v.ifindex = o.ifindex;
	v.slot = o.port.slot;
	v.flags = TF_FP_FDB_STATIC | (o.port.kind == TF_FP_PORT_UPLINK ? TF_FP_FDB_UPLINK : 0);
	if (bpf_map_update_elem(o.s.fdb, &o.k, &v, BPF_ANY))
		err = tf_err(-errno, "cannot add %s to the fdb: %s", o.m, strerror(errno));
	else
		fp_bump_gen(&o.s);
out:
	fp_close(&o.s);
	return err;
}

int tf_fdb_del(const char *name, const uint8_t mac[6])
{
	struct tf_fp_fdb v;
	struct fdb_op o;
	int err;

	err = fdb_open(&o, name, mac);
	if (err)
		return err;
	if (bpf_map_lookup_elem(o.s.fdb, &o.k, &v) || (int)v.ifindex != o.ifindex)
		err = tf_err(-ENOENT, "%s is not in the fdb on port %s", o.m, name);
	else if (bpf_map_delete_elem(o.s.fdb, &o.k))
		err = tf_err(-errno, "cannot delete %s: %s", o.m, strerror(errno));
	else
		fp_bump_gen(&o.s);
	fp_close(&o.s);
	return err;
}

static int fdb_cmp(const void *a, const void *b)
{
	const struct tf_fdb_entry *x = a, *y = b;

	if (x->ifindex != y->ifindex)
		return x->ifindex - y->ifindex;
	return memcmp(x->mac, y->mac, 6);
}

int tf_fdb_list(struct tf_fdb_entry **entries, size_t *n)
{
	struct tf_fp_fdb_key k, next, *prev = NULL;
	struct tf_fdb_entry *e = NULL;
	size_t cap = 0;
	struct fp s;
	int err;

	*entries = NULL;
	*n = 0;
	err = fp_open_ro(&s);
	if (err == -ENOENT)
		return 0;	/* no state: an empty table */
	if (err)
		return err;
	if (!fp_same_netns(&s))
		goto out;
	while (!bpf_map_get_next_key(s.fdb, prev, &next)) {
		struct tf_fp_fdb v;

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(s.fdb, &k, &v))
			continue;
		if (*n == cap) {
			struct tf_fdb_entry *ne;

			cap = cap ? cap * 2 : 16;
			ne = realloc(e, cap * sizeof(*e));
			if (!ne) {
				free(e);
				err = tf_err(-ENOMEM, "out of memory");
				goto out;
			}
			e = ne;
		}
		memset(&e[*n], 0, sizeof(e[*n]));
		memcpy(e[*n].mac, k.mac, 6);
		e[*n].ifindex = v.ifindex;
		e[*n].flags = v.flags;
		if (!if_indextoname(v.ifindex, e[*n].port))
			e[*n].port[0] = '\0';
		(*n)++;
	}
	if (*n)
		qsort(e, *n, sizeof(*e), fdb_cmp);
	*entries = e;
out:
	fp_close(&s);
	return err;
}

