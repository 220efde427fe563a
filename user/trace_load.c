// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Loading tracing: the backend ladder. The first `trace start` probes the
 * attach backends (fentry, kprobe, BTF tracepoints, in that order, as this
 * kernel allows), loads one, and pins its links and maps under
 * TF_TRACE_PIN_DIR so tracing outlives the command. Nothing half-loaded is
 * left behind when a rung fails; why it failed is kept for the message.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "tapflow.h"
#include "tf_trace.h"
#include "log.h"
#include "trace.skel.h"

#include "trace_int.h"
#include "trace_rx.h"
#include "rung_table.h"

/*
 * The rungs, from the skeleton's programs: which backend each program of
 * bpf/trace.bpf.c belongs to. On the tracepoint rung, rx runs in tc_rx,
 * linked to each traced tap's ingress (trace_rx.c), where the kernel has
 * tcx (RX_TCX); the two global rx tracepoints take its place where not
 * (RX_TP). Rows name skel->progs members, so renaming or removing a
 * program fails to compile here; a program added to the object without a
 * row stops the load with an error naming it, never a silent choice of
 * rung.
 */
enum { RX_ANY = 0, RX_TCX = 1, RX_TP = 2 };

#define RUNG_PROGS 32

static size_t rung_table(const struct trace *skel, struct rung_prog t[RUNG_PROGS])
{
#define ROW(name, rung) { skel->progs.name, rung, RX_ANY }
#define RXROW(name, rx) { skel->progs.name, TF_BACKEND_TRACEPOINT, rx }
	const struct rung_prog rows[] = {
		ROW(fentry_tun_net_xmit, TF_BACKEND_FENTRY),
		ROW(fexit_tun_net_xmit, TF_BACKEND_FENTRY),
		ROW(fentry_tun_get_user, TF_BACKEND_FENTRY),
		ROW(fexit_tun_get_user, TF_BACKEND_FENTRY),
		ROW(fentry_tun_xdp_xmit, TF_BACKEND_FENTRY),
		ROW(fexit_tun_xdp_xmit, TF_BACKEND_FENTRY),
		ROW(fexit_tun_do_read, TF_BACKEND_FENTRY),
		ROW(fentry___tun_detach, TF_BACKEND_FENTRY),
		ROW(fentry_tun_sendmsg, TF_BACKEND_FENTRY),
		ROW(kprobe_tun_net_xmit, TF_BACKEND_KPROBE),
		ROW(kretprobe_tun_net_xmit, TF_BACKEND_KPROBE),
		ROW(kprobe_tun_get_user, TF_BACKEND_KPROBE),
		ROW(kretprobe_tun_get_user, TF_BACKEND_KPROBE),
		ROW(kprobe_tun_xdp_xmit, TF_BACKEND_KPROBE),
		ROW(kretprobe_tun_xdp_xmit, TF_BACKEND_KPROBE),
		ROW(kprobe_tun_do_read, TF_BACKEND_KPROBE),
		ROW(kretprobe_tun_do_read, TF_BACKEND_KPROBE),
		ROW(kprobe___tun_detach, TF_BACKEND_KPROBE),
		ROW(kprobe_tun_sendmsg, TF_BACKEND_KPROBE),
		ROW(tp_net_dev_start_xmit, TF_BACKEND_TRACEPOINT),
		ROW(tp_net_dev_xmit, TF_BACKEND_TRACEPOINT),
		ROW(tp_skb_copy_datagram_iovec, TF_BACKEND_TRACEPOINT),
		ROW(tp_xdp_devmap_xmit, TF_BACKEND_TRACEPOINT),
		RXROW(tc_rx, RX_TCX),
		RXROW(tp_netif_receive_skb_entry, RX_TP),
		RXROW(tp_netif_rx_entry, RX_TP),
	};
#undef ROW
#undef RXROW
	_Static_assert(sizeof(rows) / sizeof(rows[0]) <= RUNG_PROGS, "RUNG_PROGS is too small");

	memcpy(t, rows, sizeof(rows));
	return ARRAY_SIZE(rows);
}

/* A program of every rx variant, or of the one chosen (tcx or not). */
static bool rx_wanted(int rx, const void *tcx)
{
	return rx == RX_ANY || rx == (*(const bool *)tcx ? RX_TCX : RX_TP);
}

/*
 * Switch on the programs of `backend` (of its rx variant: tcx or not);
 * -ENOENT for one in no row.
 */
static int select_rung(struct trace *skel, int backend, bool tcx, char *why, size_t whylen)
{
	struct rung_prog rows[RUNG_PROGS];
	size_t n = rung_table(skel, rows);

	return tf_rung_select(skel->obj, rows, n, backend, rx_wanted, &tcx, "user/trace_load.c",
			      why, whylen);
}

/* Linked per traced tap (trace_rx_attach), not attached with the rung. */
static bool per_tap(const struct trace *skel, const struct bpf_program *prog)
{
	return prog == skel->progs.tc_rx;
}

static int trace_size_maps(struct trace *skel);

/*
 * tun's types in vmlinux's BTF (tun built in, not a module) and
 * bpf_rdonly_cast (v6.2) in the kernel.
 */
bool trace_tun_cast_ok(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool ok;

	if (!btf)
		return false;
	ok = btf__find_by_name_kind(btf, "tun_file", BTF_KIND_STRUCT) > 0 &&
	     btf__find_by_name_kind(btf, "bpf_rdonly_cast", BTF_KIND_FUNC) > 0;
	btf__free(btf);
	return ok;
}

/*
 * Load, attach and pin one backend. On failure nothing is left behind,
 * why[] says what failed and *refused whether it was the kernel refusing
 * the load or an attach.
 */
static int load_rung(int backend, char *why, size_t whylen, bool *refused)
{
	struct bpf_link *links[32] = {};
	bool tcx = backend == TF_BACKEND_TRACEPOINT && trace_have_tcx();
	struct tf_trace_meta m = { .backend = backend, .version = TF_TRACE_LAYOUT,
				   .rx_ns = backend != TF_BACKEND_TRACEPOINT,
				   .flags = tcx ? TF_META_RX_TCX : 0 };
	struct bpf_program *prog;
	struct trace *skel;
	char path[128];
	int nlinks = 0, err, i;
	uint32_t zero = 0;
	/*
	 * Direct loads and the device cache (bpf/trace.bpf.c): only the
	 * tracepoint rung is measured with them (the others run on module tun).
	 */
	bool cast = backend == TF_BACKEND_TRACEPOINT && trace_tun_cast_ok();

again:
	skel = trace__open();
	if (!skel) {
		snprintf(why, whylen, "cannot open the BPF object: %s", strerror(errno));
		return -errno;
	}
	err = select_rung(skel, backend, tcx, why, whylen);
	if (err)
		goto out;
	err = trace_size_maps(skel);
	if (err) {
		snprintf(why, whylen, "%s", tf_errmsg());
		goto out;
	}
	skel->rodata->tun_cast = cast;
	skel->rodata->dev_cache_on = cast;
	err = trace__load(skel);
	if (err && cast) {
		/* a verifier that takes the casts' types but not the loads: the helper path */
		pr_info("trace: direct loads of tun's fields or the device cache refused (%s): "
			"probe reads and hash lookups instead",
			strerror(-err));
		trace__destroy(skel);
		cast = false;
		goto again;
	}
	if (err) {
		snprintf(why, whylen, "the kernel refused to load it (%s)", strerror(-err));
		*refused = true;
		goto out;
	}
	bpf_object__for_each_program(prog, skel->obj) {
		if (!bpf_program__autoload(prog) || per_tap(skel, prog))
			continue;
		if (nlinks >= (int)ARRAY_SIZE(links)) {
			err = -E2BIG;
			goto out;
		}
		links[nlinks] = bpf_program__attach(prog);
		if (!links[nlinks]) {
			err = -errno;
			snprintf(why, whylen, "attaching %s failed (%s)",
				 bpf_program__section_name(prog), strerror(errno));
			*refused = true;
			goto out;
		}
		nlinks++;
	}
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.meta), &zero, &m, BPF_ANY)) {
		err = -errno;
		snprintf(why, whylen, "writing metadata failed (%s)", strerror(errno));
		goto out;
	}
	/* meta last, and staged: the start commits it once its taps are in */
	for (i = 0; i < PIN_MAPS_N; i++) {
		struct bpf_map *map = bpf_object__find_map_by_name(skel->obj, trace_pin_maps[i]);

		if (!strcmp(trace_pin_maps[i], "meta"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", TF_TRACE_PIN_DIR, trace_pin_maps[i]);
		err = map ? bpf_map__pin(map, path) : -ENOENT;
		if (err) {
			snprintf(why, whylen, "pinning %s failed (%s)", path, strerror(-err));
			goto out_unpin;
		}
	}
	i = 0;
	bpf_object__for_each_program(prog, skel->obj) {
		if (!bpf_program__autoload(prog))
			continue;
		if (per_tap(skel, prog)) {
			snprintf(path, sizeof(path), "%s/%s", TF_TRACE_PIN_DIR, TF_TRACE_RX_PROG);
			err = bpf_program__pin(prog, path);
			if (err) {
				snprintf(why, whylen, "pinning %s failed (%s)", path, strerror(-err));
				goto out_unpin;
			}
			continue;
		}
		snprintf(path, sizeof(path), "%s/link_%s", TF_TRACE_PIN_DIR, bpf_program__name(prog));
		err = bpf_link__pin(links[i], path);
		if (err) {
			snprintf(why, whylen, "pinning %s failed (%s)", path, strerror(-err));
			goto out_unpin;
		}
		i++;
	}
	snprintf(path, sizeof(path), "%s/%s", TF_TRACE_PIN_DIR, TRACE_META_STAGED);
	err = bpf_map__pin(skel->maps.meta, path);
	if (err) {
		snprintf(why, whylen, "pinning %s failed (%s)", path, strerror(-err));
		goto out_unpin;
	}
	/* The pins hold the links now; closing our fds must not detach. */
	for (i = 0; i < nlinks; i++) {
		bpf_link__disconnect(links[i]);
		bpf_link__destroy(links[i]);
	}
	trace__destroy(skel);
	return 0;

out_unpin:
	trace_unpin_all();
out:
	for (i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	trace__destroy(skel);
	return err ? err : -EINVAL;
}

/*
 * How many rows the session has: the defaults, or TAPFLOW_TRACE_ROWS and
 * TAPFLOW_TRACE_EXTRA at the first start (what a host with more queues,
 * or a test of the limits, asks for). Fixed for the session: the maps are
 * preallocated, per-CPU ones once per CPU.
 */
static int env_count(const char *name, unsigned int def, unsigned int lo, unsigned int hi,
		     unsigned int *out)
{
	const char *v = getenv(name);
	char *end;
	unsigned long n;

	*out = def;
	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n < lo || n > hi)
		return tf_err(-EINVAL, "%s=%s: not a count from %u to %u", name, v, lo, hi);
	*out = n;
	return 0;
}

static int trace_size_maps(struct trace *skel)
{
	unsigned int rows, extra;
	int err;

	err = env_count("TAPFLOW_TRACE_ROWS", TF_TRACE_ROWS, 1, 1u << 20, &rows);
	if (!err)
		err = env_count("TAPFLOW_TRACE_EXTRA", TF_TRACE_EXTRA, 1, 1u << 16, &extra);
	if (err)
		return err;
	if (bpf_map__set_max_entries(skel->maps.qcount, TF_TRACE_MAX_TAPS + rows) ||
	    bpf_map__set_max_entries(skel->maps.hists, TF_TRACE_MAX_TAPS + rows) ||
	    bpf_map__set_max_entries(skel->maps.qextra, extra) ||
	    bpf_map__set_max_entries(skel->maps.hextra, extra))
		return tf_err(-EINVAL, "cannot size the tracing maps");
	return 0;
}

/* Try the rungs allowed by req, best first. */
int trace_load_ladder(int req, int *chosen)
{
	static const int order[] = { TF_BACKEND_FENTRY, TF_BACKEND_KPROBE, TF_BACKEND_TRACEPOINT };
	char why[3][400] = { "", "", "" };
	bool refused = true;	/* by the kernel, on every rung tried */
	int err = -EINVAL;

	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		bool kernel = false;

		if (req && req != order[i])
			continue;
		err = load_rung(order[i], why[i], sizeof(why[i]), &kernel);
		if (!err) {
			*chosen = order[i];
			return 0;
		}
		refused &= kernel;
		pr_info("trace: %s backend unavailable: %s", tf_backend_name(order[i]), why[i]);
	}
	if (req)
		return (refused ? tf_err_bpf : tf_err)(err, "the %s backend cannot run here: %s",
						       tf_backend_name(req), why[req - 1]);
	return (refused ? tf_err_bpf : tf_err)(err, "no tracing backend could run: fentry: %s; "
					       "kprobe: %s; tracepoint: %s", why[0], why[1], why[2]);
}
