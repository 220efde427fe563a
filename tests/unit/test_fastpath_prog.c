// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The fast path's decisions, frame by frame, through BPF_PROG_TEST_RUN: a
 * table of {crafted frame, ingress port, verdict, counter deltas, fdb
 * effect}. The programs run on private (unpinned) copies of the maps, in a
 * private network namespace, so nothing here touches the host's fast path.
 *
 *   test frame ─▶ bpf_prog_test_run(tf_fp_tap | tf_fp_uplink, ingress = lo)
 *                   └─▶ verdict + stats[row + 0] + fdb, compared
 *
 * The ingress "port" is the namespace's loopback device (a test run needs a
 * real ifindex and rx queue), recorded in "ports" by that ifindex with one
 * queue row at ROW_IN (the program finds its port by the frame's ingress
 * ifindex); redirect targets are two throw-away taps in slots 1 and 2 (a
 * DEVMAP entry needs a live device). Like user space, every change to the
 * fdb or a port made here bumps gen, or the programs' caches would not see it. An AF_XDP socket bound to lo queue 0
 * stands in for a user-space dataplane. Needs root; SKIPs otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/xsk.h>

#include "tapflow.h"
#include "fastpath.skel.h"
#include "tf_test.h"
#include "tf_frame.h"

#define LO		1
#define ARRAY_SIZE_T(a)	((int)(sizeof(a) / sizeof((a)[0])))
#define SLOT_IN		3	/* any slot: the fdb must follow it */
#define ROW_IN		40	/* any row, not the slot: stats and xsks keys must follow it */
#define ROW_OF(slot)	((slot) == SLOT_IN ? ROW_IN : (slot) * 2)

static const uint8_t MAC_A[6] = { 0x02, 0, 0, 0, 0x0a, 0x01 };	/* behind lo (learned) */
static const uint8_t MAC_B[6] = { 0x02, 0, 0, 0, 0x0b, 0x01 };	/* tap B */
static const uint8_t MAC_U[6] = { 0x02, 0, 0, 0, 0x0c, 0x01 };	/* behind the "uplink" */
static const uint8_t MAC_S[6] = { 0x02, 0, 0, 0, 0x0d, 0x01 };	/* static on tap B */
static const uint8_t MAC_X[6] = { 0x02, 0, 0, 0, 0x0e, 0x01 };	/* unknown */
static const uint8_t MAC_N[6] = { 0x02, 0, 0, 0, 0x0f, 0x01 };	/* new, from the uplink */
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t MCAST[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };

struct env {
	struct fastpath *skel;
	int tapb_fd, tapu_fd;
	int tapb, tapu;		/* ifindexes */
	struct xsk_socket *xsk;
	struct xsk_umem *umem;
	void *umem_area;
	struct xsk_ring_prod fq;
	struct xsk_ring_cons cq, rx;
};

static struct env E;
static const char *env_err;

/* ---- environment ----------------------------------------------------------------- */

static int tap_open(const char *name, int *ifindex)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		close(fd);
		return -1;
	}
	*ifindex = if_nametoindex(name);
	return fd;
}

static int xsk_on_lo(void)
{
	struct xsk_socket_config cfg = {
		.rx_size = 64, .tx_size = 64,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = XDP_COPY,
	};
	size_t sz = 64 * 4096;

	E.umem_area = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (E.umem_area == MAP_FAILED)
		return -errno;
	if (xsk_umem__create(&E.umem, E.umem_area, sz, &E.fq, &E.cq, NULL))
		return -1;
	if (xsk_socket__create(&E.xsk, "lo", 0, E.umem, &E.rx, NULL, &cfg))
		return -1;
	return 0;
}

static uint64_t get_gen(void)
{
	uint64_t g = 0;
	__u32 zero = 0;

	bpf_map_lookup_elem(bpf_map__fd(E.skel->maps.gen), &zero, &g);
	return g;
}

static void bump_gen(void)
{
	uint64_t g = get_gen() + 1;
	__u32 zero = 0;

	bpf_map_update_elem(bpf_map__fd(E.skel->maps.gen), &zero, &g, BPF_ANY);
}

static uint32_t slot_of(int ifindex)
{
	return ifindex == E.tapb ? 1 : ifindex == E.tapu ? 2 : SLOT_IN;
}

static int put_port(int ifindex, uint32_t slot, uint32_t kind, const struct tf_fp_rule *rules, int n)
{
	struct tf_fp_port p = { .slot = slot, .kind = kind, .nrules = n, .row = ROW_OF(slot),
				.nrows = 1 };
	__u32 k = ifindex;
	int err;

	for (int i = 0; i < n; i++)
		p.rules[i] = rules[i];
	err = bpf_map_update_elem(bpf_map__fd(E.skel->maps.ports), &k, &p, BPF_ANY);
	bump_gen();
	return err;
}

/* Without bumping gen: what a writer that forgot to would do. */
static int put_fdb_quiet(const uint8_t *mac, int ifindex, uint32_t flags)
{
	struct tf_fp_fdb_key k = { 0 };
	struct tf_fp_fdb v = { .ifindex = ifindex, .flags = flags, .slot = slot_of(ifindex) };

	memcpy(k.mac, mac, 6);
	return bpf_map_update_elem(bpf_map__fd(E.skel->maps.fdb), &k, &v, BPF_ANY);
}

static int put_fdb(const uint8_t *mac, int ifindex, uint32_t flags)
{
	int err = put_fdb_quiet(mac, ifindex, flags);

	bump_gen();
	return err;
}

static int get_fdb(const uint8_t *mac, struct tf_fp_fdb *v)
{
	struct tf_fp_fdb_key k = { 0 };

	memcpy(k.mac, mac, 6);
	return bpf_map_lookup_elem(bpf_map__fd(E.skel->maps.fdb), &k, v);
}

static void env_setup(void)
{
	static bool done;
	struct bpf_map *m;
	__u32 k, v;

	if (done)
		return;
	done = true;
	if (geteuid() != 0) {
		env_err = "needs root (BPF_PROG_TEST_RUN, a private netns)";
		return;
	}
	if (unshare(CLONE_NEWNET)) {
		env_err = "unshare(CLONE_NEWNET) failed";
		return;
	}
	tf_libbpf_quiet();
	E.skel = fastpath__open();
	if (!E.skel) {
		env_err = "cannot open the fastpath object";
		return;
	}
	bpf_object__for_each_map(m, E.skel->obj)
		bpf_map__set_pin_path(m, NULL);	/* private maps, never the pinned ones */
	if (fastpath__load(E.skel)) {
		env_err = "cannot load the fastpath object";
		return;
	}
	E.tapb_fd = tap_open("tfub", &E.tapb);
	E.tapu_fd = tap_open("tfuu", &E.tapu);
	if (E.tapb_fd < 0 || E.tapu_fd < 0) {
		env_err = "cannot create the target taps";
		return;
	}
	k = 1, v = E.tapb;
	bpf_map_update_elem(bpf_map__fd(E.skel->maps.tx_ports), &k, &v, BPF_ANY);
	k = 2, v = E.tapu;
	bpf_map_update_elem(bpf_map__fd(E.skel->maps.tx_ports), &k, &v, BPF_ANY);
	put_port(E.tapb, 1, TF_FP_PORT_TAP, NULL, 0);
	put_port(E.tapu, 2, TF_FP_PORT_UPLINK, NULL, 0);
}

/* env_setup() with an AF_XDP socket on lo's queue 0: NULL, or why to skip. */
static const char *env_with_xsk(void)
{
	env_setup();
	if (env_err)
		return env_err;
	if (!E.xsk && xsk_on_lo())
		return "cannot bind an AF_XDP socket to lo queue 0";
	return NULL;
}

/* ---- running a frame ----------------------------------------------------------------- */

/* Where run() says the frame came from, and the stats row it compares. */
static int run_ifindex = LO;
static __u32 run_key = ROW_IN;

static int run(struct bpf_program *prog, const struct tf_frame *f, struct tf_fp_qstats *delta)
{
	int ncpu = libbpf_num_possible_cpus(), stride = (sizeof(struct tf_fp_qstats) + 7) & ~7;
	struct xdp_md ctx = { .ingress_ifindex = run_ifindex, .rx_queue_index = 0 };
	uint8_t frame[F_MAX], out[F_MAX];
	char before[stride * ncpu], after[stride * ncpu];
	int fd = bpf_map__fd(E.skel->maps.stats);
	__u32 key = run_key;
	LIBBPF_OPTS(bpf_test_run_opts, o,
		.data_in = frame, .data_out = out, .data_size_out = sizeof(out),
		.ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
	uint64_t *b = (void *)before, *a = (void *)after, *d = (void *)delta;

	o.data_size_in = tf_frame_build(f, frame);
	if (o.data_size_in > F_MAX)
		return -E2BIG;
	ctx.data_end = o.data_size_in;	/* the kernel takes the frame's end from ctx */
	memset(before, 0, sizeof(before));
	bpf_map_lookup_elem(fd, &key, before);
	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &o))
		return -errno;
	bpf_map_lookup_elem(fd, &key, after);
	memset(delta, 0, sizeof(*delta));
	for (int c = 0; c < ncpu; c++) {
		b = (void *)(before + c * stride);
		a = (void *)(after + c * stride);
		for (size_t i = 0; i < sizeof(*delta) / 8; i++)
			d[i] += a[i] - b[i];
	}
	return o.retval;
}

/* ---- the table -------------------------------------------------------------------------- */

struct tcase {
	const char *name;
	bool uplink;		/* run tf_fp_uplink (lo is an uplink port) */
	struct tf_frame f;
	int verdict;
	int action;		/* enum tf_fp_action counted once, -1: none */
	int xsk_miss;
};

static void run_table(const struct tcase *t, int n)
{
	for (int i = 0; i < n; i++) {
		struct tf_fp_qstats d;
		int r;

		r = run(t[i].uplink ? E.skel->progs.tf_fp_uplink : E.skel->progs.tf_fp_tap, &t[i].f, &d);
		ASSERT_EQ(r, t[i].verdict, t[i].name);
		for (int a = 0; a < TF_FP_ACT__MAX; a++)
			ASSERT_EQ(d.packets[a], a == t[i].action ? 1 : 0, t[i].name);
		if (t[i].action >= 0) {
			uint8_t tmp[F_MAX];

			ASSERT_EQ(d.bytes[t[i].action], tf_frame_build(&t[i].f, tmp), t[i].name);
		}
		ASSERT_EQ(d.xsk_miss, t[i].xsk_miss, t[i].name);
	}
}

#define UDP4(d, s, port) { .dst = (d), .src = (s), .family = 4, .ipproto = IPPROTO_UDP, .dport = (port) }

static void test_tap_forwarding(void)
{
	static const struct tcase t[] = {
		{ "to tap B", false, UDP4(MAC_B, MAC_A, 9), XDP_REDIRECT, TF_FP_REDIRECT_TAP, 0 },
		{ "to uplink", false, UDP4(MAC_U, MAC_A, 9), XDP_REDIRECT, TF_FP_REDIRECT_UPLINK, 0 },
		{ "static on B", false, UDP4(MAC_S, MAC_A, 9), XDP_REDIRECT, TF_FP_REDIRECT_TAP, 0 },
		{ "broadcast", false, UDP4(BCAST, MAC_A, 9), XDP_PASS, TF_FP_PASS, 0 },
		{ "multicast", false, UDP4(MCAST, MAC_A, 9), XDP_PASS, TF_FP_PASS, 0 },
		{ "unknown unicast", false, UDP4(MAC_X, MAC_A, 9), XDP_PASS, TF_FP_PASS, 0 },
		{ "arp", false, { .dst = BCAST, .src = MAC_A, .ethertype = 0x0806 }, XDP_PASS, TF_FP_PASS, 0 },
		{ "hairpin to self", false, UDP4(MAC_A, MAC_B, 9), XDP_PASS, TF_FP_PASS, 0 },
	};
	struct tf_fp_fdb v;

	env_setup();
	if (env_err)
		TEST_SKIP(env_err);
	ASSERT_OK(put_port(LO, SLOT_IN, TF_FP_PORT_TAP, NULL, 0), "port");
	put_fdb(MAC_B, E.tapb, TF_FP_FDB_LEARNED);
	put_fdb(MAC_U, E.tapu, TF_FP_FDB_STATIC | TF_FP_FDB_UPLINK);
	put_fdb(MAC_S, E.tapb, TF_FP_FDB_STATIC);
	run_table(t, 7);
	/* MAC_A was learned on lo by the first frame: a frame to it stays. */
	ASSERT_OK(get_fdb(MAC_A, &v), "A learned");
	ASSERT_EQ(v.ifindex, LO, "A on lo");
	ASSERT_EQ(v.slot, SLOT_IN, "A in lo's slot");
	ASSERT_EQ(v.flags, TF_FP_FDB_LEARNED, "A learned flag");
	/* the hairpin frame comes "from B's MAC" on lo: B's learned entry moves */
	run_table(&t[7], 1);
	ASSERT_OK(get_fdb(MAC_B, &v), "B");
	ASSERT_EQ(v.ifindex, LO, "learned entry moved to lo");
	put_fdb(MAC_B, E.tapb, TF_FP_FDB_LEARNED);
}

static void test_learning(void)
{
	struct tf_frame from_s = UDP4(BCAST, MAC_S, 9), from_c = UDP4(BCAST, MAC_X, 9);
	struct tf_frame from_m = UDP4(BCAST, MCAST, 9), from_n = UDP4(BCAST, MAC_N, 9);
	struct tf_fp_fdb_key k = { 0 };
	struct tf_fp_qstats d;
	struct tf_fp_fdb v;
	uint64_t g;

	env_setup();
	if (env_err)
		TEST_SKIP(env_err);
	ASSERT_OK(put_port(LO, SLOT_IN, TF_FP_PORT_TAP, NULL, 0), "port");
	put_fdb(MAC_S, E.tapb, TF_FP_FDB_STATIC);
	run(E.skel->progs.tf_fp_tap, &from_s, &d);
	ASSERT_OK(get_fdb(MAC_S, &v), "static kept");
	ASSERT_EQ(v.ifindex, E.tapb, "static not relearned");
	ASSERT_EQ(d.learned, 0, "no learning over static");
	g = get_gen();
	run(E.skel->progs.tf_fp_tap, &from_c, &d);
	ASSERT_EQ(d.learned, 1, "new MAC learned");
	ASSERT_EQ(get_gen(), g + 1, "learning bumps gen");
	run(E.skel->progs.tf_fp_tap, &from_c, &d);
	ASSERT_EQ(d.learned, 0, "known MAC: no write");
	ASSERT_EQ(get_gen(), g + 1, "nothing learned: gen stands");
	run(E.skel->progs.tf_fp_tap, &from_m, &d);
	ASSERT_EQ(d.learned, 0, "multicast source not learned");
	ASSERT_ERR(get_fdb(MCAST, &v), "no multicast entry");
	/* the uplink program never learns */
	ASSERT_OK(put_port(LO, SLOT_IN, TF_FP_PORT_UPLINK, NULL, 0), "uplink port");
	run(E.skel->progs.tf_fp_uplink, &from_n, &d);
	ASSERT_EQ(d.learned, 0, "uplink does not learn");
	ASSERT_ERR(get_fdb(MAC_N, &v), "no entry from the uplink");
	memcpy(k.mac, MAC_X, 6);
	bpf_map_delete_elem(bpf_map__fd(E.skel->maps.fdb), &k);	/* unknown again */
	bump_gen();
}

/*
 * The per-CPU cache of fdb answers: trusted while gen stands, dropped when
 * it moves. test_run runs on the calling CPU, so pin there first.
 */
static void test_cache(void)
{
	struct tf_frame to_n = UDP4(MAC_N, MAC_A, 9);
	struct tf_fp_fdb_key k = { 0 };
	struct tf_fp_qstats d;
	cpu_set_t cpus;

	env_setup();
	if (env_err)
		TEST_SKIP(env_err);
	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	ASSERT_OK(put_port(LO, SLOT_IN, TF_FP_PORT_TAP, NULL, 0), "port");
	ASSERT_EQ(run(E.skel->progs.tf_fp_tap, &to_n, &d), XDP_PASS, "unknown: passes");
	/* an entry added without bumping gen is not seen: the cached miss stands */
	put_fdb_quiet(MAC_N, E.tapb, TF_FP_FDB_STATIC);
	ASSERT_EQ(run(E.skel->progs.tf_fp_tap, &to_n, &d), XDP_PASS, "cached miss");
	bump_gen();
	ASSERT_EQ(run(E.skel->progs.tf_fp_tap, &to_n, &d), XDP_REDIRECT, "gen moved: entry seen");
	ASSERT_EQ(d.packets[TF_FP_REDIRECT_TAP], 1, "counted as a redirect");
	/* moved to the uplink: followed once gen moves */
	put_fdb(MAC_N, E.tapu, TF_FP_FDB_STATIC | TF_FP_FDB_UPLINK);
	run(E.skel->progs.tf_fp_tap, &to_n, &d);
	ASSERT_EQ(d.packets[TF_FP_REDIRECT_UPLINK], 1, "follows the move");
	memcpy(k.mac, MAC_N, 6);
	bpf_map_delete_elem(bpf_map__fd(E.skel->maps.fdb), &k);
	bump_gen();
	ASSERT_EQ(run(E.skel->progs.tf_fp_tap, &to_n, &d), XDP_PASS, "deleted: passes again");
}

static void test_uplink(void)
{
	static const struct tcase t[] = {
		{ "uplink to tap", true, UDP4(MAC_B, MAC_X, 9), XDP_REDIRECT, TF_FP_REDIRECT_TAP, 0 },
		{ "uplink to uplink MAC", true, UDP4(MAC_U, MAC_X, 9), XDP_PASS, TF_FP_PASS, 0 },
		{ "uplink broadcast", true, UDP4(BCAST, MAC_X, 9), XDP_PASS, TF_FP_PASS, 0 },
		{ "uplink unknown", true, UDP4(MAC_X, MAC_B, 9), XDP_PASS, TF_FP_PASS, 0 },
	};

	env_setup();
	if (env_err)
		TEST_SKIP(env_err);
	ASSERT_OK(put_port(LO, SLOT_IN, TF_FP_PORT_UPLINK, NULL, 0), "uplink port");
	put_fdb(MAC_B, E.tapb, TF_FP_FDB_LEARNED);
	put_fdb(MAC_U, E.tapu, TF_FP_FDB_STATIC | TF_FP_FDB_UPLINK);
	run_table(t, ARRAY_SIZE_T(t));
}

static void test_not_a_port(void)
{
	struct tf_frame f = UDP4(MAC_B, MAC_A, 9);
	struct tf_fp_qstats d;
	__u32 k = LO;

	env_setup();
	if (env_err)
		TEST_SKIP(env_err);
	/* the device is now an uplink: the tap program left on it is a leftover */
	put_port(LO, SLOT_IN, TF_FP_PORT_UPLINK, NULL, 0);
	ASSERT_EQ(run(E.skel->progs.tf_fp_tap, &f, &d), XDP_PASS, "port of the other kind: passes");
	ASSERT_EQ(d.packets[TF_FP_PASS], 0, "and is not counted");
	bpf_map_delete_elem(bpf_map__fd(E.skel->maps.ports), &k);
	bump_gen();
	ASSERT_EQ(run(E.skel->progs.tf_fp_tap, &f, &d), XDP_PASS, "not a port: passes");
	ASSERT_EQ(d.packets[TF_FP_PASS], 0, "and is not counted");
}

/*
 * One copy serves every port: the same program, fed frames of one source
 * MAC from lo and then from tap B (the same CPU, so the same per-CPU
 * cache), learns the MAC on each port in turn, counts each frame in the
 * row of the port it came in on, and keeps the slot of that port.
 */
static void test_one_copy_two_ports(void)
{
	struct tf_frame f = UDP4(MAC_X, MAC_N, 9);
	struct tf_fp_qstats d;
	struct tf_fp_fdb v;

	env_setup();
	if (env_err)
		TEST_SKIP(env_err);
	ASSERT_OK(put_port(LO, SLOT_IN, TF_FP_PORT_TAP, NULL, 0), "port lo");
	ASSERT_EQ(run(E.skel->progs.tf_fp_tap, &f, &d), XDP_PASS, "from lo");
	ASSERT_EQ(d.learned, 1, "learned on lo");
	ASSERT_OK(get_fdb(MAC_N, &v), "N");
	ASSERT_EQ(v.ifindex, LO, "N on lo");
	run_ifindex = E.tapb;
	run_key = ROW_OF(1);
	ASSERT_EQ(run(E.skel->progs.tf_fp_tap, &f, &d), XDP_PASS, "from B");
	ASSERT_EQ(d.packets[TF_FP_PASS], 1, "counted in B's row");
	ASSERT_EQ(d.learned, 1, "learned again on B, past the cached answer of lo");
	ASSERT_OK(get_fdb(MAC_N, &v), "N");
	ASSERT_EQ(v.ifindex, E.tapb, "N moved to B");
	ASSERT_EQ(v.slot, 1, "in B's slot");
	run_ifindex = LO;
	run_key = ROW_IN;
	ASSERT_EQ(run(E.skel->progs.tf_fp_tap, &f, &d), XDP_PASS, "from lo again");
	ASSERT_EQ(d.learned, 1, "and back on lo");
}

/*
 * A queue past the port's rows (here: a port given none) counts in the
 * spill row right after them, and never reaches a socket, even one that
 * sits at that key: the spill row is no queue's.
 */
static void test_spill_row(void)
{
	static const struct tf_fp_rule all = { .kind = TF_FP_RULE_ALL };
	struct tf_fp_port p = { .slot = SLOT_IN, .kind = TF_FP_PORT_TAP, .nrules = 1,
				.row = ROW_IN + 4, .nrows = 0, .rules = { all } };
	struct tf_frame f = UDP4(BCAST, MAC_A, 9);
	struct tf_fp_qstats d;
	__u32 k = LO, key = ROW_IN + 4;
	const char *why;
	int fd;

	why = env_with_xsk();
	if (why)
		TEST_SKIP(why);
	fd = xsk_socket__fd(E.xsk);
	ASSERT_OK(bpf_map_update_elem(bpf_map__fd(E.skel->maps.xsks), &key, &fd, BPF_ANY), "xskmap");
	ASSERT_OK(bpf_map_update_elem(bpf_map__fd(E.skel->maps.ports), &k, &p, BPF_ANY), "port, no rows");
	bump_gen();
	run_key = key;
	ASSERT_EQ(run(E.skel->progs.tf_fp_tap, &f, &d), XDP_PASS, "queue 0 past the rows: passes");
	ASSERT_EQ(d.packets[TF_FP_PASS], 1, "counted in the spill row");
	ASSERT_EQ(d.packets[TF_FP_XSK], 0, "not to the socket at the spill key");
	ASSERT_EQ(d.xsk_miss, 1, "a rule matched with no socket: xsk_miss");
	run_key = ROW_IN;
	bpf_map_delete_elem(bpf_map__fd(E.skel->maps.xsks), &key);
	put_port(LO, SLOT_IN, TF_FP_PORT_TAP, NULL, 0);
}

static void test_xsk_rules(void)
{
	static const struct tf_fp_rule rules[] = {
		{ .kind = TF_FP_RULE_L4_DPORT, .ipproto = IPPROTO_UDP, .value = 4789 },
		{ .kind = TF_FP_RULE_ETHERTYPE, .value = 0x0806 },
		{ .kind = TF_FP_RULE_IPPROTO, .ipproto = IPPROTO_ICMP },
	};
	/* no socket in the slot: matching frames go on as if unmatched */
	static const struct tcase miss[] = {
		{ "udp 4789, no socket", false, UDP4(MAC_B, MAC_A, 4789), XDP_REDIRECT, TF_FP_REDIRECT_TAP, 1 },
		{ "arp, no socket", false, { .dst = BCAST, .src = MAC_A, .ethertype = 0x0806 }, XDP_PASS, TF_FP_PASS, 1 },
		{ "udp 53 unmatched", false, UDP4(BCAST, MAC_A, 53), XDP_PASS, TF_FP_PASS, 0 },
	};
	static const struct tcase hit[] = {
		{ "udp 4789", false, UDP4(MAC_B, MAC_A, 4789), XDP_REDIRECT, TF_FP_XSK, 0 },
		{ "udp 4789 in vlan", false, { .dst = MAC_B, .src = MAC_A, .family = 4, .tags = "q", .vid = 7,
					      .ipproto = IPPROTO_UDP, .dport = 4789 }, XDP_REDIRECT, TF_FP_XSK, 0 },
		{ "tcp 4789 unmatched", false, { .dst = BCAST, .src = MAC_A, .family = 4,
						 .ipproto = IPPROTO_TCP, .dport = 4789 }, XDP_PASS, TF_FP_PASS, 0 },
		{ "later fragment unmatched", false, { .dst = BCAST, .src = MAC_A, .family = 4,
						       .ipproto = IPPROTO_UDP, .dport = 4789, .frag_off = 100 },
		  XDP_PASS, TF_FP_PASS, 0 },
		{ "arp", false, { .dst = BCAST, .src = MAC_A, .ethertype = 0x0806 }, XDP_REDIRECT, TF_FP_XSK, 0 },
		{ "icmp", false, { .dst = MAC_X, .src = MAC_A, .family = 4, .ipproto = IPPROTO_ICMP },
		  XDP_REDIRECT, TF_FP_XSK, 0 },
		{ "udp 53 unmatched", false, UDP4(MAC_B, MAC_A, 53), XDP_REDIRECT, TF_FP_REDIRECT_TAP, 0 },
	};
	static const struct tf_fp_rule all = { .kind = TF_FP_RULE_ALL };
	static const struct tcase whole[] = {
		{ "whole tap: broadcast", false, UDP4(BCAST, MAC_A, 1), XDP_REDIRECT, TF_FP_XSK, 0 },
		{ "whole tap: to B", false, UDP4(MAC_B, MAC_A, 1), XDP_REDIRECT, TF_FP_XSK, 0 },
	};
	__u32 key = ROW_IN;
	int fd;

	env_setup();
	if (env_err)
		TEST_SKIP(env_err);
	ASSERT_OK(put_port(LO, SLOT_IN, TF_FP_PORT_TAP, rules, 3), "port with rules");
	put_fdb(MAC_B, E.tapb, TF_FP_FDB_LEARNED);
	run_table(miss, ARRAY_SIZE_T(miss));
	if (xsk_on_lo()) {
		TEST_SKIP("cannot bind an AF_XDP socket to lo queue 0");
	}
	fd = xsk_socket__fd(E.xsk);
	if (!ASSERT_OK(bpf_map_update_elem(bpf_map__fd(E.skel->maps.xsks), &key, &fd, BPF_ANY), "xskmap"))
		return;
	run_table(hit, ARRAY_SIZE_T(hit));
	ASSERT_OK(put_port(LO, SLOT_IN, TF_FP_PORT_TAP, &all, 1), "whole-tap rule");
	run_table(whole, ARRAY_SIZE_T(whole));
	put_port(LO, SLOT_IN, TF_FP_PORT_TAP, NULL, 0);
}

/*
 * The parser (bpf/parse.bpf.h) through the rules: each frame either matches
 * a rule and reaches the socket, or does not and goes on by its MAC (all are
 * broadcast: passed). Rules: UDP port 4789, IP protocol ICMPv6 (58) and
 * EtherType ARP. Every layer is also cut short, one frame each: what is
 * missing cannot match, and nothing past the end is read (the verifier
 * holds the program to it; the table holds it to the verdict).
 */
#define P_XSK(name, ...)  { name, false, { .dst = BCAST, .src = MAC_A, __VA_ARGS__ }, XDP_REDIRECT, TF_FP_XSK, 0 }
#define P_PASS(name, ...) { name, false, { .dst = BCAST, .src = MAC_A, __VA_ARGS__ }, XDP_PASS, TF_FP_PASS, 0 }
#define VX .ipproto = IPPROTO_UDP, .dport = 4789	/* what the port rule wants */

static const struct tcase parser_table[] = {
	/* VLAN tags: up to two, 802.1Q and 802.1ad, in any order */
	P_XSK("untagged udp 4789", .family = 4, VX),
	P_PASS("untagged udp 4790", .family = 4, .ipproto = IPPROTO_UDP, .dport = 4790),
	P_XSK("802.1Q udp 4789", .tags = "q", .vid = 7, .family = 4, VX),
	P_XSK("802.1ad udp 4789", .tags = "a", .vid = 7, .family = 4, VX),
	P_XSK("QinQ (802.1ad, 802.1Q) udp 4789", .tags = "aq", .vid = 7, .family = 4, VX),
	P_XSK("two 802.1Q udp 4789", .tags = "qq", .vid = 7, .family = 4, VX),
	P_XSK("QinQ arp (EtherType past two tags)", .tags = "aq", .ethertype = 0x0806),
	P_XSK("QinQ IPv6 udp 4789", .tags = "aq", .family = 6, VX),
	P_PASS("three tags: the third is not looked through", .tags = "aqq", .family = 4, VX),
	/* IPv4 */
	P_XSK("IPv4 options", .family = 4, .ip_opts = 3, VX),
	P_XSK("IPv4 first fragment (MF, offset 0): ports there", .family = 4, .frag_off = 0x2000, VX),
	P_PASS("IPv4 later fragment: no ports", .family = 4, .frag_off = 0x2000 | 185, VX),
	P_PASS("IPv4 last fragment: no ports", .family = 4, .frag_off = 185, VX),
	P_PASS("IPv4 IHL 4", .family = 4, .ihl = 4, VX),
	P_PASS("IPv4 EtherType, version 6", .family = 4, .version = 6, VX),
	/* IPv6 and its extension headers */
	P_XSK("IPv6 udp 4789", .family = 6, VX),
	P_PASS("IPv6 tcp 4789", .family = 6, .ipproto = IPPROTO_TCP, .dport = 4789),
	P_XSK("IPv6 hop-by-hop", .family = 6, .ext = "H", VX),
	P_XSK("IPv6 hop-by-hop, dest opts, routing, dest opts", .family = 6, .ext = "HDRD", VX),
	P_XSK("IPv6 destination options (16 bytes)", .family = 6, .ext = "D", VX),
	P_XSK("IPv6 first fragment: ports there", .family = 6, .ext = "F", VX),
	P_XSK("IPv6 hop-by-hop, first fragment, dest opts", .family = 6, .ext = "HFD", VX),
	P_PASS("IPv6 later fragment: no ports", .family = 6, .ext = "L", VX),
	P_XSK("IPv6 icmpv6 past hop-by-hop (protocol rule)", .family = 6, .ext = "H", .ipproto = 58),
	P_XSK("IPv6 icmpv6 later fragment (protocol rule)", .family = 6, .ext = "HL", .ipproto = 58),
	P_XSK("IPv6 six extension headers", .family = 6, .ext = "HDRDDD", VX),
	P_PASS("IPv6 seven extension headers: the walk stops", .family = 6, .ext = "HDRDDDD", VX),
	P_PASS("IPv6 EtherType, version 4", .family = 6, .version = 4, VX),
	/* cut short at every layer */
	P_PASS("Ethernet header only, IPv4 EtherType", .family = 4, VX, .len = F_ETH),
	P_PASS("VLAN tag cut short", .tags = "q", .family = 4, VX, .len = F_ETH + 2),
	P_PASS("second VLAN tag cut short", .tags = "aq", .family = 4, VX, .len = F_ETH + F_TAG + 2),
	P_PASS("IPv4 header cut short", .family = 4, VX, .len = F_ETH + F_IP4 - 1),
	P_PASS("IPv4 options cut short", .family = 4, .ip_opts = 3, VX, .len = F_ETH + F_IP4 + 8),
	P_PASS("IPv4 ports cut short", .family = 4, VX, .len = F_ETH + F_IP4 + 3),
	P_XSK("IPv4 ports, nothing after them", .family = 4, VX, .len = F_ETH + F_IP4 + 4),
	P_PASS("IPv6 header cut short", .family = 6, VX, .len = F_ETH + F_IP6 - 1),
	P_PASS("IPv6 extension header cut short", .family = 6, .ext = "H", VX, .len = F_ETH + F_IP6 + 1),
	P_PASS("IPv6 extension header body cut short", .family = 6, .ext = "D", VX,
	       .len = F_ETH + F_IP6 + F_DST - 1),
	P_PASS("IPv6 fragment header cut short", .family = 6, .ext = "F", VX,
	       .len = F_ETH + F_IP6 + F_FRAG - 1),
	P_PASS("IPv6 ports cut short", .family = 6, .ext = "H", VX, .len = F_ETH + F_IP6 + F_OPT + 3),
	P_XSK("IPv6 ports, nothing after them", .family = 6, .ext = "H", VX,
	      .len = F_ETH + F_IP6 + F_OPT + 4),
};

static void test_parser(void)
{
	static const struct tf_fp_rule rules[] = {
		{ .kind = TF_FP_RULE_L4_DPORT, .ipproto = IPPROTO_UDP, .value = 4789 },
		{ .kind = TF_FP_RULE_IPPROTO, .ipproto = 58 },
		{ .kind = TF_FP_RULE_ETHERTYPE, .value = 0x0806 },
	};
	/* where no rule needs the IP header, a cut-short one still matches */
	static const struct tf_fp_rule ipv4 = { .kind = TF_FP_RULE_ETHERTYPE, .value = 0x0800 };
	static const struct tcase by_type[] = {
		P_XSK("IPv4 header cut short, EtherType rule", .family = 4, VX, .len = F_ETH + 2),
		P_XSK("QinQ, IPv4 header cut short, EtherType rule", .tags = "aq", .family = 4,
		      VX, .len = F_ETH + 2 * F_TAG),
		P_PASS("IPv6, EtherType rule", .family = 6, VX),
	};
	/* by MAC, a frame cut short is forwarded like any other */
	static const struct tcase by_mac[] = {
		{ "cut short after the Ethernet header, to B", false,
		  { .dst = MAC_B, .src = MAC_A, .family = 4, VX, .len = F_ETH },
		  XDP_REDIRECT, TF_FP_REDIRECT_TAP, 0 },
		{ "IPv6 cut short in an extension header, to B", false,
		  { .dst = MAC_B, .src = MAC_A, .family = 6, .ext = "HD", VX, .len = F_ETH + F_IP6 + 12 },
		  XDP_REDIRECT, TF_FP_REDIRECT_TAP, 0 },
	};
	__u32 key = ROW_IN;
	const char *why;
	int fd;

	why = env_with_xsk();
	if (why)
		TEST_SKIP(why);
	fd = xsk_socket__fd(E.xsk);
	if (!ASSERT_OK(bpf_map_update_elem(bpf_map__fd(E.skel->maps.xsks), &key, &fd, BPF_ANY), "xskmap"))
		return;
	put_fdb(MAC_B, E.tapb, TF_FP_FDB_LEARNED);
	ASSERT_OK(put_port(LO, SLOT_IN, TF_FP_PORT_TAP, rules, ARRAY_SIZE_T(rules)), "port with rules");
	run_table(parser_table, ARRAY_SIZE_T(parser_table));
	run_table(by_mac, ARRAY_SIZE_T(by_mac));
	ASSERT_OK(put_port(LO, SLOT_IN, TF_FP_PORT_TAP, &ipv4, 1), "EtherType rule");
	run_table(by_type, ARRAY_SIZE_T(by_type));
	/* shorter than an Ethernet header: the kernel does not run the program */
	{
		struct tf_frame f = { .dst = BCAST, .src = MAC_A, .len = F_ETH - 1 };
		struct tf_fp_qstats d;

		ASSERT_EQ(run(E.skel->progs.tf_fp_tap, &f, &d), -EINVAL, "13 bytes: refused");
	}
	put_port(LO, SLOT_IN, TF_FP_PORT_TAP, NULL, 0);
}

TF_MAIN("fastpath_prog", TF_TEST(test_tap_forwarding), TF_TEST(test_learning),
	TF_TEST(test_uplink), TF_TEST(test_xsk_rules), TF_TEST(test_cache), TF_TEST(test_not_a_port),
	TF_TEST(test_parser), TF_TEST(test_one_copy_two_ports), TF_TEST(test_spill_row))
