// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The tracepoint rung's rx side, per traced tap. netif_receive_skb_entry
 * and netif_rx_entry fire for every frame any device receives; a tcx
 * ingress link (v6.6+) on the traced tap runs for that tap's frames only,
 * and beside whatever else the tap's ingress holds (tc qdiscs and filters,
 * other tcx programs, libvirt's <bandwidth> policing). The program is
 * loaded and pinned with the rung (TF_TRACE_RX_PROG); each `trace start`
 * links it to its taps, each link pinned by the tap's slot so `trace stop`
 * (and a reclaimed slot) unpins it, which detaches it. A deleted tap takes
 * its attachment with it; the pin goes with the slot.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "tapflow.h"
#include "tf_trace.h"
#include "log.h"
#include "trace_rx.h"

#ifndef BPF_TCX_INGRESS
#define BPF_TCX_INGRESS 46	/* enum bpf_attach_type, v6.6: not in older uapi headers */
#endif

bool trace_have_tcx(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	const struct btf_enum *e;
	const struct btf_type *t;
	bool found = false;
	int id;

	if (!btf)
		return false;
	id = btf__find_by_name_kind(btf, "bpf_attach_type", BTF_KIND_ENUM);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	e = t ? btf_enum(t) : NULL;
	for (int i = 0; e && i < btf_vlen(t) && !found; i++)
		found = !strcmp(btf__name_by_offset(btf, e[i].name_off), "BPF_TCX_INGRESS");
	btf__free(btf);
	return found;
}

static void slot_pin(char *buf, size_t len, uint32_t slot)
{
	snprintf(buf, len, "%s/rx_slot%u", TF_TRACE_PIN_DIR, slot);
}

int trace_rx_attach(uint32_t slot, int ifindex, const char *name)
{
	LIBBPF_OPTS(bpf_link_create_opts, o);
	char path[256];
	int prog, link, err = 0;

	snprintf(path, sizeof(path), "%s/%s", TF_TRACE_PIN_DIR, TF_TRACE_RX_PROG);
	prog = bpf_obj_get(path);
	if (prog < 0)
		return errno == ENOENT ? 0 : tf_err(-errno, "cannot open %s: %s", path, strerror(errno));
	link = bpf_link_create(prog, ifindex, BPF_TCX_INGRESS, &o);
	if (link < 0) {
		err = tf_err_bpf(-errno, "cannot attach rx tracing to %s's ingress (tcx): %s", name,
				 strerror(errno));
		goto out;
	}
	slot_pin(path, sizeof(path), slot);
	unlink(path);	/* a pin of a tap deleted since, on the same slot */
	if (bpf_obj_pin(link, path))
		err = tf_err(-errno, "cannot pin %s: %s", path, strerror(errno));
	close(link);	/* the pin holds it; without one, closing detaches */
out:
	close(prog);
	return err;
}

void trace_rx_detach(uint32_t slot)
{
	char path[256];

	slot_pin(path, sizeof(path), slot);
	if (unlink(path) && errno != ENOENT)
		pr_warn("cannot remove %s: %s", path, strerror(errno));
}
