/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Rx counting per traced tap on the tracepoint rung (user/trace_rx.c): where
 * the kernel has tcx, rx runs on a tcx ingress link of each traced tap
 * instead of on global tracepoints every device's frames run.
 */
#ifndef TF_TRACE_RX_H
#define TF_TRACE_RX_H

#include <stdbool.h>
#include <stdint.h>

#define TF_TRACE_RX_PROG "prog_tc_rx"	/* pin of the program, when this rung uses it */

/* Does this kernel have tcx links (v6.6+)? */
bool trace_have_tcx(void);
/* Attach the pinned rx program to ifindex's ingress, pinned by slot; 0 when the rung has none. */
int trace_rx_attach(uint32_t slot, int ifindex, const char *name);
/* Detach (unpin) the slot's rx link, if it has one. */
void trace_rx_detach(uint32_t slot);

#endif
