/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The limits of the kernel's that tapflow's BPF programs, library, CLI and
 * test tools all size things by, named once. Only #defines, so this
 * compiles after vmlinux.h and after <linux/types.h> alike.
 */
#ifndef TF_LIMITS_H
#define TF_LIMITS_H

#define TF_MAX_QUEUES	256	/* MAX_TAP_QUEUES in drivers/net/tun.c */

#endif
