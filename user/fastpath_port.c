// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Fast path ports: accelerated taps and uplinks in and out, their programs
 * attached through libxdp, and what the fast path does when a tap is
 * deleted or shown (its struct tf_module).
 *
 * One copy of each program serves every port of a namespace (it finds its
 * port by the frame's ingress ifindex): the first port of its kind loads it
 * through libxdp, which picks the multi-program dispatcher or, on a kernel
 * without freplace, legacy mode, and pins it beside the maps; every later
 * port attaches that copy. So adding a port is map updates and an attach,
 * not a load and a verification:
 *
 *   pinned copy is BPF_PROG_TYPE_XDP (legacy) ─▶ bpf_xdp_attach(ifindex, fd)
 *   pinned copy is BPF_PROG_TYPE_EXT          ─▶ libxdp links it into the
 *                                                device's own dispatcher
 *                                                (one dispatcher load per device)
 *
 * The pin goes with the namespace's last port; a device still holding the
 * program keeps it alive until it is detached or the device goes away.
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
#include <linux/if_link.h>
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
#include "module.h"

#define PROG_TAP	TF_FP_PROG_TAP
#define PROG_UPLINK	TF_FP_PROG_UPLINK

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

/*
 * An accelerated tap must be a tap, and tapflow's. *nqueues: the queues it
 * was made with, or more if more are attached: each gets a row.
 */
static int resolve_tap(const char *name, int *ifindex, unsigned int *nqueues)
{
	struct tf_tap_info info;
	int err = tf_ifindex(name, ifindex);

	if (err)
		return err;
	err = tf_tap_get(name, &info);
	if (err)
		return err;
	if (!info.tap)
		return tf_err(-EINVAL, "'%s' is a tun (layer 3) device; the fast path needs a tap", name);
	if (!info.by_tapflow)
		return tf_err(-EINVAL, "'%s' was not created by tapflow (tapflow create %s --fastpath)",
			      name, name);
	*nqueues = info.conf.queues > info.queues_attached ? info.conf.queues : info.queues_attached;
	return 0;
}

/* The rx queues of a device (its rx-N directories in sysfs), at least 1. */
static unsigned int rx_queues(const char *dev)
{
	char path[64];
	struct dirent *e;
	unsigned int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", dev);
	d = opendir(path);
	if (!d)
		return 1;
	while ((e = readdir(d)))
		n += !strncmp(e->d_name, "rx-", 3);
	closedir(d);
	return n ? n : 1;
}

/* Loading XDP programs and maps: CAP_BPF (with CAP_NET_ADMIN) or CAP_SYS_ADMIN. */
static int need_caps(const char *what)
{
	return tf_require_bpf_caps(TF_CAP_NET_ADMIN, what);
}

/*
 * Where adding a port starts: the capabilities for WHAT, a sweep of what dead
 * network namespaces left, then the fast path opened (made if missing) and
 * claimed for this one. On error nothing is held.
 */
static int fp_open_claimed(struct fp *s, const char *what)
{
	int err = need_caps(what);

	if (err)
		return err;
	fp_reclaim_dead();
	err = fp_open(s, true);
	if (err)
		return err;
	err = fp_claim_netns(s);
	if (err)
		fp_release(s);
	return err;
}

/* The error for a refused attach: what the user can fix keeps its kind, the rest is exit 3. */
static int attach_error(int err, const char *prog_name, const char *name, enum xdp_attach_mode mode)
{
	/*
	 * The kernel refusing the program or the mode (EOPNOTSUPP: the driver
	 * has no native XDP, a verifier or load error) is exit 3; what the
	 * user can fix (a device that is busy or gone, a missing privilege)
	 * keeps its own kind.
	 */
	bool fixable = err >= 0 || err == -EINVAL || err == -ENODEV || err == -EEXIST ||
		       err == -EBUSY || err == -EPERM;

	return tf_err_as(err < 0 ? err : -EINVAL, fixable ? TF_ERRK_OTHER : TF_ERRK_BPF,
			 "cannot attach %s to %s in %s mode: %s%s",
			 prog_name, name, mode == XDP_MODE_NATIVE ? "native" : "skb",
			 strerror(err < 0 ? -err : EINVAL),
			 err == -EEXIST || err == -EBUSY ? " (another XDP program is there; see xdp-loader status)" : "");
}

/*
 * The pinned copy of PROG_NAME: a libxdp program to attach (*xp), or, for a
 * legacy copy, attached here straight into the device's XDP slot (*xp
 * NULL, *legacy set). -ENOENT: no copy yet.
 */
static int attach_pinned(const struct fp *s, int ifindex, const char *name, const char *prog_name,
			 enum xdp_attach_mode mode, bool *legacy, struct xdp_program **xp)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	char pin[128];
	int fd, err;

	*xp = NULL;
	fd = bpf_obj_get(fp_pin(s, prog_name, pin, sizeof(pin)));
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : tf_err(-errno, "cannot open %s: %s", pin, strerror(errno));
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = tf_err(-errno, "cannot read %s: %s", pin, strerror(errno));
		goto out;
	}
	if (info.type == BPF_PROG_TYPE_XDP) {
		/*
		 * libxdp would build (load and verify) a dispatcher first only to
		 * find again that this copy cannot go in one; attach it as libxdp's
		 * legacy mode does, never over another program.
		 */
		__u32 fl = XDP_FLAGS_UPDATE_IF_NOEXIST |
			   (mode == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);

		err = bpf_xdp_attach(ifindex, fd, fl, NULL);
		if (err)
			err = attach_error(err, prog_name, name, mode);
		else if (legacy)
			*legacy = true;
		goto out;
	}
	*xp = xdp_program__from_fd(fd);
	err = libxdp_get_error(*xp);
	if (err) {
		*xp = NULL;
		err = tf_err(err, "cannot prepare %s for libxdp: %s", pin, strerror(-err));
	}
out:
	close(fd);
	return err;
}

/*
 * Attach the namespace's copy of PROG_NAME to ifindex, loading and pinning
 * it if this is the first port of its kind (see the top of this file).
 */
static int prog_attach(const struct fp *s, int ifindex, const char *name,
		       const char *prog_name, enum xdp_attach_mode mode, bool *legacy)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = s->pin.dir);
	DECLARE_LIBXDP_OPTS(xdp_program_opts, xo, .prog_name = prog_name);
	struct xdp_multiprog *mp;
	struct fastpath *skel = NULL;
	struct xdp_program *xp;
	char pin[128];
	int err;

	libxdp_set_print(libxdp_print);
	err = attach_pinned(s, ifindex, name, prog_name, mode, legacy, &xp);
	if (err != -ENOENT && (err || !xp))
		return err;
	if (err == -ENOENT) {
		skel = fastpath__open_opts(&oo);
		if (!skel)
			return tf_err(-errno, "cannot open the fast path object: %s", strerror(errno));
		bpf_program__set_autoload(!strcmp(prog_name, PROG_TAP) ? skel->progs.tf_fp_uplink
								       : skel->progs.tf_fp_tap, false);
		err = fp_reuse_tx_ports(s, skel, true);
		if (err) {
			fastpath__destroy(skel);
			return tf_err(err, "cannot reuse %s/%s: %s", s->pin.dir, TF_FP_MAP_TX_PORTS,
				      strerror(-err));
		}
		xo.obj = skel->obj;
		xp = xdp_program__create(&xo);
		err = libxdp_get_error(xp);
		if (err) {
			fastpath__destroy(skel);
			return tf_err(err, "cannot prepare %s for libxdp: %s", prog_name, strerror(-err));
		}
	}
	err = xdp_program__attach(xp, ifindex, mode, 0);
	if (err) {
		err = attach_error(err, prog_name, name, mode);
		goto out;
	}
	/*
	 * The copy libxdp loaded (XDP in legacy mode, EXT in a dispatcher)
	 * serves the next ports. Not pinning it only costs them a load.
	 */
	if (skel && bpf_obj_pin(xdp_program__fd(xp), fp_pin(s, prog_name, pin, sizeof(pin))))
		pr_debug("fastpath: cannot pin %s: %s; the next port loads its own copy",
			 pin, strerror(errno));
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (!libxdp_get_error(mp) && mp) {
		if (legacy)
			*legacy = xdp_multiprog__is_legacy(mp);
		xdp_multiprog__close(mp);
	}
out:
	xdp_program__close(xp);
	if (skel)
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

/* Is our program (by name) attached to ifindex, alone or in a dispatcher? */
static bool prog_attached(int ifindex, const char *prog_name)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *p;
	bool found = false;

	libxdp_set_print(libxdp_print);
	if (!mp || libxdp_get_error(mp))
		return false;
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		found = p && !strcmp(xdp_program__name(p), prog_name);
	} else {
		for (p = xdp_multiprog__next_prog(NULL, mp); p && !found; p = xdp_multiprog__next_prog(p, mp))
			found = !strcmp(xdp_program__name(p), prog_name);
	}
	xdp_multiprog__close(mp);
	return found;
}

/*
 * A port is recorded before its program is attached (the program finds
 * its port by ifindex), so a kill between the two, or `ip link set DEV xdp
 * off` behind tapflow's back, leaves a record without a program. An `on`
 * (or `uplink add`) that finds the record therefore checks the device, and
 * attaches the program again when it is gone.
 * 0 when the program is (now) there, *reattached telling which.
 */
static int ensure_attached(const struct fp *s, int ifindex, const char *name, const char *prog_name, enum xdp_attach_mode mode,
			   bool *legacy, bool *reattached)
{
	int err;

	*reattached = false;
	if (prog_attached(ifindex, prog_name))
		return 0;
	err = prog_attach(s, ifindex, name, prog_name, mode, legacy);
	if (err) {
		char why[400];

		snprintf(why, sizeof(why), "%s", tf_errmsg());
		return tf_err(err, "%s: the fast path is recorded but its XDP program is not attached, "
			      "and attaching it again failed: %s", name, why);
	}
	pr_warn("tapflow: %s: the fast path was recorded but its XDP program was gone "
		"(detached behind tapflow's back, or a command killed); attached it again", name);
	*reattached = true;
	return 0;
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

/*
 * Our program on a device with no record of it: its pins were removed
 * behind tapflow's back (the device's XDP slot still holds the program).
 * It would keep the new one out (EBUSY) and no off could find it: detach it.
 */
static int drop_orphan(int ifindex, const char *name, const char *prog_name)
{
	if (!prog_attached(ifindex, prog_name))
		return 0;
	pr_warn("tapflow: %s: a fast path program was attached with no state recorded for it "
		"(pins removed?); detaching it", name);
	return prog_detach(ifindex, prog_name);
}

/* A new port of KIND: an orphaned program of ours taken off first, then added. */
static int port_new(struct fp *s, int ifindex, const char *name, enum tf_fp_port_kind kind,
		    unsigned int nqueues, struct tf_fp_port *port)
{
	int err = drop_orphan(ifindex, name, kind == TF_FP_PORT_TAP ? PROG_TAP : PROG_UPLINK);

	if (!err)
		err = fp_add_port(s, ifindex, name, kind, nqueues);
	if (!err)
		fp_port(s, ifindex, port);
	return err;
}

int tf_fastpath_enable(const char *name, bool *changed, bool *legacy)
{
	struct tf_fp_port port;
	unsigned int nqueues = 1;
	int ifindex, err;
	struct fp s;

	if (changed)
		*changed = false;
	err = resolve_tap(name, &ifindex, &nqueues);
	if (err)
		return err;
	err = fp_open_claimed(&s, "the fast path");
	if (err)
		return err;
	if (fp_port(&s, ifindex, &port)) {
		bool again = false;

		if (port.kind != TF_FP_PORT_TAP)
			err = tf_err(-EEXIST, "'%s' is an uplink, not a tap", name);
		else
			err = ensure_attached(&s, ifindex, name, PROG_TAP, XDP_MODE_NATIVE,
					      legacy, &again);
		if (changed)
			*changed = again;
		goto out;
	}
	err = port_new(&s, ifindex, name, TF_FP_PORT_TAP, nqueues, &port);
	if (err)
		goto out;
	err = prog_attach(&s, ifindex, name, PROG_TAP, XDP_MODE_NATIVE, legacy);
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

static int port_remove(const char *name, enum tf_fp_port_kind kind)
{
	struct tf_fp_port port;
	struct fp s;
	int ifindex, err = tf_ifindex(name, &ifindex);

	if (err)
		return err;
	err = fp_open(&s, false);
	if (!err && (!fp_same_netns(&s) || !fp_port(&s, ifindex, &port) || port.kind != kind)) {
		fp_close(&s);
		err = -ENOENT;
	}
	if (err == -ENOENT && prog_attached(ifindex, kind == TF_FP_PORT_TAP ? PROG_TAP : PROG_UPLINK)) {
		/* a program whose state is gone (pins removed): off still takes it out */
		err = drop_orphan(ifindex, name, kind == TF_FP_PORT_TAP ? PROG_TAP : PROG_UPLINK);
		if (!err)
			pr_info("%s: fast path off", name);
		return err;
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
	return port_remove(name, TF_FP_PORT_TAP);
}

int tf_uplink_add(const char *dev, bool allow_skb, enum tf_xdp_mode *mode)
{
	char drv[32] = "", bus[32] = "";
	struct tf_fp_port port;
	int ifindex, err;
	struct fp s;

	err = tf_ifindex(dev, &ifindex);
	if (err)
		return err;
	if (!drvinfo(dev, drv, sizeof(drv), bus, sizeof(bus)) && !strcmp(drv, "tun"))
		return tf_err(-EINVAL, "'%s' is a tun/tap; accelerate it with tapflow fastpath on", dev);
	if (ifindex == 1 || !strcmp(dev, "lo"))
		return tf_err(-EINVAL, "the loopback device cannot be an uplink");
	err = fp_open_claimed(&s, "an uplink");
	if (err)
		return err;
	if (fp_port(&s, ifindex, &port)) {
		bool again;

		if (port.kind != TF_FP_PORT_UPLINK)
			err = tf_err(-EEXIST, "'%s' is an accelerated tap, not an uplink", dev);
		else
			err = ensure_attached(&s, ifindex, dev, PROG_UPLINK, XDP_MODE_NATIVE,
					      NULL, &again);
		if (err && allow_skb && port.kind == TF_FP_PORT_UPLINK)
			err = ensure_attached(&s, ifindex, dev, PROG_UPLINK, XDP_MODE_SKB,
					      NULL, &again);
		if (!err && mode)
			*mode = attached_mode(ifindex) == XDP_MODE_SKB ? TF_XDP_SKB : TF_XDP_NATIVE;
		goto out;
	}
	err = port_new(&s, ifindex, dev, TF_FP_PORT_UPLINK, rx_queues(dev), &port);
	if (err)
		goto out;
	if (mode)
		*mode = TF_XDP_NATIVE;
	err = prog_attach(&s, ifindex, dev, PROG_UPLINK, XDP_MODE_NATIVE, NULL);
	if (err && allow_skb && err != -EEXIST && err != -EBUSY) {
		pr_warn("%s: native XDP refused (%s); using skb (generic) mode, which is slower",
			dev, tf_errmsg());
		err = prog_attach(&s, ifindex, dev, PROG_UPLINK, XDP_MODE_SKB, NULL);
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
	return port_remove(dev, TF_FP_PORT_UPLINK);
}

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

static int on_tap_show(int ifindex, const char *name, struct tf_tap_attached *a)
{
	struct tf_fp_port port;

	(void)name;
	if (!tf_fastpath_is_port(ifindex, &port) || port.kind != TF_FP_PORT_TAP)
		return 0;
	a->fastpath = true;
	a->fastpath_slot = port.slot;
	a->fastpath_rules = port.nrules;
	return 1;
}

const struct tf_module tf_fastpath_module = {
	.name = "fastpath",
	.tap_delete = on_tap_delete,
	.tap_show = on_tap_show,
};
