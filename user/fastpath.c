// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The fast path's pinned state (see tf_fastpath.h), one set per network
 * namespace: opening and locking it, creating its maps, recording and
 * forgetting ports, and reclaiming what a deleted device or namespace left.
 * Ports and programs are in fastpath_port.c, the fdb in fastpath_fdb.c,
 * AF_XDP rules in fastpath_rule.c, counters in fastpath_stats.c.
 *
 *   /sys/fs/bpf/tapflow/fastpath/<netns inode>/   (0700, flock()ed by every writer)
 *     ports fdb tx_ports xsks stats gen meta         (0600 pins)
 *     tf_fp_tap tf_fp_uplink                         (the programs, one copy each)
 *        ▲                         ▲
 *        │ attached to each tap    │ attached to each uplink
 *
 * The maps go with the last port. A device deleted behind our back (netns
 * removed, `ip link del`) loses its DEVMAP entry in the kernel; that is how
 * stale ports are found and forgotten the next time anyone takes the lock.
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

static const char *const pins[] = {
	TF_FP_MAP_PORTS, TF_FP_MAP_FDB, TF_FP_MAP_TX_PORTS,
	TF_FP_MAP_XSKS, TF_FP_MAP_STATS, TF_FP_MAP_META,
	TF_FP_MAP_GEN,
};
/* Pinned by the first port of their kind (fastpath_port.c): may be absent. */
static const char *const prog_pins[] = { TF_FP_PROG_TAP, TF_FP_PROG_UPLINK };

int fp_stats_value_size(void)
{
	int ncpu = libbpf_num_possible_cpus();

	return ncpu < 1 ? -1 : ncpu * (int)((sizeof(struct tf_fp_qstats) + 7) & ~7);
}

/*
 * The pin directory of a namespace and its lock. The version is the meta
 * map's, which bpf/fastpath.bpf.c defines and fp_claim_netns() writes.
 */
static const struct tf_pin_layout fp_layout = {
	.module = TF_FP_PIN_MODULE,
	.what = "the fast path",
	.scope = TF_PIN_NETNS,
	.version = TF_FP_VERSION,
	.upgrade = "turn it off on every port and uplink (tapflow fastpath off, tapflow uplink del), "
		   "then on again",
};

static void fp_init(struct fp *s)
{
	int *fds[] = { &s->ports, &s->fdb, &s->tx_ports, &s->xsks, &s->stats, &s->meta,
		       &s->gen };

	memset(s, 0, sizeof(*s));
	s->pin.fd = -1;
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		*fds[i] = -1;
}

void fp_close(struct fp *s)
{
	int *fds[] = { &s->ports, &s->fdb, &s->tx_ports, &s->xsks, &s->stats, &s->meta,
		       &s->gen };

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	tf_pin_close(&s->pin);
}

int tf_fastpath_pin_path(const char *map, char *buf, size_t len)
{
	char dir[96];
	int err = tf_pin_dir(&fp_layout, 0, 0, dir, sizeof(dir));

	if (err)
		return err;
	snprintf(buf, len, "%s%s%s", dir, map ? "/" : "", map ? map : "");
	return 0;
}

/* Path of one of s's pins. */
const char *fp_pin(const struct fp *s, const char *map, char *buf, size_t len)
{
	return tf_pin_path(&s->pin, map, buf, len);
}

/*
 * tx_ports is pinned by hand (see bpf/fastpath.bpf.c). Before load: reuse
 * the pinned map if there is one. After load: pin it if it was new.
 */
int fp_reuse_tx_ports(const struct fp *s, struct fastpath *skel, bool before_load)
{
	struct bpf_map *m = skel->maps.tx_ports;
	char path[128];
	int fd, err;

	fp_pin(s, TF_FP_MAP_TX_PORTS, path, sizeof(path));
	if (before_load) {
		fd = bpf_obj_get(path);
		if (fd < 0)
			return errno == ENOENT ? 0 : -errno;
		err = bpf_map__reuse_fd(m, fd);
		close(fd);
		return err;
	}
	if (!access(path, F_OK))
		return 0;
	return bpf_map__pin(m, path);
}

/*
 * State of another layout cannot be reused (its maps differ) nor read:
 * say so before touching any of it. No meta map yet, or one never
 * written (version 0), is a state being made.
 */
static int check_layout(const struct fp *s)
{
	struct tf_fp_meta m = { 0 };
	char path[128];
	__u32 zero = 0;
	int fd = bpf_obj_get(fp_pin(s, TF_FP_MAP_META, path, sizeof(path)));

	if (fd < 0)
		return 0;
	bpf_map_lookup_elem(fd, &zero, &m);
	close(fd);
	return m.version ? tf_pin_check_version(&s->pin, m.version) : 0;
}

/*
 * A state with some of its map pins missing was being removed (fp_release
 * unlinks them one by one) or made (libbpf pins them one by one) when its
 * command was killed. It holds no port (the last one had gone, or none had
 * come yet), and what is left cannot be mixed with new maps: a pinned
 * program uses the maps it was loaded with. The exclusive holder removes
 * it. 1 if it was such a remnant (now gone), 0 if not.
 */
static int drop_remnant(struct fp *s)
{
	size_t missing = 0, progs = 0;
	char path[128];
	__u32 k;
	int fd;

	for (size_t i = 0; i < ARRAY_SIZE(pins); i++)
		missing += access(fp_pin(s, pins[i], path, sizeof(path)), F_OK) != 0;
	for (size_t i = 0; i < ARRAY_SIZE(prog_pins); i++)
		progs += access(fp_pin(s, prog_pins[i], path, sizeof(path)), F_OK) == 0;
	if (!missing || (missing == ARRAY_SIZE(pins) && !progs))
		return 0;	/* whole, or nothing yet */
	fd = bpf_obj_get(fp_pin(s, TF_FP_MAP_PORTS, path, sizeof(path)));
	if (fd >= 0) {
		bool any = !bpf_map_get_next_key(fd, NULL, &k);

		close(fd);
		if (any)
			return 0;	/* ports are recorded: not a remnant; opening says what is missing */
	}
	pr_debug("fastpath: %s is half made or half removed (%zu of its pins missing): removing it",
		 s->pin.dir, missing);
	for (size_t i = 0; i < ARRAY_SIZE(pins); i++)
		unlink(fp_pin(s, pins[i], path, sizeof(path)));
	for (size_t i = 0; i < ARRAY_SIZE(prog_pins); i++)
		unlink(fp_pin(s, prog_pins[i], path, sizeof(path)));
	return 1;
}

/*
 * Open the maps of the state s->pin has locked (exclusively with
 * TF_PIN_WRITE or TF_PIN_CREATE in flags). With TF_PIN_CREATE, the maps are
 * made (and pinned) by loading the object with no program; without, a
 * missing state is -ENOENT.
 */
static int open_maps(struct fp *s, unsigned int flags)
{
	int *fds[] = { &s->ports, &s->fdb, &s->tx_ports, &s->xsks, &s->stats, &s->meta,
		       &s->gen };
	bool create = flags & TF_PIN_CREATE;
	char path[128];
	int err;

	err = check_layout(s);
	if (err)
		goto fail;
	if ((flags & (TF_PIN_WRITE | TF_PIN_CREATE)) && drop_remnant(s) && !create) {
		tf_pin_release(&s->pin);
		err = tf_err(-ENOENT, "the fast path is not on in this network namespace");
		goto fail;
	}
	if (create) {
		LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = s->pin.dir);
		struct fastpath *skel = fastpath__open_opts(&oo);
		struct bpf_map *maps[7];

		if (!skel) {
			err = tf_err(-errno, "cannot open the fast path object: %s", strerror(errno));
			goto fail;
		}
		bpf_program__set_autoload(skel->progs.tf_fp_tap, false);
		bpf_program__set_autoload(skel->progs.tf_fp_uplink, false);
		err = fp_reuse_tx_ports(s, skel, true);
		if (!err)
			err = fastpath__load(skel);
		if (!err)
			err = fp_reuse_tx_ports(s, skel, false);
		if (err) {
			fastpath__destroy(skel);
			err = tf_err_as(err, err == -EPERM ? TF_ERRK_OTHER : TF_ERRK_BPF,
					"cannot create the fast path maps in %s: %s",
					s->pin.dir, strerror(-err));
			goto fail;
		}
		maps[0] = skel->maps.ports;
		maps[1] = skel->maps.fdb;
		maps[2] = skel->maps.tx_ports;
		maps[3] = skel->maps.xsks;
		maps[4] = skel->maps.stats;
		maps[5] = skel->maps.meta;
		maps[6] = skel->maps.gen;
		for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
			*fds[i] = fcntl(bpf_map__fd(maps[i]), F_DUPFD_CLOEXEC, 3);
		fastpath__destroy(skel);
		for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
			if (*fds[i] < 0) {
				err = tf_err(-EMFILE, "out of file descriptors");
				goto fail;
			}
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		*fds[i] = bpf_obj_get(fp_pin(s, pins[i], path, sizeof(path)));
		if (*fds[i] < 0) {
			err = errno == ENOENT ? tf_err(-ENOENT, "the fast path is not on in this network namespace")
					      : tf_err(-errno, "cannot open %s: %s", path, strerror(errno));
			goto fail;
		}
	}
	return 0;
fail:
	fp_close(s);
	return err;
}

/* Lock the state of the caller's namespace and open its maps. */
static int fp_open_flags(struct fp *s, unsigned int flags)
{
	int err;

	fp_init(s);
	err = tf_pin_open(&s->pin, &fp_layout, 0, 0, flags);
	if (err == -ENOENT)
		return tf_err(-ENOENT, "the fast path is not on in this network namespace");
	if (err)
		return err;
	return open_maps(s, flags);
}

/* Open to change the state (exclusive lock). */
int fp_open(struct fp *s, bool create)
{
	return fp_open_flags(s, create ? TF_PIN_CREATE : TF_PIN_WRITE);
}

/* Open to read it only (shared lock), so readers do not queue behind each other. */
int fp_open_ro(struct fp *s)
{
	return fp_open_flags(s, TF_PIN_READ);
}

int fp_port(struct fp *s, int ifindex, struct tf_fp_port *port)
{
	__u32 k = ifindex;

	return bpf_map_lookup_elem(s->ports, &k, port) ? 0 : 1;
}

int fp_nports(struct fp *s)
{
	__u32 k, next;
	int n = 0;

	for (int err = bpf_map_get_next_key(s->ports, NULL, &next); !err;
	     err = bpf_map_get_next_key(s->ports, &k, &next)) {
		k = next;
		n++;
	}
	return n;
}

/*
 * Tell the programs' caches that the fdb or the ports changed: after the
 * change, never before. gen is mmapped so the add is atomic with the
 * programs' own (learning) adds.
 */
void fp_bump_gen(struct fp *s)
{
	long pg = sysconf(_SC_PAGESIZE);
	__u64 *g = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, s->gen, 0);

	if (g == MAP_FAILED) {
		__u64 v = 0;
		__u32 zero = 0;

		pr_debug("fastpath: cannot mmap the gen map (%s); updating it", strerror(errno));
		bpf_map_lookup_elem(s->gen, &zero, &v);
		v++;
		bpf_map_update_elem(s->gen, &zero, &v, BPF_ANY);
		return;
	}
	__atomic_add_fetch(g, 1, __ATOMIC_SEQ_CST);
	munmap(g, pg);
}

/*
 * Write a port's record: what user space lists and what the programs read
 * per frame, in one update. old: the record it replaces (NULL: a new
 * port). Returns 0 or -errno.
 */
int fp_put_port(struct fp *s, int ifindex, const struct tf_fp_port *port,
		const struct tf_fp_port *old)
{
	__u32 k = ifindex;

	return bpf_map_update_elem(s->ports, &k, port, old ? BPF_EXIST : BPF_NOEXIST) ? -errno : 0;
}

/* A port's rows (its queues and its spill row) zeroed, their sockets gone. */
static void fp_zero_rows(struct fp *s, const struct tf_fp_port *port)
{
	int vsz = fp_stats_value_size();
	void *zero;

	if (vsz < 0 || !(zero = calloc(1, vsz)))
		return;
	for (__u32 q = 0; q <= port->nrows && port->row + q < TF_FP_MAX_ROWS; q++) {
		__u32 k = port->row + q;

		bpf_map_update_elem(s->stats, &k, zero, BPF_ANY);
		bpf_map_delete_elem(s->xsks, &k);
	}
	free(zero);
}

/* Forget a port: its fdb entries, sockets, counters, DEVMAP entry, record. */
void fp_forget(struct fp *s, int ifindex, const struct tf_fp_port *port)
{
	struct tf_fp_fdb_key k, next, *prev = NULL;
	__u32 key = ifindex;

	while (!bpf_map_get_next_key(s->fdb, prev, &next)) {
		struct tf_fp_fdb v;

		k = next;
		prev = &k;
		if (!bpf_map_lookup_elem(s->fdb, &k, &v) && (int)v.ifindex == ifindex) {
			bpf_map_delete_elem(s->fdb, &k);
			prev = NULL;	/* restart: the deleted key cannot lead the walk */
		}
	}
	/* the record first: no frame counts into rows being zeroed for reuse */
	bpf_map_delete_elem(s->ports, &key);
	fp_zero_rows(s, port);
	bpf_map_delete_elem(s->tx_ports, &port->slot);
	fp_bump_gen(s);
}

/* Remove everything when no port is left. Call last; closes s. */
void fp_release(struct fp *s)
{
	if (s->ports >= 0)
		fp_gc(s);
	if (s->ports >= 0 && fp_nports(s) == 0) {
		char path[128];

		for (size_t i = 0; i < ARRAY_SIZE(pins); i++)
			unlink(fp_pin(s, pins[i], path, sizeof(path)));
		/* the programs stay alive on any device still holding them */
		for (size_t i = 0; i < ARRAY_SIZE(prog_pins); i++)
			unlink(fp_pin(s, prog_pins[i], path, sizeof(path)));
		if (tf_pin_release(&s->pin))
			pr_debug("fastpath: last port gone, %s removed", s->pin.dir);
	}
	fp_close(s);
}

/* Forget ports whose device is gone (the kernel emptied their DEVMAP entry). */
void fp_gc(struct fp *s)
{
	__u32 k, next, *prev = NULL, v;
	struct tf_fp_port port;

	while (!bpf_map_get_next_key(s->ports, prev, &next)) {
		k = next;
		prev = &k;
		if (!bpf_map_lookup_elem(s->ports, &k, &port) &&
		    (port.slot >= TF_FP_MAX_PORTS || bpf_map_lookup_elem(s->tx_ports, &port.slot, &v))) {
			pr_debug("fastpath: forgetting port %s (ifindex %u): device gone",
				 port.name, k);
			fp_forget(s, k, &port);
			prev = NULL;
		}
	}
}

/*
 * A dead namespace's state of another layout: no tapflow can read it, and
 * nothing can use it any more (its devices, and so their programs, went with
 * the namespace), so every pin in it goes, whatever it was. Closes s.
 */
static void drop_other_layout(struct fp *s)
{
	struct dirent *e;
	DIR *d = opendir(s->pin.dir);

	pr_debug("fastpath: %s is of another layout and its namespace is gone: removing it",
		 s->pin.dir);
	if (d) {
		while ((e = readdir(d)))
			if (e->d_name[0] != '.')
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	}
	tf_pin_release(&s->pin);
	fp_close(s);
}

static void reclaim_one(struct tf_pin *p, void *arg)
{
	struct fp s;

	(void)arg;
	fp_init(&s);
	s.pin = *p;
	p->fd = -1;	/* s holds the lock now */
	if (check_layout(&s) == -EPROTO)
		drop_other_layout(&s);
	else if (!open_maps(&s, TF_PIN_WRITE))
		fp_release(&s);
	else
		fp_close(&s);
}

/*
 * The state of a namespace that no process and no /run/netns name keeps
 * alive: its devices went with it, so fp_gc forgets every port and the last
 * one out removes the directory. Called before taking our own lock.
 */
void fp_reclaim_dead(void)
{
	tf_pin_reclaim(&fp_layout, reclaim_one, NULL);
}

/*
 * The directory is named after the namespace, and meta says so too: a new
 * namespace that got a dead one's inode number finds that one's ports gone
 * (fp_gc) and takes the state over.
 */
int fp_claim_netns(struct fp *s)
{
	struct tf_fp_meta m = { 0 };
	__u32 zero = 0, ns;
	int err = tf_netns_self(&ns);

	if (err)
		return err;
	bpf_map_lookup_elem(s->meta, &zero, &m);
	fp_gc(s);
	if (m.version && m.netns != ns && fp_nports(s) > 0)
		return tf_err(-EBUSY, "%s serves another network namespace (net:[%u], %d ports)",
			      s->pin.dir, m.netns, fp_nports(s));
	m.version = TF_FP_VERSION;
	m.netns = ns;
	if (bpf_map_update_elem(s->meta, &zero, &m, BPF_ANY))
		return tf_err(-errno, "cannot write the fast path meta map: %s", strerror(errno));
	return 0;
}

/* 1 if the state serves the calling thread's network namespace. */
int fp_same_netns(struct fp *s)
{
	struct tf_fp_meta m = { 0 };
	__u32 zero = 0, ns = 0;

	if (tf_netns_self(&ns) || bpf_map_lookup_elem(s->meta, &zero, &m) || m.netns != ns)
		return 0;
	return 1;
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/*
 * A free slot and the first free run of need rows, from one walk of the
 * ports. Rows are handed out first fit; a run freed by a port that left is
 * taken by the next port that fits in it.
 */
static int alloc_slot(struct fp *s, __u32 need, __u32 *slot, __u32 *row)
{
	__u32 runs[TF_FP_MAX_PORTS][2];	/* [row, end) per port, sorted (8 KiB) */
	bool used[TF_FP_MAX_PORTS] = { false };
	__u32 k, next, *prev = NULL, n = 0, at = 0, i;
	struct tf_fp_port p;

	while (!bpf_map_get_next_key(s->ports, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(s->ports, &k, &p) || n >= TF_FP_MAX_PORTS)
			continue;
		if (p.slot < TF_FP_MAX_PORTS)
			used[p.slot] = true;
		runs[n][0] = p.row;
		runs[n][1] = p.row + p.nrows + 1;
		n++;
	}
	for (i = 0; i < TF_FP_MAX_PORTS && used[i]; i++)
		;
	if (i == TF_FP_MAX_PORTS)
		return tf_err(-ENOSPC, "all %d fast path ports of this network namespace are in use "
			      "(TF_FP_MAX_PORTS); turn one off first (tapflow fastpath off / uplink del)",
			      TF_FP_MAX_PORTS);
	*slot = i;
	qsort(runs, n, sizeof(runs[0]), cmp_u32);
	for (i = 0; i < n && runs[i][0] < at + need; i++)
		at = runs[i][1] > at ? runs[i][1] : at;
	/* the loop stops at the first gap that fits, or past the last run */
	if (at + need > TF_FP_MAX_ROWS)
		return tf_err(-ENOSPC, "the fast path's %d per-queue rows are all in use "
			      "(TF_FP_MAX_ROWS: one per rx queue of each port, plus one); this port needs %u",
			      TF_FP_MAX_ROWS, need);
	*row = at;
	return 0;
}

/* Record a port with rows for nqueues rx queues and make it a redirect target. */
int fp_add_port(struct fp *s, int ifindex, const char *name, enum tf_fp_port_kind kind,
		unsigned int nqueues)
{
	struct tf_fp_port port = { .kind = kind };
	__u32 v = ifindex;
	int err;

	if (nqueues < 1)
		nqueues = 1;
	if (nqueues > TF_MAX_QUEUES)
		nqueues = TF_MAX_QUEUES;
	port.nrows = nqueues;
	err = alloc_slot(s, nqueues + 1, &port.slot, &port.row);
	if (err)
		return err;
	snprintf(port.name, sizeof(port.name), "%s", name);
	fp_zero_rows(s, &port);
	if (bpf_map_update_elem(s->tx_ports, &port.slot, &v, BPF_ANY))
		return tf_err(-errno, "cannot add %s to the DEVMAP: %s", name, strerror(errno));
	err = fp_put_port(s, ifindex, &port, NULL);
	if (err) {
		bpf_map_delete_elem(s->tx_ports, &port.slot);
		return tf_err(err, "cannot record port %s: %s", name, strerror(-err));
	}
	fp_bump_gen(s);
	return 0;
}

int tf_fastpath_is_port(int ifindex, struct tf_fp_port *port)
{
	struct tf_fp_port p;
	__u32 k = ifindex;
	char path[128];
	int fd, ret;

	if (tf_fastpath_pin_path(TF_FP_MAP_PORTS, path, sizeof(path)))
		return 0;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	ret = !bpf_map_lookup_elem(fd, &k, &p);
	close(fd);
	if (ret && port)
		*port = p;
	return ret;
}

int fp_open_port(struct fp *s, const char *name, int *ifindex, struct tf_fp_port *port,
		     bool ro)
{
	int err = tf_ifindex(name, ifindex);

	if (err)
		return err;
	err = ro ? fp_open_ro(s) : fp_open(s, false);
	if (err == -ENOENT)
		return tf_err(-ENOENT, "'%s' is not a fast path port (tapflow fastpath on / uplink add)", name);
	if (err)
		return err;
	if (!fp_same_netns(s) || !fp_port(s, *ifindex, port)) {
		fp_close(s);
		return tf_err(-ENOENT, "'%s' is not a fast path port (tapflow fastpath on / uplink add)", name);
	}
	return 0;
}

