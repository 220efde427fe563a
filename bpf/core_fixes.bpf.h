/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Kernel-version shims for tapflow's BPF programs. Each shim is resolved by
 * CO-RE at load time (field existence, type size, enum values), never by
 * LINUX_VERSION_CODE, so one object runs on every kernel with BTF.
 */
#ifndef TF_CORE_FIXES_BPF_H
#define TF_CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>

/* net_device before v6.10 had no priv[] member. */
struct net_device___pre_priv {
	int ifindex;
} __attribute__((preserve_access_index));

#define TF_NETDEV_ALIGN 32

/*
 * netdev_priv(): v6.10 ("net: introduce a flexible array member for
 * net_device private data", priv[] with __counted_by) made the private area
 * a member; before that it sat right after the struct, NETDEV_ALIGN-aligned.
 */
static __always_inline void *tf_netdev_priv(const struct net_device *dev)
{
	if (bpf_core_field_exists(dev->priv))
		return (void *)dev + bpf_core_field_offset(struct net_device, priv);
	return (void *)dev + ((bpf_core_type_size(struct net_device) + TF_NETDEV_ALIGN - 1) &
			      ~(TF_NETDEV_ALIGN - 1));
}

/* The inode number of a device's network namespace (dev_net(dev)->ns.inum). */
static __always_inline __u32 tf_dev_netns(const struct net_device *dev)
{
	return BPF_CORE_READ(dev, nd_net.net, ns.inum);
}

#endif
