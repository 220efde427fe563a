// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The multiqueue tap lifecycle (see tf_tap.h): create, delete, list, show.
 *
 * A tap is made the way a VM backend would see it: TUNSETIFF on
 * /dev/net/tun with IFF_TAP|IFF_NO_PI (and IFF_MULTI_QUEUE for more than one
 * queue), then N-1 more opens of the same name to prove that all N queues
 * attach. Everything the kernel
 * knows about the device afterwards (kind "tun", IFLA_TUN_* flags, owner,
 * attached queues, counters) is read back through rtnetlink, never sysfs:
 * sysfs shows the network namespace of whoever mounted it, and tapflow is
 * often run with nsenter into another one. The alias marker tapflow keeps
 * its parameters in is written and parsed in tap_alias.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <linux/capability.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>

#include "tapflow.h"
#include "json.h"
#include "log.h"
#include "module.h"
#include "nl.h"

#define TUN_DEV "/dev/net/tun"

/* A link as rtnetlink reports it, before we know it is a tun/tap. */
struct link {
	struct tf_tap_info info;
	char kind[32];		/* IFLA_INFO_KIND, "" when the device has none */
	bool is_tun;		/* kind "tun": a tun or a tap */
	unsigned short type;	/* ARPHRD_* */
};

/*
 * Put what we were doing in front of the message already recorded (the
 * kernel's reason). tf_err() formats into the buffer tf_errmsg() returns,
 * so the old message is copied out first.
 */
static int __attribute__((format(printf, 2, 3))) err_context(int err, const char *fmt, ...)
{
	char prev[512], what[128];
	va_list ap;

	snprintf(prev, sizeof(prev), "%s", tf_errmsg());
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return tf_err(err, "%s: %s", what, prev);
}

const char *tf_tap_operstate_name(uint8_t operstate)
{
	/*
	 * IF_OPER_* in RFC 2863 order; spelled out because <linux/if.h>, which
	 * names them, clashes with the <net/if.h> that struct ifreq needs.
	 */
	static const char *const names[] = {
		"unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up",
	};

	if (operstate < ARRAY_SIZE(names) && names[operstate])
		return names[operstate];
	return "unknown";
}

/* ---- reading links through rtnetlink -------------------------------------- */

static void parse_tun_data(const struct rtattr *data, struct tf_tap_info *t)
{
	struct rtattr *td[IFLA_TUN_MAX + 1];

	tf_nl_parse_nested(td, IFLA_TUN_MAX, data);
	t->tap = (tf_nl_u8(td[IFLA_TUN_TYPE], 0) & TUN_TYPE_MASK) == IFF_TAP;
	/* The kernel reports "pi", the inverse of IFF_NO_PI. */
	t->no_pi = !tf_nl_u8(td[IFLA_TUN_PI], 1);
	t->vnet_hdr = tf_nl_u8(td[IFLA_TUN_VNET_HDR], 0);
	t->persist = tf_nl_u8(td[IFLA_TUN_PERSIST], 0);
	t->multi_queue = tf_nl_u8(td[IFLA_TUN_MULTI_QUEUE], 0);
	/* Owner and group are only sent when set. */
	if (td[IFLA_TUN_OWNER])
		t->owner = tf_nl_u32(td[IFLA_TUN_OWNER], 0);
	if (td[IFLA_TUN_GROUP])
		t->group = tf_nl_u32(td[IFLA_TUN_GROUP], 0);
	t->queues_attached = tf_nl_u32(td[IFLA_TUN_NUM_QUEUES], 0);
	t->queues_disabled = tf_nl_u32(td[IFLA_TUN_NUM_DISABLED_QUEUES], 0);
}

/* Returns 1 when n described a link, 0 for anything else. */
static int parse_link(const struct nlmsghdr *n, struct link *l)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(n);
	struct rtattr *tb[IFLA_MAX + 1];
	struct tf_tap_info *t = &l->info;
	bool carrier = false;

	if (n->nlmsg_type != RTM_NEWLINK || n->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return 0;
	memset(l, 0, sizeof(*l));
	t->ifindex = ifi->ifi_index;
	t->up = ifi->ifi_flags & IFF_UP;
	t->owner = TF_NO_ID;
	t->group = TF_NO_ID;
	l->type = ifi->ifi_type;
	tf_nl_parse(tb, IFLA_MAX, IFLA_RTA(ifi), IFLA_PAYLOAD(n));

	if (tb[IFLA_IFNAME])
		tf_nl_str(tb[IFLA_IFNAME], t->name, sizeof(t->name));
	t->mtu = tf_nl_u32(tb[IFLA_MTU], 0);
	t->txqueuelen = tf_nl_u32(tb[IFLA_TXQLEN], 0);
	if (tb[IFLA_ADDRESS] && RTA_PAYLOAD(tb[IFLA_ADDRESS]) == 6) {
		t->has_mac = true;
		memcpy(t->mac, RTA_DATA(tb[IFLA_ADDRESS]), 6);
	}
	t->operstate = tf_nl_u8(tb[IFLA_OPERSTATE], 0);
	carrier = tf_nl_u8(tb[IFLA_CARRIER], 0);
	if (tb[IFLA_IFALIAS])
		tf_nl_str(tb[IFLA_IFALIAS], t->alias, sizeof(t->alias));
	if (tb[IFLA_STATS64]) {
		struct rtnl_link_stats64 s;
		size_t len = RTA_PAYLOAD(tb[IFLA_STATS64]);

		memset(&s, 0, sizeof(s));
		memcpy(&s, RTA_DATA(tb[IFLA_STATS64]), len < sizeof(s) ? len : sizeof(s));
		t->stats.rx_packets = s.rx_packets;
		t->stats.tx_packets = s.tx_packets;
		t->stats.rx_bytes = s.rx_bytes;
		t->stats.tx_bytes = s.tx_bytes;
		t->stats.rx_dropped = s.rx_dropped;
		t->stats.tx_dropped = s.tx_dropped;
		t->stats.rx_errors = s.rx_errors;
		t->stats.tx_errors = s.tx_errors;
	}
	if (tb[IFLA_LINKINFO]) {
		struct rtattr *li[IFLA_INFO_MAX + 1];

		tf_nl_parse_nested(li, IFLA_INFO_MAX, tb[IFLA_LINKINFO]);
		if (li[IFLA_INFO_KIND])
			tf_nl_str(li[IFLA_INFO_KIND], l->kind, sizeof(l->kind));
		l->is_tun = !strcmp(l->kind, "tun");
		if (l->is_tun && li[IFLA_INFO_DATA])
			parse_tun_data(li[IFLA_INFO_DATA], t);
	}
	/*
	 * tun reports IFLA_TUN_NUM_QUEUES for a multiqueue tap only. A
	 * single-queue one has carrier exactly while its one queue is
	 * attached (tun_attach/__tun_detach set it).
	 */
	if (l->is_tun && !t->multi_queue)
		t->queues_attached = carrier;
	/* A tap whose alias is not (a well-formed) tapflow marker is foreign. */
	if (l->is_tun && tf_tap_alias_parse(t->alias, &t->conf) == 0) {
		t->by_tapflow = true;
		memcpy(t->conf.name, t->name, sizeof(t->conf.name));
	}
	return 1;
}

int tf_tap_from_nlmsg(const struct nlmsghdr *n, struct tf_tap_info *info)
{
	struct link l;

	if (!parse_link(n, &l) || !l.is_tun)
		return 0;
	*info = l.info;
	return 1;
}

static int get_link_cb(const struct nlmsghdr *n, void *arg)
{
	parse_link(n, arg);
	return 0;
}

/* -ENODEV (message set) when no device has that name. */
static int link_get(struct tf_nl *nl, const char *name, struct link *l)
{
	struct tf_nl_req r;
	struct ifinfomsg *ifi;
	int err;

	ifi = tf_nl_req_init(&r, RTM_GETLINK, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	err = tf_nl_put_str(&r, IFLA_IFNAME, name);
	if (err)
		return err;
	memset(l, 0, sizeof(*l));
	err = tf_nl_talk(nl, &r, get_link_cb, l);
	if (err == -ENODEV)
		return tf_err(-ENODEV, "no device named '%s'", name);
	if (err)
		return err_context(err, "reading link '%s'", name);
	if (!l->info.ifindex)
		return tf_err(-ENODEV, "no device named '%s'", name);
	return 0;
}

/* What kind of device l is, in words, for "taken by a ... device". */
static const char *link_kind(const struct link *l)
{
	if (l->kind[0])
		return l->kind;
	switch (l->type) {
	case ARPHRD_LOOPBACK: return "loopback";
	case ARPHRD_ETHER: return "ethernet (no link kind)";
	case ARPHRD_NONE: return "layer-3 (no link kind)";
	default: return "non-tun";
	}
}

/*
 * Open rtnetlink and read tun/tap `name` into l; a bad name, a missing device
 * or one of another kind fails naming it, "not_tun" saying what it is not.
 * On success nl stays open for the caller.
 */
static int tun_link_open(struct tf_nl *nl, const char *name, struct link *l, const char *not_tun)
{
	int err;

	err = tf_parse_ifname(name, NULL);
	if (err)
		return err;
	err = tf_nl_open(nl);
	if (err)
		return err;
	err = link_get(nl, name, l);
	if (!err && !l->is_tun)
		err = tf_err(-EINVAL, "'%s' is a %s device, %s", name, link_kind(l), not_tun);
	if (err)
		tf_nl_close(nl);
	return err;
}

int tf_tap_get(const char *name, struct tf_tap_info *info)
{
	struct tf_nl nl;
	struct link l;
	int err;

	err = tun_link_open(&nl, name, &l, "not a tun/tap");
	if (err)
		return err;
	tf_nl_close(&nl);
	*info = l.info;
	return 0;
}

struct list_ctx {
	struct tf_tap_info *taps;
	size_t n, cap;
};

static int list_cb(const struct nlmsghdr *n, void *arg)
{
	struct list_ctx *c = arg;
	struct link l;

	if (!parse_link(n, &l) || !l.is_tun)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct tf_tap_info *t = realloc(c->taps, cap * sizeof(*t));

		if (!t)
			return tf_err(-ENOMEM, "out of memory");
		c->taps = t;
		c->cap = cap;
	}
	c->taps[c->n++] = l.info;
	return 0;
}

int tf_tap_list(struct tf_tap_info **taps, size_t *n)
{
	struct list_ctx c = { 0 };
	struct tf_nl_req r;
	struct ifinfomsg *ifi;
	struct tf_nl nl;
	int err;

	err = tf_nl_open(&nl);
	if (err)
		return err;
	ifi = tf_nl_req_init(&r, RTM_GETLINK, NLM_F_DUMP, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	err = tf_nl_talk(&nl, &r, list_cb, &c);
	tf_nl_close(&nl);
	if (err) {
		free(c.taps);
		return err_context(err, "listing links");
	}
	*taps = c.taps;
	*n = c.n;
	return 0;
}

void tf_tap_list_free(struct tf_tap_info *taps)
{
	free(taps);
}

/* ---- create ---------------------------------------------------------------- */

/* The parameters an existing tapflow tap has, resolved like a request. */
static void have_opts(const struct tf_tap_info *t, struct tf_tap_opts *have)
{
	/*
	 * Queues exist only in the alias. vnet_hdr too: the kernel's flag is
	 * whatever the last backend to attach asked for (qemu turns it on).
	 * The rest is read live, so a change made behind tapflow's back (ip
	 * link set mtu) is reported rather than papered over.
	 */
	memset(have, 0, sizeof(*have));
	memcpy(have->name, t->name, sizeof(have->name));
	have->queues = t->conf.queues;
	have->vnet_hdr = t->conf.vnet_hdr;
	have->owner = t->owner;
	have->group = t->group;
	have->mtu = t->mtu;
	have->txqueuelen = t->txqueuelen;
	have->has_mac = t->has_mac;
	memcpy(have->mac, t->mac, 6);
	have->multi_queue = t->multi_queue;
}

/*
 * A tap an older tapflow made: its alias says neither owner nor group
 * (tapflow now always sets one), and it is multiqueue even with one queue.
 * A request that gave neither --owner nor --group, and for one queue no
 * --multi-queue, still finds it the same tap: those differences are the
 * older defaults, not the user's, and a warning says how to re-make it.
 */
static bool legacy_match(const struct tf_tap_info *t, const struct tf_tap_opts *want,
			 bool default_owner, struct tf_tap_opts *have)
{
	if (!default_owner || t->conf.owner != TF_NO_ID || t->conf.group != TF_NO_ID ||
	    have->owner != TF_NO_ID || have->group != TF_NO_ID)
		return false;
	have->owner = want->owner;
	have->group = want->group;
	if (have->queues == 1 && have->multi_queue)
		have->multi_queue = want->multi_queue;
	return true;
}

/* 0 when l is a tapflow tap matching o, else -EEXIST naming why not. */
static int check_existing(const struct link *l, const struct tf_tap_opts *o,
			  bool default_owner)
{
	const struct tf_tap_info *t = &l->info;
	struct tf_tap_opts have;
	bool legacy;
	char diff[512];

	if (!l->is_tun)
		return tf_err(-EEXIST, "'%s' is taken by a %s device, not a tap",
			      o->name, link_kind(l));
	if (!t->tap)
		return tf_err(-EEXIST, "'%s' exists as a tun (layer 3) device, not a tap", o->name);
	if (!t->by_tapflow)
		return tf_err(-EEXIST, "'%s' exists and was not created by tapflow", o->name);
	have_opts(t, &have);
	legacy = legacy_match(t, o, default_owner, &have);
	if (tf_tap_opts_diff(&have, o, diff, sizeof(diff)))
		return tf_err(-EEXIST, "%s", diff);
	if (legacy)
		pr_warn("tapflow: warning: %s was made by an older tapflow without an owner, so "
			"any local user can open it; to have it owned by root, stop its backend and "
			"re-make it: tapflow delete %s && tapflow create %s [options]",
			o->name, o->name, o->name);
	return 0;
}

static int validate(const struct tf_tap_opts *o)
{
	int err = tf_parse_ifname(o->name, NULL);

	if (err)
		return err;
	if (o->queues < 1 || o->queues > TF_MAX_QUEUES)
		return tf_err(-EINVAL, "queues: %u is out of range (1 to %d)", o->queues,
			      TF_MAX_QUEUES);
	if (o->mtu < TF_TAP_MIN_MTU || o->mtu > TF_TAP_MAX_MTU)
		return tf_err(-EINVAL, "mtu: %u is out of range (%d to %d)", o->mtu,
			      TF_TAP_MIN_MTU, TF_TAP_MAX_MTU);
	if (o->txqueuelen > TF_TAP_MAX_TXQLEN)
		return tf_err(-EINVAL, "txqueuelen: %u is out of range (1 to %d)", o->txqueuelen,
			      TF_TAP_MAX_TXQLEN);
	if (o->owner < TF_NO_ID || o->owner >= 0xffffffffL ||
	    o->group < TF_NO_ID || o->group >= 0xffffffffL)
		return tf_err(-EINVAL, "owner or group id out of range");
	if (o->has_mac && ((o->mac[0] & 1) || !(o->mac[0] | o->mac[1] | o->mac[2] |
						  o->mac[3] | o->mac[4] | o->mac[5])))
		return tf_err(-EINVAL, "mac: a tap needs a unicast, non-zero address");
	return 0;
}

/* One queue: TUNSETIFF on a fresh /dev/net/tun fd. Returns the fd or -errno. */
static int open_queue(const struct tf_tap_opts *o, bool excl)
{
	struct ifreq ifr;
	int fd, err;

	fd = open(TUN_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		return tf_err(err == ENOENT ? -ENXIO : -err, "%s: %s (is the tun module loaded?)",
			      TUN_DEV, strerror(err));
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, o->name, strlen(o->name) + 1);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (o->multi_queue ? IFF_MULTI_QUEUE : 0);
	if (o->vnet_hdr)
		ifr.ifr_flags |= IFF_VNET_HDR;
	/* IFF_TUN_EXCL: create, never attach to a tap someone made meanwhile. */
	if (excl)
		ifr.ifr_flags |= IFF_TUN_EXCL;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int set_link(struct tf_nl *nl, int ifindex, const struct tf_tap_opts *o)
{
	char alias[TF_TAP_ALIASZ];
	struct ifinfomsg *ifi;
	struct tf_nl_req r;
	int err;

	err = tf_tap_alias_format(o, alias, sizeof(alias));
	if (err < 0)
		return err;
	/* One RTM_NEWLINK on an existing ifindex is a setlink of all of it. */
	ifi = tf_nl_req_init(&r, RTM_NEWLINK, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	err = tf_nl_put_u32(&r, IFLA_MTU, o->mtu) ?:
	      tf_nl_put_u32(&r, IFLA_TXQLEN, o->txqueuelen) ?:
	      tf_nl_put_str(&r, IFLA_IFALIAS, alias);
	if (!err && o->has_mac)
		err = tf_nl_put(&r, IFLA_ADDRESS, o->mac, 6);
	if (err)
		return err;
	err = tf_nl_talk(nl, &r, NULL, NULL);
	/*
	 * Of these attributes only IFLA_TXQLEN is answered with ERANGE: a
	 * kernel whose core bound is below tun's (Debian's 6.1 refuses 32768
	 * and up). The value is bad input there, like one above tun's own.
	 */
	if (err == -ERANGE)
		return tf_err(-EINVAL, "configuring '%s': txqueuelen %u is more than this kernel "
			      "accepts (Numerical result out of range)", o->name, o->txqueuelen);
	if (err)
		return err_context(err, "configuring '%s'", o->name);
	return 0;
}

/*
 * A tap that another tapflow create is making right now: a tap whose alias
 * is empty or tapflow's, not yet persistent (TUNSETPERSIST comes last, and
 * until then the device dies with its creator's fds). Wait for it to be
 * finished or gone, so that two creates of one name with the same
 * parameters both succeed. -ENODEV when it went away (its creator failed or
 * was killed: this create may make it); 0 with l refreshed otherwise. A
 * non-persistent tap held open by some other program stays as it is and is
 * judged after the wait.
 */
static int wait_for_maker(struct tf_nl *nl, const char *name, struct link *l)
{
	const struct timespec step = { 0, 10 * 1000 * 1000 };

	for (int i = 0; i < 200; i++) {
		if (!l->is_tun || !l->info.tap || l->info.persist ||
		    (l->info.alias[0] && !l->info.by_tapflow))
			return 0;
		nanosleep(&step, NULL);
		int err = link_get(nl, name, l);

		if (err)
			return err;
	}
	return 0;
}

int tf_tap_create(const struct tf_tap_opts *in, bool *created)
{
	struct tf_tap_opts o = *in;
	struct tf_nl nl = { .fd = -1 };
	unsigned int i, nfds = 0;
	bool default_owner = in->owner == TF_NO_ID && in->group == TF_NO_ID;
	int tries = 0;
	struct link l;
	int *fds = NULL;
	int err;

	*created = false;
	tf_tap_opts_resolve(&o);
	err = tf_require_cap(TF_CAP_NET_ADMIN, "creating a tap");
	if (err)
		return err;
	err = validate(&o);
	if (err)
		return err;
	err = tf_nl_open(&nl);
	if (err)
		return err;

	fds = calloc(o.queues, sizeof(*fds));
	if (!fds) {
		err = tf_err(-ENOMEM, "out of memory");
		goto out;
	}
again:
	err = link_get(&nl, o.name, &l);
	if (!err)
		err = wait_for_maker(&nl, o.name, &l);
	if (!err) {
		err = check_existing(&l, &o, default_owner);
		goto out;
	}
	if (err != -ENODEV)
		goto out;

	/*
	 * Until TUNSETPERSIST the device lives only as long as our fds: any
	 * failure below just closes them and the kernel unregisters it, so
	 * nothing half-made is ever left behind. Persist is therefore last.
	 */
	err = open_queue(&o, true);
	if (err == -EBUSY && ++tries < 20) {
		/* Someone made it between our look and TUNSETIFF: look again. */
		goto again;
	}
	if (err < 0) {
		err = tf_err(err, "creating tap '%s': %s", o.name, strerror(-err));
		goto out;
	}
	fds[nfds++] = err;
	pr_debug("%s: created, attaching %u more queues", o.name, o.queues - 1);
	for (i = 1; i < o.queues; i++) {
		err = open_queue(&o, false);
		if (err < 0) {
			err = tf_err(err, "tap '%s': queue %u of %u did not attach: %s",
				     o.name, i + 1, o.queues, strerror(-err));
			goto out;
		}
		fds[nfds++] = err;
	}
	if (o.owner != TF_NO_ID && ioctl(fds[0], TUNSETOWNER, (unsigned long)o.owner) < 0) {
		err = tf_err(-errno, "tap '%s': TUNSETOWNER %ld: %s", o.name, o.owner,
			     strerror(errno));
		goto out;
	}
	if (o.group != TF_NO_ID && ioctl(fds[0], TUNSETGROUP, (unsigned long)o.group) < 0) {
		err = tf_err(-errno, "tap '%s': TUNSETGROUP %ld: %s", o.name, o.group,
			     strerror(errno));
		goto out;
	}
	err = link_get(&nl, o.name, &l);
	if (err)
		goto out;
	err = set_link(&nl, l.info.ifindex, &o);
	if (err)
		goto out;
	if (ioctl(fds[0], TUNSETPERSIST, 1UL) < 0) {
		err = tf_err(-errno, "tap '%s': TUNSETPERSIST: %s", o.name, strerror(errno));
		goto out;
	}
	*created = true;
	pr_info("%s: created with %u queues (ifindex %d)", o.name, o.queues, l.info.ifindex);
	err = 0;
out:
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	free(fds);
	tf_nl_close(&nl);
	return err;
}

/* ---- delete ---------------------------------------------------------------- */

int tf_tap_delete(const char *name, bool force)
{
	struct tf_nl_req r;
	struct ifinfomsg *ifi;
	struct tf_nl nl;
	struct link l;
	int err;

	err = tf_require_cap(TF_CAP_NET_ADMIN, "deleting a tap");
	if (err)
		return err;
	/* --force overrides tapflow's caution, never the kind of device. */
	err = tun_link_open(&nl, name, &l, "not a tap; tapflow deletes only taps");
	if (err)
		return err;
	if (!l.info.by_tapflow && !force) {
		err = tf_err(-EPERM, "'%s' was not created by tapflow; use --force to delete it anyway",
			     name);
		goto out;
	}
	if (l.info.queues_attached && !force) {
		err = tf_err(-EBUSY, "'%s' has %u queue%s attached by a backend; stop it or use --force",
			     name, l.info.queues_attached, l.info.queues_attached == 1 ? "" : "s");
		goto out;
	}
	tf_modules_tap_delete(l.info.ifindex, name);

	ifi = tf_nl_req_init(&r, RTM_DELLINK, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = l.info.ifindex;
	err = tf_nl_talk(&nl, &r, NULL, NULL);
	if (err) {
		err = err_context(err, "deleting '%s'", name);
	} else {
		/*
		 * Once more, now that the device is gone: a command that raced
		 * this one (steer, fastpath on, trace start, which looked the
		 * tap up before the hooks ran) may have recorded state for it
		 * since. Each hook forgets a gone ifindex's state.
		 */
		tf_modules_tap_delete(l.info.ifindex, name);
		pr_info("%s: deleted (ifindex %d)", name, l.info.ifindex);
	}
out:
	tf_nl_close(&nl);
	return err;
}
