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

int tf_fdb_add(const char *name, const uint8_t mac[6])
{
	struct tf_fp_fdb_key k = { 0 };
	struct tf_fp_fdb v, old;
	struct tf_fp_port port;
	int ifindex, err;
	char m[TF_MAC_STRLEN];
	struct fp s;

	err = fp_open_port(&s, name, &ifindex, &port, false);
	if (err)
		return err;
	memcpy(k.mac, mac, 6);
	tf_mac_format(mac, m);
	if (!bpf_map_lookup_elem(s.fdb, &k, &old) && (old.flags & TF_FP_FDB_STATIC)) {
		char other[IF_NAMESIZE] = "?";

		if ((int)old.ifindex != ifindex) {
			if_indextoname(old.ifindex, other);
			err = tf_err(-EEXIST, "%s is already on port %s (tapflow fdb del %s %s first)",
				     m, other, other, m);
		}
		goto out;
	}
	memset(&v, 0, sizeof(v));
	v.ifindex = ifindex;
	v.slot = port.slot;
	v.flags = TF_FP_FDB_STATIC | (port.kind == TF_FP_PORT_UPLINK ? TF_FP_FDB_UPLINK : 0);
	if (bpf_map_update_elem(s.fdb, &k, &v, BPF_ANY))
		err = tf_err(-errno, "cannot add %s to the fdb: %s", m, strerror(errno));
	else
		fp_bump_gen(&s);
out:
	fp_close(&s);
	return err;
}

int tf_fdb_del(const char *name, const uint8_t mac[6])
{
	struct tf_fp_fdb_key k = { 0 };
	struct tf_fp_port port;
	struct tf_fp_fdb v;
	int ifindex, err;
	char m[TF_MAC_STRLEN];
	struct fp s;

	err = fp_open_port(&s, name, &ifindex, &port, false);
	if (err)
		return err;
	memcpy(k.mac, mac, 6);
	tf_mac_format(mac, m);
	if (bpf_map_lookup_elem(s.fdb, &k, &v) || (int)v.ifindex != ifindex)
		err = tf_err(-ENOENT, "%s is not in the fdb on port %s", m, name);
	else if (bpf_map_delete_elem(s.fdb, &k))
		err = tf_err(-errno, "cannot delete %s: %s", m, strerror(errno));
	else
		fp_bump_gen(&s);
	fp_close(&s);
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

