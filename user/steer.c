// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Host → guest queue steering: loads bpf/steer.bpf.c for one tap, fills its
 * maps, installs it with TUNSETSTEERINGEBPF and records what it did under
 * TF_STEER_PIN_DIR, so that `tapflow show` can report the mode and deleting
 * the tap cleans up. See tf_steer.h for why installing needs a short-lived
 * extra queue and why that queue disturbs no backend. Parsing the options
 * is in steer_parse.c, the RSS hash in steer_rss.c.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tapflow.h"
#include "log.h"
#include "steer.skel.h"
#include "module.h"

#define TUN_DEV "/dev/net/tun"

static const char *const mode_names[] = {
	[TF_STEER_OFF] = "off",
	[TF_STEER_L3] = "l3",
	[TF_STEER_L4] = "l4",
	[TF_STEER_RSS] = "rss",
	[TF_STEER_FIXED] = "fixed",
};

const char *tf_steer_mode_name(enum tf_steer_mode mode)
{
	if ((unsigned int)mode < ARRAY_SIZE(mode_names) && mode_names[mode])
		return mode_names[mode];
	return "unknown";
}

/* ---- pins ---------------------------------------------------------------------- */

/*
 * One directory per tap, its lock and a version map of its own (the
 * program keeps no metadata). The maps before versions were the same
 * conf and rules, so a directory without the version map reads as 1.
 */
static const struct tf_pin_layout steer_layout = {
	.module = TF_STEER_PIN_MODULE,
	.what = "steering",
	.scope = TF_PIN_TAP,
	.version = TF_STEER_LAYOUT,
	.upgrade = "tapflow steer NAME --off, then steer it again",
};

static const char *const steer_pins[] = { "conf", "rules", "conf_new", "rules_new", "meta" };

static int check_layout(const struct tf_pin *p)
{
	uint32_t v;
	int err = tf_pin_read_version(p, &v);

	return err ? err : tf_pin_check_version(p, v ? v : 1);
}

/* Remove a tap's pins, its directory, and the steer directory with the last. */
static void unpin_all(struct tf_pin *p)
{
	char path[160];

	for (size_t i = 0; i < ARRAY_SIZE(steer_pins); i++)
		unlink(tf_pin_path(p, steer_pins[i], path, sizeof(path)));
	tf_pin_release(p);
}

static void unpin(int ifindex)
{
	struct tf_pin p;

	if (!tf_pin_open(&p, &steer_layout, 0, ifindex, TF_PIN_WRITE))
		unpin_all(&p);
}

static void reclaim_one(struct tf_pin *p, void *arg)
{
	(void)arg;
	unpin_all(p);
}

/*
 * Pin the maps beside the ones in use ("conf_new", "rules_new");
 * commit_pins() puts them in place once the program is installed.
 */
static int pin_maps(struct tf_pin *p, struct steer *skel)
{
	char path[160];
	int err;

	unlink(tf_pin_path(p, "conf_new", path, sizeof(path)));
	err = bpf_map__pin(skel->maps.conf, path);
	if (!err) {
		unlink(tf_pin_path(p, "rules_new", path, sizeof(path)));
		err = bpf_map__pin(skel->maps.rules, path);
	}
	if (err)
		return tf_err(err, "pin %s: %s", path, strerror(-err));
	return 0;
}

static void drop_new_pins(struct tf_pin *p)
{
	char path[160];

	unlink(tf_pin_path(p, "conf_new", path, sizeof(path)));
	unlink(tf_pin_path(p, "rules_new", path, sizeof(path)));
}

/* rename() over the old pin: readers see the old maps or the new, never none. */
static int commit_pins(struct tf_pin *p)
{
	static const char *const names[] = { "rules", "conf" };
	char from[160], to[160];

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(to, sizeof(to), "%s", tf_pin_path(p, names[i], from, sizeof(from)));
		snprintf(from + strlen(from), sizeof(from) - strlen(from), "_new");
		if (rename(from, to))
			return tf_err(-errno, "rename %s: %s", from, strerror(errno));
	}
	return tf_pin_write_version(p);
}

int tf_steer_get(int ifindex, struct tf_steer_conf *conf)
{
	char path[160];
	struct tf_pin p;
	__u32 zero = 0;
	int fd, err;

	err = tf_pin_open(&p, &steer_layout, 0, ifindex, TF_PIN_READ);
	if (err == -ENOENT)
		return 0;
	if (!err)
		err = check_layout(&p);
	if (err)
		goto out;
	fd = bpf_obj_get(tf_pin_path(&p, "conf", path, sizeof(path)));
	if (fd < 0) {
		err = errno == ENOENT ? 0 : tf_err(-errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	err = bpf_map_lookup_elem(fd, &zero, conf);
	close(fd);
	err = err ? tf_err(-errno, "%s: %s", path, strerror(errno)) : 1;
out:
	tf_pin_close(&p);
	return err;
}

/* ---- installing -------------------------------------------------------------- */

/*
 * Reach the tun_struct: attach a queue with the tap's own feature flags
 * (TUNSETIFF rewrites IFF_VNET_HDR and IFF_NO_PI device-wide) and detach it
 * again at once. It was appended last, so no backend's queue moves.
 */
static int open_detached(const struct tf_tap_info *info)
{
	struct ifreq ifr;
	int fd, err;

	fd = open(TUN_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return tf_err(-errno, "%s: %s", TUN_DEV, strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", info->name);
	ifr.ifr_flags = IFF_TAP | IFF_MULTI_QUEUE;
	if (info->no_pi)
		ifr.ifr_flags |= IFF_NO_PI;
	if (info->vnet_hdr)
		ifr.ifr_flags |= IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err = -errno;
		close(fd);
		return tf_err(err, "%s: cannot attach to the tap: %s%s", info->name, strerror(-err),
			      err == -EBUSY ? " (all 256 queue slots taken?)" : "");
	}
	/*
	 * TUNSETIFF makes a tap when there is none by that name: if ours was
	 * deleted since we looked (a racing delete), that new one (gone again
	 * when we close it) must not get the program, nor its pins a record.
	 */
	if (if_nametoindex(info->name) != (unsigned int)info->ifindex) {
		close(fd);
		return tf_err(-ENODEV, "%s: the tap went away (deleted meanwhile)", info->name);
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_DETACH_QUEUE;
	if (ioctl(fd, TUNSETQUEUE, &ifr) < 0) {
		err = -errno;
		close(fd);
		return tf_err(err, "%s: TUNSETQUEUE(IFF_DETACH_QUEUE): %s", info->name, strerror(-err));
	}
	return fd;
}

static int set_prog(const struct tf_tap_info *info, int prog_fd)
{
	int fd = open_detached(info), err = 0;

	if (fd < 0)
		return fd;
	if (ioctl(fd, TUNSETSTEERINGEBPF, &prog_fd) < 0)
		err = tf_err_as(-errno, errno == EPERM ? TF_ERRK_OTHER : TF_ERRK_BPF,
				"%s: TUNSETSTEERINGEBPF: %s", info->name, strerror(errno));
	close(fd);
	return err;
}

static int tap_lookup(const char *name, struct tf_tap_info *info, unsigned int *nqueues)
{
	int err = tf_tap_get(name, info);

	if (err)
		return err;
	if (!info->tap)
		return tf_err(-EINVAL, "%s: steering needs a tap, not a tun (layer 3) device", name);
	if (!info->multi_queue)
		return tf_err(-EINVAL, "%s is a single-queue tap: there is nothing to steer (steering "
			      "picks among a multiqueue tap's queues: tapflow create NAME --queues N)",
			      name);
	if (nqueues)
		*nqueues = info->by_tapflow && info->conf.queues ? info->conf.queues
								 : info->queues_attached;
	return 0;
}

int tf_steer_queues(const char *name, unsigned int *nqueues)
{
	struct tf_tap_info info;
	int err = tap_lookup(name, &info, nqueues);

	if (!err && !*nqueues)
		*nqueues = TF_MAX_QUEUES;	/* unknown: any queue tun can have */
	return err;
}

static int check_queue(const char *name, const char *what, unsigned int q, unsigned int nq)
{
	if (nq && q >= nq)
		return tf_err(-EINVAL, "%s: %s queue %u is out of range (the tap has %u queues)",
			      name, what, q, nq);
	return 0;
}

static int fill_conf(const char *name, const struct tf_steer_opts *o, unsigned int nq,
		     struct tf_steer_conf *c)
{
	int err;

	memset(c, 0, sizeof(*c));
	if (o->mode < TF_STEER_L3 || o->mode > TF_STEER_FIXED)
		return tf_err(-EINVAL, "%s: unknown steering mode %d", name, o->mode);
	c->mode = o->mode;
	c->queues = nq;
	c->default_queue = o->default_queue;
	c->flags = o->flags;
	if ((err = check_queue(name, "default", o->default_queue, nq)))
		return err;
	if (o->mode == TF_STEER_RSS) {
		c->hash_types = o->hash_types ? o->hash_types : TF_RSS_HASH_ALL;
		if (c->hash_types & ~TF_RSS_HASH_ALL)
			return tf_err(-EINVAL, "%s: unknown RSS hash types 0x%x", name, c->hash_types);
		memcpy(c->key, o->has_key ? o->key : tf_rss_default_key, TF_STEER_KEY_LEN);
		if (o->indir_len) {
			if (o->indir_len > TF_STEER_INDIR_MAX || (o->indir_len & (o->indir_len - 1)))
				return tf_err(-EINVAL, "%s: indirection table of %u entries: need a power of two up to %d",
					      name, o->indir_len, TF_STEER_INDIR_MAX);
			c->indir_len = o->indir_len;
			for (unsigned int i = 0; i < o->indir_len; i++) {
				if ((err = check_queue(name, "indirection", o->indir[i], nq)))
					return err;
				c->indir[i] = o->indir[i];
			}
		} else {
			if (!nq)
				return tf_err(-EINVAL, "%s: cannot tell the tap's queue count (no backend "
					      "attached, not created by tapflow): give --indir", name);
			c->indir_len = TF_STEER_INDIR_MAX;
			for (unsigned int i = 0; i < TF_STEER_INDIR_MAX; i++)
				c->indir[i] = i % nq;
		}
	}
	if (o->mode == TF_STEER_FIXED) {
		if (o->nrules > TF_STEER_MAX_RULES)
			return tf_err(-EINVAL, "%s: %zu rules, at most %d", name, o->nrules,
				      TF_STEER_MAX_RULES);
		for (size_t i = 0; i < o->nrules; i++)
			if ((err = check_queue(name, "rule", o->rules[i].queue, nq)))
				return err;
		c->nrules = o->nrules;
	} else if (o->nrules) {
		return tf_err(-EINVAL, "%s: rules are for --mode fixed", name);
	}
	return 0;
}

int tf_steer_set(const char *name, const struct tf_steer_opts *o)
{
	struct tf_tap_info info;
	struct tf_steer_conf c;
	struct tf_pin pin = { .fd = -1 };
	struct steer *skel = NULL;
	unsigned int nq = 0;
	__u32 zero = 0;
	int err;

	err = tap_lookup(name, &info, &nq);
	if (err)
		return err;
	/*
	 * Before anything: a user the tap lets attach (its owner) could set
	 * the program itself, but not keep its pins, and must not end with a
	 * program that no tapflow can see.
	 */
	err = tf_require_bpf_caps(TF_CAP_NET_ADMIN, "steering");
	if (err)
		return err;
	err = fill_conf(name, o, nq, &c);
	if (err)
		return err;

	/* Without it the load fails with EPERM, which is not the kernel refusing. */
	if (!tf_have_cap(TF_CAP_SYS_ADMIN)) {
		err = tf_require_cap(TF_CAP_BPF, "steering");
		if (err)
			return err;
	}
	skel = steer__open();
	if (!skel)
		return tf_err(-errno, "steer: cannot open the BPF object: %s", strerror(errno));
	if (o->mode == TF_STEER_RSS)
		tf_toeplitz_table(c.key, (uint32_t (*)[256])skel->rodata->toeplitz);
	err = steer__load(skel);
	if (err) {
		err = tf_err_bpf(err, "steer: loading the steering program failed: %s", strerror(-err));
		goto out;
	}
	if (bpf_map__update_elem(skel->maps.conf, &zero, sizeof(zero), &c, sizeof(c), 0)) {
		err = tf_err(-errno, "steer: conf map: %s", strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < c.nrules; i++) {
		if (bpf_map__update_elem(skel->maps.rules, &o->rules[i].rule, sizeof(o->rules[i].rule),
					 &o->rules[i].queue, sizeof(__u32), 0)) {
			err = tf_err(-errno, "steer: rules map: %s", strerror(errno));
			goto out;
		}
	}
	/*
	 * Pins first, so that a program is never installed without its record.
	 * The kernel drops a steering program with its device, but pins
	 * outlive it when the tap goes without `tapflow delete` (ip link del,
	 * or its namespace deleted): forget those of devices that are gone.
	 */
	tf_pin_reclaim(&steer_layout, reclaim_one, NULL);
	err = tf_pin_open(&pin, &steer_layout, 0, info.ifindex, TF_PIN_CREATE);
	if (err)
		goto out;
	err = check_layout(&pin);
	if (!err)
		err = pin_maps(&pin, skel);
	if (!err)
		err = set_prog(&info, bpf_program__fd(skel->progs.tf_steer));
	if (err) {
		drop_new_pins(&pin);
		goto out;
	}
	err = commit_pins(&pin);
	if (err)
		goto out;
	pr_info("%s: steering %s installed", name, tf_steer_mode_name(o->mode));
out:
	tf_pin_release(&pin);	/* the directory goes if it holds nothing */
	steer__destroy(skel);
	return err;
}

int tf_steer_off(const char *name)
{
	struct tf_tap_info info;
	struct tf_pin p;
	bool pinned;
	int err;

	err = tap_lookup(name, &info, NULL);
	if (err)
		return err;
	/*
	 * The tap's owner may detach the program (TUNSETSTEERINGEBPF -1) but
	 * not remove its pins: it would leave `show` saying steering is on.
	 * So the capability first, then the pins' lock, then the program.
	 */
	err = tf_require_cap(TF_CAP_NET_ADMIN, "removing steering");
	if (err)
		return err;
	err = tf_pin_open(&p, &steer_layout, 0, info.ifindex, TF_PIN_WRITE);
	if (err && err != -ENOENT)
		return err;
	pinned = !err;
	err = set_prog(&info, -1);
	if (pinned) {
		if (!err)
			unpin_all(&p);
		else
			tf_pin_release(&p);
	}
	return err;
}

/* ---- tap hooks ----------------------------------------------------------------- */

static void delete_hook(int ifindex, const char *name)
{
	(void)name;
	unpin(ifindex);
}

static int show_hook(int ifindex, const char *name, struct tf_tap_attached *a)
{
	(void)name;
	if (tf_steer_get(ifindex, &a->steer) != 1)
		return 0;
	a->steered = true;
	return 1;
}

const struct tf_module tf_steer_module = {
	.name = "steer",
	.tap_delete = delete_hook,
	.tap_show = show_hook,
};
