// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The fast path's lifecycle (see tf_fastpath.h): ports in and out, the
 * programs attached through libxdp, the fdb, AF_XDP rules and counters.
 *
 *   /sys/fs/bpf/tapflow/fastpath/<netns inode>/   (0700, flock()ed by every writer)
 *     ports slots fdb tx_ports xsks stats gen meta   (0600 pins)
 *        ▲                         ▲
 *        │ tf_fp_tap on each tap   │ tf_fp_uplink on each uplink
 *        └─ (no pin: netlink holds the program while it is attached)
 *
 * The programs themselves are never pinned: each `on` loads a fresh copy
 * for that port (its ifindex and slot are constants in .rodata) that reuses
 * the pinned maps, and the device's XDP slot keeps it alive, so
 * `off` (detach) or the device going away frees it. The maps go with the
 * last port. A device deleted behind our back (netns removed, `ip link del`)
 * loses its DEVMAP entry in the kernel; that is how stale ports are found
 * and forgotten the next time anyone takes the lock.
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
#include "json.h"
#include "log.h"
#include "fastpath.skel.h"

/*
 * The tap module (user/tap.c) is linked into the CLI but a library user may
 * leave it out: reach it through weak references.
 */
#pragma weak tf_tap_get
#pragma weak tf_tap_register_delete_hook
#pragma weak tf_tap_register_show_hook

#define PROG_TAP	"tf_fp_tap"
#define PROG_UPLINK	"tf_fp_uplink"

static const char *const pins[] = {
	TF_FP_MAP_PORTS, TF_FP_MAP_FDB, TF_FP_MAP_TX_PORTS,
	TF_FP_MAP_XSKS, TF_FP_MAP_STATS, TF_FP_MAP_META,
	TF_FP_MAP_SLOTS, TF_FP_MAP_GEN,
};

/* The pinned state of one network namespace, locked. */
struct fp {
	int dirfd;
	int ports, fdb, tx_ports, xsks, stats, meta, slots, gen;
	char dir[64];		/* TF_FP_PIN_ROOT/<netns inode> */
};

/* ---- small helpers -------------------------------------------------------- */

static int libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	char buf[512];

	(void)level;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	tf_log(TF_LOG_LIBBPF, "libxdp: %s", buf);
	return 0;
}

/* The driver behind a name, through ETHTOOL_GDRVINFO (tun says "tun"/"tap"). */
static int drvinfo(const char *name, char *driver, size_t dlen, char *bus, size_t blen)
{
	struct ethtool_drvinfo di = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = { 0 };
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (void *)&di;
	if (ioctl(fd, SIOCETHTOOL, &ifr))
		err = -errno;
	close(fd);
	if (!err) {
		snprintf(driver, dlen, "%s", di.driver);
		snprintf(bus, blen, "%s", di.bus_info);
	}
	return err;
}

static int resolve(const char *name, int *ifindex)
{
	int err = tf_parse_ifname(name, NULL);

	if (err)
		return err;
	*ifindex = if_nametoindex(name);
	if (!*ifindex)
		return tf_err(-ENODEV, "no device '%s' in this network namespace", name);
	return 0;
}

/* An accelerated tap must be a tap (and tapflow's, when we can tell). */
static int resolve_tap(const char *name, int *ifindex)
{
	char drv[32], bus[32];
	int err = resolve(name, ifindex);

	if (err)
		return err;
	if (tf_tap_get) {
		struct tf_tap_info info;

		err = tf_tap_get(name, &info);
		if (err)
			return err;
		if (!info.tap)
			return tf_err(-EINVAL, "'%s' is a tun (layer 3) device; the fast path needs a tap", name);
		if (!info.by_tapflow)
			return tf_err(-EINVAL, "'%s' was not created by tapflow (tapflow create %s --fastpath)",
				      name, name);
		return 0;
	}
	if (drvinfo(name, drv, sizeof(drv), bus, sizeof(bus)) || strcmp(drv, "tun") ||
	    strcmp(bus, "tap"))
		return tf_err(-EINVAL, "'%s' is not a tap", name);
	return 0;
}

/* Loading XDP programs and maps: CAP_BPF (with CAP_NET_ADMIN) or CAP_SYS_ADMIN. */
static int need_caps(const char *what)
{
	int err = tf_require_cap(CAP_NET_ADMIN, "CAP_NET_ADMIN", what);

	if (err || tf_have_cap(CAP_SYS_ADMIN) || tf_have_cap(39 /* CAP_BPF */))
		return err;
	return tf_err(-EPERM, "%s needs CAP_BPF (with CAP_NET_ADMIN), or CAP_SYS_ADMIN", what);
}

static int stats_value_size(void)
{
	int ncpu = libbpf_num_possible_cpus();

	return ncpu < 1 ? -1 : ncpu * (int)((sizeof(struct tf_fp_qstats) + 7) & ~7);
}

/* ---- the pinned state ------------------------------------------------------ */

static void fp_close(struct fp *s)
{
	int *fds[] = { &s->ports, &s->fdb, &s->tx_ports, &s->xsks, &s->stats, &s->meta,
		       &s->slots, &s->gen };

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	if (s->dirfd >= 0)
		close(s->dirfd);	/* drops the flock */
	s->dirfd = -1;
}

/* The pin of MAP (NULL: the directory) of the namespace with inode ns. */
static void pin_path(char *buf, size_t len, uint32_t ns, const char *map)
{
	snprintf(buf, len, TF_FP_PIN_FMT "%s%s", ns, map ? "/" : "", map ? map : "");
}

int tf_fastpath_pin_path(const char *map, char *buf, size_t len)
{
	uint32_t ns;
	int err = tf_netns_self(&ns);

	if (err)
		return err;
	pin_path(buf, len, ns, map);
	return 0;
}

/* Path of one of s's pins. */
static const char *spin(const struct fp *s, const char *map, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", s->dir, map);
	return buf;
}

/*
 * Lock the state directory s->dir, creating it (and its parents) with
 * create: LOCK_EX to change the state, LOCK_SH to only read it (stats, the
 * exporter, fdb list), so readers do not queue behind each other.
 */
static int lock_dir(struct fp *s, bool create, int op)
{
	struct stat a, b;

	for (int tries = 0; tries < 5; tries++) {
		if (create) {
			int err = tf_pin_mkdir(TF_FP_PIN_ROOT);

			/* a last port elsewhere may remove the parent between the two */
			if (!err && mkdir(s->dir, 0700) && errno != EEXIST)
				err = errno == ENOENT ? -EAGAIN
						      : tf_err(-errno, "cannot create %s: %s", s->dir, strerror(errno));
			if (err == -EAGAIN)
				continue;
			if (err)
				return err;
		}
		s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (s->dirfd < 0) {
			if (errno == ENOENT && !create)
				return tf_err(-ENOENT, "the fast path is not on in this network namespace");
			if (errno == ENOENT)
				continue;
			return tf_err(-errno, "cannot open %s: %s", s->dir, strerror(errno));
		}
		if (flock(s->dirfd, op))
			return tf_err(-errno, "cannot lock %s: %s", s->dir, strerror(errno));
		/* The last port's owner may have removed the directory meanwhile. */
		if (!fstat(s->dirfd, &a) && !stat(s->dir, &b) && a.st_ino == b.st_ino)
			return 0;
		close(s->dirfd);
		s->dirfd = -1;
		if (!create)
			return tf_err(-ENOENT, "the fast path is not on in this network namespace");
	}
	return tf_err(-EAGAIN, "%s keeps changing under us", s->dir);
}

/*
 * tx_ports is pinned by hand (see bpf/fastpath.bpf.c). Before load: reuse
 * the pinned map if there is one. After load: pin it if it was new.
 */
static int reuse_tx_ports(const struct fp *s, struct fastpath *skel, bool before_load)
{
	struct bpf_map *m = skel->maps.tx_ports;
	char path[96];
	int fd, err;

	spin(s, TF_FP_MAP_TX_PORTS, path, sizeof(path));
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
 * Lock the state and open its maps. With create, the maps are made (and
 * pinned) by loading the object with no program; without, a missing state
 * is -ENOENT.
 */
static int fp_open_dir(struct fp *s, bool create, int op);

static int fp_open_lock(struct fp *s, bool create, int op)
{
	uint32_t ns;
	int err;

	memset(s, -1, sizeof(*s));
	err = tf_netns_self(&ns);
	if (err)
		return err;
	pin_path(s->dir, sizeof(s->dir), ns, NULL);
	return fp_open_dir(s, create, op);
}

/* Open to change the state (exclusive lock). */
static int fp_open(struct fp *s, bool create)
{
	return fp_open_lock(s, create, LOCK_EX);
}

/* Open to read it only (shared lock): never write through s. */
static int fp_open_ro(struct fp *s)
{
	return fp_open_lock(s, false, LOCK_SH);
}

/* fp_open for the state in s->dir (set by the caller). */
static int fp_open_dir(struct fp *s, bool create, int op)
{
	int *fds[] = { &s->ports, &s->fdb, &s->tx_ports, &s->xsks, &s->stats, &s->meta,
		       &s->slots, &s->gen };
	char path[96];
	int err;

	err = lock_dir(s, create, create ? LOCK_EX : op);
	if (err)
		goto fail;
	if (create) {
		LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = s->dir);
		struct fastpath *skel = fastpath__open_opts(&oo);
		struct bpf_map *maps[8];

		if (!skel) {
			err = tf_err(-errno, "cannot open the fast path object: %s", strerror(errno));
			goto fail;
		}
		bpf_program__set_autoload(skel->progs.tf_fp_tap, false);
		bpf_program__set_autoload(skel->progs.tf_fp_uplink, false);
		err = reuse_tx_ports(s, skel, true);
		if (!err)
			err = fastpath__load(skel);
		if (!err)
			err = reuse_tx_ports(s, skel, false);
		if (err) {
			fastpath__destroy(skel);
			err = tf_err(err, "cannot create the fast path maps in %s: %s",
				     s->dir, strerror(-err));
			goto fail;
		}
		maps[0] = skel->maps.ports;
		maps[1] = skel->maps.fdb;
		maps[2] = skel->maps.tx_ports;
		maps[3] = skel->maps.xsks;
		maps[4] = skel->maps.stats;
		maps[5] = skel->maps.meta;
		maps[6] = skel->maps.slots;
		maps[7] = skel->maps.gen;
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
		*fds[i] = bpf_obj_get(spin(s, pins[i], path, sizeof(path)));
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

static int fp_port(struct fp *s, int ifindex, struct tf_fp_port *port)
{
	__u32 k = ifindex;

	return bpf_map_lookup_elem(s->ports, &k, port) ? 0 : 1;
}

static int fp_nports(struct fp *s)
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
static void bump_gen(struct fp *s)
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

/* What the programs see of a slot: its device and rules (NULL: free). */
static int set_slot(struct fp *s, __u32 slot, const struct tf_fp_slot *v)
{
	struct tf_fp_slot zero = { 0 };

	return bpf_map_update_elem(s->slots, &slot, v ? v : &zero, BPF_ANY) ? -errno : 0;
}

/*
 * Record a port in both maps that hold it: ports (user space's index) and
 * its slot (what the programs read). old: the record it replaces (NULL: a
 * new port). On failure neither map changed; returns 0 or -errno.
 */
static int put_port(struct fp *s, int ifindex, const struct tf_fp_port *port,
		    const struct tf_fp_port *old)
{
	struct tf_fp_slot v = { .ifindex = ifindex, .nrules = port->nrules };
	__u32 k = ifindex;
	int err;

	if (bpf_map_update_elem(s->ports, &k, port, old ? BPF_EXIST : BPF_NOEXIST))
		return -errno;
	memcpy(v.rules, port->rules, sizeof(v.rules));
	err = set_slot(s, port->slot, &v);
	if (err && old)
		bpf_map_update_elem(s->ports, &k, old, BPF_EXIST);
	else if (err)
		bpf_map_delete_elem(s->ports, &k);
	return err;
}

static void zero_slot(struct fp *s, __u32 slot)
{
	int vsz = stats_value_size();
	void *zero;

	if (vsz < 0 || !(zero = calloc(1, vsz)))
		return;
	for (__u32 q = 0; q < TF_FP_QUEUES; q++) {
		__u32 k = TF_FP_QKEY(slot, q);

		bpf_map_update_elem(s->stats, &k, zero, BPF_ANY);
		bpf_map_delete_elem(s->xsks, &k);
	}
	free(zero);
	set_slot(s, slot, NULL);
}

/* Forget a port: its fdb entries, sockets, counters, DEVMAP entry, record. */
static void fp_forget(struct fp *s, int ifindex, const struct tf_fp_port *port)
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
	zero_slot(s, port->slot);
	bpf_map_delete_elem(s->tx_ports, &port->slot);
	bpf_map_delete_elem(s->ports, &key);
	bump_gen(s);
}

static void fp_gc(struct fp *s);

/* Remove everything when no port is left. Call last; closes s. */
static void fp_release(struct fp *s)
{
	if (s->ports >= 0)
		fp_gc(s);
	if (s->ports >= 0 && fp_nports(s) == 0) {
		char path[96];

		for (size_t i = 0; i < ARRAY_SIZE(pins); i++)
			unlink(spin(s, pins[i], path, sizeof(path)));
		if (rmdir(s->dir))
			pr_debug("fastpath: cannot remove %s: %s", s->dir, strerror(errno));
		else
			pr_debug("fastpath: last port gone, %s removed", s->dir);
		tf_pin_rmdir(TF_FP_PIN_ROOT);	/* kept while another namespace uses it */
	}
	fp_close(s);
}

/* Forget ports whose device is gone (the kernel emptied their DEVMAP entry). */
static void fp_gc(struct fp *s)
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
 * The state of a namespace that no process and no /run/netns name keeps
 * alive: its devices went with it, so fp_gc forgets every port and the last
 * one out removes the directory. Called before taking our own lock.
 */
static void fp_reclaim_dead(void)
{
	uint32_t self, ns;
	struct dirent *de;
	char *end;
	DIR *d;

	if (tf_netns_self(&self) || !(d = opendir(TF_FP_PIN_ROOT)))
		return;
	while ((de = readdir(d))) {
		struct fp s;

		errno = 0;
		ns = strtoul(de->d_name, &end, 10);
		if (de->d_name[0] < '0' || de->d_name[0] > '9' || *end || errno || ns == self ||
		    tf_netns_alive(ns))
			continue;
		memset(&s, -1, sizeof(s));
		pin_path(s.dir, sizeof(s.dir), ns, NULL);
		if (!fp_open_dir(&s, false, LOCK_EX)) {
			pr_debug("fastpath: reclaiming %s: its network namespace is gone", s.dir);
			fp_release(&s);
		}
	}
	closedir(d);
}

/*
 * The directory is named after the namespace, and meta says so too: a new
 * namespace that got a dead one's inode number finds that one's ports gone
 * (fp_gc) and takes the state over.
 */
static int fp_claim_netns(struct fp *s)
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
			      s->dir, m.netns, fp_nports(s));
	m.version = TF_FP_VERSION;
	m.netns = ns;
	if (bpf_map_update_elem(s->meta, &zero, &m, BPF_ANY))
		return tf_err(-errno, "cannot write the fast path meta map: %s", strerror(errno));
	return 0;
}

/* 1 if the state serves the calling thread's network namespace. */
static int fp_same_netns(struct fp *s)
{
	struct tf_fp_meta m = { 0 };
	__u32 zero = 0, ns = 0;

	if (tf_netns_self(&ns) || bpf_map_lookup_elem(s->meta, &zero, &m) || m.netns != ns)
		return 0;
	return 1;
}

static int alloc_slot(struct fp *s, __u32 *slot)
{
	bool used[TF_FP_MAX_PORTS] = { false };
	__u32 k, next, *prev = NULL;
	struct tf_fp_port p;

	while (!bpf_map_get_next_key(s->ports, prev, &next)) {
		k = next;
		prev = &k;
		if (!bpf_map_lookup_elem(s->ports, &k, &p) && p.slot < TF_FP_MAX_PORTS)
			used[p.slot] = true;
	}
	for (__u32 i = 0; i < TF_FP_MAX_PORTS; i++)
		if (!used[i]) {
			*slot = i;
			return 0;
		}
	return tf_err(-ENOSPC, "all %d fast path ports are in use", TF_FP_MAX_PORTS);
}

/* Record a port and make it a redirect target. */
static int fp_add_port(struct fp *s, int ifindex, const char *name, enum tf_fp_port_kind kind)
{
	struct tf_fp_port port = { .kind = kind };
	__u32 v = ifindex;
	int err = alloc_slot(s, &port.slot);

	if (err)
		return err;
	snprintf(port.name, sizeof(port.name), "%s", name);
	zero_slot(s, port.slot);
	if (bpf_map_update_elem(s->tx_ports, &port.slot, &v, BPF_ANY))
		return tf_err(-errno, "cannot add %s to the DEVMAP: %s", name, strerror(errno));
	err = put_port(s, ifindex, &port, NULL);
	if (err) {
		bpf_map_delete_elem(s->tx_ports, &port.slot);
		return tf_err(err, "cannot record port %s: %s", name, strerror(-err));
	}
	bump_gen(s);
	return 0;
}

/* ---- programs, through libxdp ---------------------------------------------- */

static int prog_attach(const struct fp *s, int ifindex, __u32 slot, const char *name,
		       const char *prog_name, enum xdp_attach_mode mode, bool *legacy)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = s->dir);
	DECLARE_LIBXDP_OPTS(xdp_program_opts, xo, .prog_name = prog_name);
	struct xdp_multiprog *mp;
	struct fastpath *skel;
	struct xdp_program *xp;
	int err;

	libxdp_set_print(libxdp_print);
	skel = fastpath__open_opts(&oo);
	if (!skel)
		return tf_err(-errno, "cannot open the fast path object: %s", strerror(errno));
	bpf_program__set_autoload(!strcmp(prog_name, PROG_TAP) ? skel->progs.tf_fp_uplink
							       : skel->progs.tf_fp_tap, false);
	skel->rodata->tf_ifindex = ifindex;
	skel->rodata->tf_slot = slot;
	err = reuse_tx_ports(s, skel, true);
	if (err) {
		fastpath__destroy(skel);
		return tf_err(err, "cannot reuse %s/%s: %s", s->dir, TF_FP_MAP_TX_PORTS, strerror(-err));
	}
	xo.obj = skel->obj;
	xp = xdp_program__create(&xo);
	err = libxdp_get_error(xp);
	if (err) {
		fastpath__destroy(skel);
		return tf_err(err, "cannot prepare %s for libxdp: %s", prog_name, strerror(-err));
	}
	err = xdp_program__attach(xp, ifindex, mode, 0);
	if (err) {
		err = tf_err(err < 0 ? err : -EINVAL, "cannot attach %s to %s in %s mode: %s%s",
			     prog_name, name, mode == XDP_MODE_NATIVE ? "native" : "skb",
			     strerror(err < 0 ? -err : EINVAL),
			     err == -EEXIST || err == -EBUSY ? " (another XDP program is there; see xdp-loader status)" : "");
		goto out;
	}
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (!libxdp_get_error(mp) && mp) {
		if (legacy)
			*legacy = xdp_multiprog__is_legacy(mp);
		xdp_multiprog__close(mp);
	}
out:
	xdp_program__close(xp);
	fastpath__destroy(skel);
	return err;
}

/* How the XDP program on ifindex is attached (XDP_MODE_UNSPEC: none). */
static enum xdp_attach_mode attached_mode(int ifindex)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	enum xdp_attach_mode m = XDP_MODE_UNSPEC;

	if (mp && !libxdp_get_error(mp)) {
		m = xdp_multiprog__attach_mode(mp);
		xdp_multiprog__close(mp);
	}
	return m;
}

/* Detach our program (by name) from ifindex; anything else there stays. */
static int prog_detach(int ifindex, const char *prog_name)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *p;
	int err = 0;

	libxdp_set_print(libxdp_print);
	if (!mp || libxdp_get_error(mp))
		return 0;	/* nothing attached */
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		if (p && !strcmp(xdp_program__name(p), prog_name))
			err = xdp_multiprog__detach(mp);
		else if (p)
			pr_warn("fastpath: ifindex %d runs XDP program '%s', not %s; left alone",
				ifindex, xdp_program__name(p), prog_name);
	} else {
		for (p = xdp_multiprog__next_prog(NULL, mp); p; p = xdp_multiprog__next_prog(p, mp))
			if (!strcmp(xdp_program__name(p), prog_name)) {
				err = xdp_program__detach(p, ifindex, xdp_multiprog__attach_mode(mp), 0);
				break;
			}
	}
	xdp_multiprog__close(mp);
	if (err)
		return tf_err(err, "cannot detach %s from ifindex %d: %s", prog_name, ifindex,
			      strerror(-err));
	return 0;
}

/* ---- ports ------------------------------------------------------------------ */

int tf_fastpath_enable(const char *name, bool *changed, bool *legacy)
{
	struct tf_fp_port port;
	int ifindex, err;
	struct fp s;

	if (changed)
		*changed = false;
	err = resolve_tap(name, &ifindex);
	if (err)
		return err;
	err = need_caps("the fast path");
	if (err)
		return err;
	fp_reclaim_dead();
	err = fp_open(&s, true);
	if (err)
		return err;
	err = fp_claim_netns(&s);
	if (err)
		goto out;
	if (fp_port(&s, ifindex, &port)) {
		if (port.kind != TF_FP_PORT_TAP)
			err = tf_err(-EEXIST, "'%s' is an uplink, not a tap", name);
		goto out;
	}
	err = fp_add_port(&s, ifindex, name, TF_FP_PORT_TAP);
	if (err)
		goto out;
	fp_port(&s, ifindex, &port);
	err = prog_attach(&s, ifindex, port.slot, name, PROG_TAP, XDP_MODE_NATIVE, legacy);
	if (err) {
		fp_forget(&s, ifindex, &port);
		goto out;
	}
	if (changed)
		*changed = true;
	pr_info("%s: fast path on (slot %u)", name, port.slot);
out:
	fp_release(&s);
	return err;
}

static int port_remove(int ifindex, const char *name, enum tf_fp_port_kind kind)
{
	struct tf_fp_port port;
	struct fp s;
	int err;

	err = fp_open(&s, false);
	if (!err && (!fp_same_netns(&s) || !fp_port(&s, ifindex, &port) || port.kind != kind)) {
		fp_close(&s);
		err = -ENOENT;
	}
	if (err == -ENOENT)
		return tf_err(-ENOENT, "'%s' is not a fast path %s", name,
			      kind == TF_FP_PORT_TAP ? "port (tapflow fastpath on)" : "uplink (tapflow uplink add)");
	if (err)
		return err;
	err = prog_detach(ifindex, kind == TF_FP_PORT_TAP ? PROG_TAP : PROG_UPLINK);
	if (err)
		goto out;
	fp_forget(&s, ifindex, &port);
	pr_info("%s: fast path off", name);
out:
	fp_release(&s);
	return err;
}

int tf_fastpath_disable(const char *name)
{
	int ifindex, err = resolve(name, &ifindex);

	return err ? err : port_remove(ifindex, name, TF_FP_PORT_TAP);
}

int tf_fastpath_is_port(int ifindex, struct tf_fp_port *port)
{
	struct tf_fp_port p;
	__u32 k = ifindex;
	char path[96];
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

int tf_uplink_add(const char *dev, bool allow_skb, enum tf_xdp_mode *mode)
{
	char drv[32] = "", bus[32] = "";
	struct tf_fp_port port;
	int ifindex, err;
	struct fp s;

	err = resolve(dev, &ifindex);
	if (err)
		return err;
	if (!drvinfo(dev, drv, sizeof(drv), bus, sizeof(bus)) && !strcmp(drv, "tun"))
		return tf_err(-EINVAL, "'%s' is a tun/tap; accelerate it with tapflow fastpath on", dev);
	if (ifindex == 1 || !strcmp(dev, "lo"))
		return tf_err(-EINVAL, "the loopback device cannot be an uplink");
	err = need_caps("an uplink");
	if (err)
		return err;
	fp_reclaim_dead();
	err = fp_open(&s, true);
	if (err)
		return err;
	err = fp_claim_netns(&s);
	if (err)
		goto out;
	if (fp_port(&s, ifindex, &port)) {
		if (port.kind != TF_FP_PORT_UPLINK)
			err = tf_err(-EEXIST, "'%s' is an accelerated tap, not an uplink", dev);
		else if (mode)
			*mode = attached_mode(ifindex) == XDP_MODE_SKB ? TF_XDP_SKB : TF_XDP_NATIVE;
		goto out;
	}
	err = fp_add_port(&s, ifindex, dev, TF_FP_PORT_UPLINK);
	if (err)
		goto out;
	fp_port(&s, ifindex, &port);
	if (mode)
		*mode = TF_XDP_NATIVE;
	err = prog_attach(&s, ifindex, port.slot, dev, PROG_UPLINK, XDP_MODE_NATIVE, NULL);
	if (err && allow_skb && err != -EEXIST && err != -EBUSY) {
		pr_warn("%s: native XDP refused (%s); using skb (generic) mode, which is slower",
			dev, tf_errmsg());
		err = prog_attach(&s, ifindex, port.slot, dev, PROG_UPLINK, XDP_MODE_SKB, NULL);
		if (!err && mode)
			*mode = TF_XDP_SKB;
	}
	if (err) {
		fp_forget(&s, ifindex, &port);
		goto out;
	}
	if (!strcmp(drv, "veth"))
		pr_info("%s: a veth accepts redirected frames only if its peer has an XDP program or GRO on (ethtool -K PEER gro on)",
			dev);
out:
	fp_release(&s);
	return err;
}

int tf_uplink_del(const char *dev)
{
	int ifindex, err = resolve(dev, &ifindex);

	return err ? err : port_remove(ifindex, dev, TF_FP_PORT_UPLINK);
}

/* ---- fdb --------------------------------------------------------------------- */

static int open_port(struct fp *s, const char *name, int *ifindex, struct tf_fp_port *port,
		     bool ro)
{
	int err = resolve(name, ifindex);

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

static void fmt_mac(const uint8_t *m, char *buf)
{
	sprintf(buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

int tf_fdb_add(const char *name, const uint8_t mac[6])
{
	struct tf_fp_fdb_key k = { 0 };
	struct tf_fp_fdb v, old;
	struct tf_fp_port port;
	int ifindex, err;
	char m[18];
	struct fp s;

	err = open_port(&s, name, &ifindex, &port, false);
	if (err)
		return err;
	memcpy(k.mac, mac, 6);
	fmt_mac(mac, m);
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
		bump_gen(&s);
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
	char m[18];
	struct fp s;

	err = open_port(&s, name, &ifindex, &port, false);
	if (err)
		return err;
	memcpy(k.mac, mac, 6);
	fmt_mac(mac, m);
	if (bpf_map_lookup_elem(s.fdb, &k, &v) || (int)v.ifindex != ifindex)
		err = tf_err(-ENOENT, "%s is not in the fdb on port %s", m, name);
	else if (bpf_map_delete_elem(s.fdb, &k))
		err = tf_err(-errno, "cannot delete %s: %s", m, strerror(errno));
	else
		bump_gen(&s);
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

/* ---- AF_XDP rules ------------------------------------------------------------ */

static bool rule_eq(const struct tf_fp_rule *a, const struct tf_fp_rule *b)
{
	return a->kind == b->kind && a->ipproto == b->ipproto && a->value == b->value;
}

int tf_fastpath_rule_add(const char *name, const struct tf_fp_rule *rule)
{
	struct tf_fp_port port, old;
	int ifindex, err;
	struct fp s;

	if (rule->kind <= TF_FP_RULE_NONE || rule->kind > TF_FP_RULE_L4_DPORT)
		return tf_err(-EINVAL, "unknown rule kind %u", rule->kind);
	if (rule->kind == TF_FP_RULE_L4_DPORT && rule->ipproto != IPPROTO_UDP &&
	    rule->ipproto != IPPROTO_TCP)
		return tf_err(-EINVAL, "a port rule needs udp or tcp");
	err = open_port(&s, name, &ifindex, &port, false);
	if (err)
		return err;
	for (__u32 i = 0; i < port.nrules && i < TF_FP_MAX_RULES; i++)
		if (rule_eq(&port.rules[i], rule)) {
			err = tf_err(-EEXIST, "%s already has that rule", name);
			goto out;
		}
	if (port.nrules >= TF_FP_MAX_RULES) {
		err = tf_err(-ENOSPC, "%s has %d rules already, the most a port takes", name,
			     TF_FP_MAX_RULES);
		goto out;
	}
	old = port;
	port.rules[port.nrules++] = *rule;
	err = put_port(&s, ifindex, &port, &old);
	if (err)
		err = tf_err(err, "cannot update %s's rules: %s", name, strerror(-err));
out:
	fp_close(&s);
	return err;
}

int tf_fastpath_rule_del(const char *name, const struct tf_fp_rule *rule)
{
	struct tf_fp_port port, old;
	int ifindex, err;
	__u32 j = 0;
	struct fp s;

	err = open_port(&s, name, &ifindex, &port, false);
	if (err)
		return err;
	old = port;
	for (__u32 i = 0; i < port.nrules && i < TF_FP_MAX_RULES; i++)
		if (rule && !rule_eq(&port.rules[i], rule))
			port.rules[j++] = port.rules[i];
	if (rule && j == port.nrules) {
		err = tf_err(-ENOENT, "%s has no such rule", name);
		goto out;
	}
	for (__u32 i = j; i < TF_FP_MAX_RULES; i++)
		memset(&port.rules[i], 0, sizeof(port.rules[i]));
	port.nrules = j;
	err = put_port(&s, ifindex, &port, &old);
	if (err)
		err = tf_err(err, "cannot update %s's rules: %s", name, strerror(-err));
out:
	fp_close(&s);
	return err;
}

void tf_fastpath_rule_format(const struct tf_fp_rule *r, char *buf, size_t len)
{
	switch (r->kind) {
	case TF_FP_RULE_ALL:
		snprintf(buf, len, "all");
		break;
	case TF_FP_RULE_ETHERTYPE:
		snprintf(buf, len, "ethertype 0x%04x", r->value);
		break;
	case TF_FP_RULE_IPPROTO:
		snprintf(buf, len, "ipproto %u", r->ipproto);
		break;
	case TF_FP_RULE_L4_DPORT:
		snprintf(buf, len, "%s dport %u", r->ipproto == IPPROTO_TCP ? "tcp" : "udp", r->value);
		break;
	default:
		snprintf(buf, len, "none");
	}
}

/* ---- counters ---------------------------------------------------------------- */

const char *tf_fastpath_action_name(enum tf_fp_action act)
{
	static const char *const names[TF_FP_ACT__MAX] = {
		[TF_FP_REDIRECT_TAP] = "redirect_tap",
		[TF_FP_REDIRECT_UPLINK] = "redirect_uplink",
		[TF_FP_XSK] = "xsk",
		[TF_FP_PASS] = "pass",
		[TF_FP_DROP] = "drop",
	};

	return act < TF_FP_ACT__MAX ? names[act] : "?";
}

/* Per-queue counters of one port: the queues with any count, and their total. */
static int read_port_stats(struct fp *s, const struct tf_fp_port *port,
			   struct tf_fastpath_qstats **out, size_t *n,
			   struct tf_fastpath_qstats *total)
{
	int ncpu = libbpf_num_possible_cpus(), vsz = stats_value_size();
	size_t stride = (sizeof(struct tf_fp_qstats) + 7) & ~7;
	struct tf_fastpath_qstats *qs = NULL;
	char *all = NULL, *buf;
	uint32_t *keys = NULL;
	bool batched;
	int err = 0;

	*out = NULL;
	*n = 0;
	if (total)
		memset(total, 0, sizeof(*total));
	if (vsz < 0)
		return tf_err(-EINVAL, "cannot count the possible CPUs");
	/* the port's 256 rows in one batch lookup (a scrape reads every port) */
	all = malloc((size_t)vsz * TF_FP_QUEUES);
	keys = calloc(TF_FP_QUEUES, sizeof(*keys));
	qs = calloc(TF_FP_QUEUES, sizeof(*qs));
	if (!all || !keys || !qs) {
		err = tf_err(-ENOMEM, "out of memory");
		goto out;
	}
	batched = tf_map_read_range(s->stats, TF_FP_QKEY(port->slot, 0), TF_FP_QUEUES, keys, all);
	for (__u32 q = 0; q < TF_FP_QUEUES; q++) {
		struct tf_fastpath_qstats *d = &qs[*n];
		__u32 k = TF_FP_QKEY(port->slot, q);
		bool any = false;

		buf = all + (size_t)vsz * (batched ? q : 0);
		if (!batched && bpf_map_lookup_elem(s->stats, &k, buf))
			continue;
		memset(d, 0, sizeof(*d));
		d->queue = q;
		for (int c = 0; c < ncpu; c++) {
			const struct tf_fp_qstats *v = (void *)(buf + c * stride);

			for (int a = 0; a < TF_FP_ACT__MAX; a++) {
				d->packets[a] += v->packets[a];
				d->bytes[a] += v->bytes[a];
			}
			d->xsk_miss += v->xsk_miss;
			d->learned += v->learned;
		}
		for (int a = 0; a < TF_FP_ACT__MAX; a++) {
			any |= d->packets[a] != 0;
			if (total) {
				total->packets[a] += d->packets[a];
				total->bytes[a] += d->bytes[a];
			}
		}
		any |= d->xsk_miss || d->learned;
		if (total) {
			total->xsk_miss += d->xsk_miss;
			total->learned += d->learned;
		}
		if (any)
			(*n)++;
	}
	if (total)
		total->queue = TF_FP_QUEUES;
	*out = qs;
	qs = NULL;
out:
	free(all);
	free(keys);
	free(qs);
	return err;
}

int tf_fastpath_stats(const char *name, struct tf_fastpath_qstats **out, size_t *n,
		      struct tf_fastpath_qstats *total)
{
	struct tf_fp_port port;
	int ifindex, err;
	struct fp s;

	*out = NULL;
	*n = 0;
	err = open_port(&s, name, &ifindex, &port, true);
	if (err)
		return err;
	err = read_port_stats(&s, &port, out, n, total);
	fp_close(&s);
	return err;
}

void tf_fastpath_ports_free(struct tf_fp_port_stats *ports, size_t n)
{
	for (size_t i = 0; ports && i < n; i++)
		free(ports[i].q);
	free(ports);
}

int tf_fastpath_ports(struct tf_fp_port_stats **out, size_t *n)
{
	struct tf_fp_port_stats *ps = NULL;
	__u32 k, next, *prev = NULL;
	size_t cnt = 0;
	struct fp s;
	int err;

	*out = NULL;
	*n = 0;
	err = fp_open_ro(&s);
	if (err == -ENOENT)
		return 0;	/* not on in this namespace: no ports */
	if (err)
		return err;
	if (!fp_same_netns(&s))
		goto out;
	ps = calloc(TF_FP_MAX_PORTS, sizeof(*ps));
	if (!ps) {
		err = tf_err(-ENOMEM, "out of memory");
		goto out;
	}
	while (cnt < TF_FP_MAX_PORTS && !bpf_map_get_next_key(s.ports, prev, &next)) {
		struct tf_fp_port port;
		struct tf_fp_port_stats *p = &ps[cnt];

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(s.ports, &k, &port))
			continue;
		snprintf(p->name, sizeof(p->name), "%s", port.name);
		p->ifindex = k;
		p->kind = port.kind;
		err = read_port_stats(&s, &port, &p->q, &p->nqueues, NULL);
		if (err)
			goto out;
		cnt++;
	}
	*out = ps;
	*n = cnt;
	ps = NULL;
out:
	tf_fastpath_ports_free(ps, cnt);
	fp_close(&s);
	return err;
}

/* ---- hooks into the tap module --------------------------------------------- */

static void on_tap_delete(int ifindex, const char *name)
{
	struct tf_fp_port port;
	struct fp s;

	if (fp_open(&s, false))
		return;
	if (fp_same_netns(&s) && fp_port(&s, ifindex, &port)) {
		prog_detach(ifindex, port.kind == TF_FP_PORT_TAP ? PROG_TAP : PROG_UPLINK);
		fp_forget(&s, ifindex, &port);
		pr_info("%s: fast path state removed", name);
	}
	fp_release(&s);
}

static int on_tap_show(int ifindex, const char *name, struct tf_json *j, FILE *text)
{
	struct tf_fp_port port;

	(void)name;
	if (!tf_fastpath_is_port(ifindex, &port) || port.kind != TF_FP_PORT_TAP)
		return 0;
	if (j) {
		tf_json_obj_begin(j, "fastpath");
		tf_json_bool(j, "on", true);
		tf_json_u64(j, "slot", port.slot);
		tf_json_u64(j, "xsk_rules", port.nrules);
		tf_json_obj_end(j);
	} else {
		fprintf(text, "    fastpath: on (XDP native, slot %u, %u AF_XDP rule%s)\n",
			port.slot, port.nrules, port.nrules == 1 ? "" : "s");
	}
	return 1;
}

__attribute__((constructor)) static void fastpath_register_hooks(void)
{
	if (tf_tap_register_delete_hook)
		tf_tap_register_delete_hook(on_tap_delete);
	if (tf_tap_register_show_hook)
		tf_tap_register_show_hook(on_tap_show);
}
