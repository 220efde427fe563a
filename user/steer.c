// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Host → guest queue steering: loads bpf/steer.bpf.c for one tap, fills its
 * maps, installs it with TUNSETSTEERINGEBPF and records what it did under
 * TF_STEER_PIN_DIR, so that `tapflow show` can report the mode and deleting
 * the tap cleans up. See tf_steer.h for why installing needs a short-lived
 * extra queue and why that queue disturbs no backend.
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
#include "json.h"
#include "log.h"
#include "steer.skel.h"

#define TUN_DEV "/dev/net/tun"

const uint8_t tf_rss_default_key[TF_STEER_KEY_LEN] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2,
	0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
	0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4,
	0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
	0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

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

/* ---- Toeplitz --------------------------------------------------------------- */

/* The 32 key bits starting at bit k (MSB of key[0] is bit 0). */
static uint32_t key_window(const uint8_t key[TF_STEER_KEY_LEN], unsigned int k)
{
	uint32_t w = 0;

	for (unsigned int b = k; b < k + 32; b++)
		w = w << 1 | ((key[b / 8] >> (7 - b % 8)) & 1);
	return w;
}

uint32_t tf_toeplitz(const uint8_t key[TF_STEER_KEY_LEN], const uint8_t *in, size_t len)
{
	uint32_t h = 0;

	for (size_t i = 0; i < len && i < TF_STEER_HASH_IN_MAX; i++)
		for (unsigned int b = 0; b < 8; b++)
			if (in[i] & (0x80 >> b))
				h ^= key_window(key, i * 8 + b);
	return h;
}

void tf_toeplitz_table(const uint8_t key[TF_STEER_KEY_LEN],
		       uint32_t tab[TF_STEER_HASH_IN_MAX][256])
{
	for (unsigned int i = 0; i < TF_STEER_HASH_IN_MAX; i++) {
		uint32_t win[8];

		for (unsigned int b = 0; b < 8; b++)
			win[b] = key_window(key, i * 8 + b);
		for (unsigned int v = 0; v < 256; v++) {
			uint32_t h = 0;

			for (unsigned int b = 0; b < 8; b++)
				if (v & (0x80 >> b))
					h ^= win[b];
			tab[i][v] = h;
		}
	}
}

/* ---- parsing ------------------------------------------------------------------ */

int tf_steer_parse_key(const char *s, uint8_t key[TF_STEER_KEY_LEN])
{
	unsigned int n = 0, nib = 0;
	uint8_t out[TF_STEER_KEY_LEN];
	int hi = -1;

	if (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2))
		s += 2;
	for (const char *p = s; *p; p++) {
		int v;

		if ((*p == ':' || *p == '-') && hi < 0)
			continue;
		if (!isxdigit((unsigned char)*p))
			return tf_err(-EINVAL, "--key: '%c' is not a hex digit (want %d bytes as hex)",
				      *p, TF_STEER_KEY_LEN);
		v = isdigit((unsigned char)*p) ? *p - '0' : tolower((unsigned char)*p) - 'a' + 10;
		nib++;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n < TF_STEER_KEY_LEN)
			out[n] = hi << 4 | v;
		n++;
		hi = -1;
	}
	if (hi >= 0 || n != TF_STEER_KEY_LEN)
		return tf_err(-EINVAL, "--key: %u hex digits, need %d (%d bytes)", nib,
			      TF_STEER_KEY_LEN * 2, TF_STEER_KEY_LEN);
	memcpy(key, out, sizeof(out));
	return 0;
}

int tf_steer_parse_indir(const char *s, unsigned int nqueues,
			 uint16_t indir[TF_STEER_INDIR_MAX], unsigned int *len)
{
	uint16_t out[TF_STEER_INDIR_MAX];
	unsigned int n = 0;
	const char *p = s;

	while (1) {
		char tok[16];
		size_t l = strcspn(p, ",");
		unsigned long q;
		int err;

		if (n == TF_STEER_INDIR_MAX)
			return tf_err(-EINVAL, "--indir: more than %d entries", TF_STEER_INDIR_MAX);
		if (!l || l >= sizeof(tok))
			return tf_err(-EINVAL, "--indir: '%.*s' is not a queue number", (int)l, p);
		memcpy(tok, p, l);
		tok[l] = '\0';
		err = tf_parse_uint(tok, "--indir", 0, nqueues - 1, &q);
		if (err)
			return err;
		out[n++] = q;
		if (!p[l])
			break;
		p += l + 1;
	}
	if (n & (n - 1))
		return tf_err(-EINVAL, "--indir: %u entries, need a power of two (1..%d)",
			      n, TF_STEER_INDIR_MAX);
	memcpy(indir, out, n * sizeof(out[0]));
	*len = n;
	return 0;
}

/* Take "ADDR:" or "[ADDR6]:" (or the final "ADDR"/"PORT" when last) off *p. */
static int next_field(const char **p, char *buf, size_t len, bool bracketed_ok, bool last)
{
	const char *s = *p, *e;
	size_t l;

	if (bracketed_ok && *s == '[') {
		e = strchr(s, ']');
		if (!e)
			return -1;
		l = e - s - 1;
		s++;
		e++;
	} else {
		e = last ? s + strlen(s) : strchr(s, ':');
		if (!e)
			return -1;
		l = e - s;
	}
	if (!l || l >= len)
		return -1;
	memcpy(buf, s, l);
	buf[l] = '\0';
	if (last) {
		if (*e)
			return -1;
		*p = e;
	} else {
		if (*e != ':')
			return -1;
		*p = e + 1;
	}
	return 0;
}

static int parse_addr(const char *a, struct tf_steer_rule *r, __be32 *out)
{
	int family = strchr(a, ':') ? 6 : 4;

	if (r->family && r->family != family)
		return -1;
	r->family = family;
	if (inet_pton(family == 6 ? AF_INET6 : AF_INET, a, out) != 1)
		return -1;
	return 0;
}

static int parse_port(const char *s, bool any, __be16 *out)
{
	unsigned long v;
	char *end;

	if (!strcmp(s, "*") && any) {
		*out = 0;
		return 0;
	}
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535 || (any && v))
		return -1;
	*out = htons(v);
	return 0;
}

int tf_steer_parse_rule(const char *s, unsigned int nqueues, struct tf_steer_rule_q *rq)
{
	struct tf_steer_rule *r = &rq->rule;
	char body[160], proto[8], src[48], sport[8], dst[48], dport[8];
	const char *eq = strrchr(s, '='), *p = body;
	unsigned long q;
	bool ip;
	int err;

	memset(rq, 0, sizeof(*rq));
	if (!eq || (size_t)(eq - s) >= sizeof(body))
		return tf_err(-EINVAL, "--rule '%s': want PROTO:SRC:SPORT:DST:DPORT=QUEUE", s);
	memcpy(body, s, eq - s);
	body[eq - s] = '\0';
	err = tf_parse_uint(eq + 1, "queue", 0, nqueues - 1, &q);
	if (err) {
		char why[256];

		snprintf(why, sizeof(why), "%s", tf_errmsg());
		return tf_err(err, "--rule '%s': %s", s, why);
	}
	rq->queue = q;
	if (next_field(&p, proto, sizeof(proto), false, false) ||
	    next_field(&p, src, sizeof(src), true, false) ||
	    next_field(&p, sport, sizeof(sport), false, false) ||
	    next_field(&p, dst, sizeof(dst), true, false) ||
	    next_field(&p, dport, sizeof(dport), false, true))
		return tf_err(-EINVAL, "--rule '%s': want PROTO:SRC:SPORT:DST:DPORT=QUEUE "
			      "(IPv6 addresses in brackets)", s);
	if (!strcmp(proto, "tcp"))
		r->proto = IPPROTO_TCP;
	else if (!strcmp(proto, "udp"))
		r->proto = IPPROTO_UDP;
	else if (strcmp(proto, "ip"))
		return tf_err(-EINVAL, "--rule '%s': protocol '%s' is not tcp, udp or ip", s, proto);
	ip = !r->proto;
	if (parse_addr(src, r, r->saddr) || parse_addr(dst, r, r->daddr))
		return tf_err(-EINVAL, "--rule '%s': bad address or mixed IPv4/IPv6", s);
	if (parse_port(sport, ip, &r->sport) || parse_port(dport, ip, &r->dport))
		return tf_err(-EINVAL, ip ? "--rule '%s': ip rules match any port: give 0 or *" :
				       "--rule '%s': ports are 0..65535", s);
	return 0;
}

/* ---- pins ---------------------------------------------------------------------- */

static int pin_dir(int ifindex, char *buf, size_t len)
{
	uint32_t ino = 0;
	int err = tf_netns_self(&ino);

	if (err)
		return err;
	snprintf(buf, len, "%s/%u-%d", TF_STEER_PIN_DIR, ino, ifindex);
	return 0;
}

/* Remove one tap's pins, and the steer directory with the last of them. */
static void unpin_dir(const char *dir)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/conf", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/rules", dir);
	unlink(path);
	rmdir(dir);
	tf_pin_rmdir(TF_STEER_PIN_DIR);
}

static void unpin(int ifindex)
{
	char dir[128];

	if (!pin_dir(ifindex, dir, sizeof(dir)))
		unpin_dir(dir);
}

/*
 * The kernel drops a steering program with its device, but pins outlive
 * it when the tap goes without `tapflow delete` (ip link del, or its
 * namespace deleted). Forget pins of devices that no longer exist.
 */
static void reclaim_stale_pins(void)
{
	char dir[300], ifname[IF_NAMESIZE];
	struct dirent *de;
	uint32_t self = 0;
	DIR *d;

	if (tf_netns_self(&self) || !(d = opendir(TF_STEER_PIN_DIR)))
		return;
	while ((de = readdir(d))) {
		unsigned int ino, ifindex;
		bool stale;

		if (sscanf(de->d_name, "%u-%u", &ino, &ifindex) != 2)
			continue;
		if (ino == self)
			stale = !if_indextoname(ifindex, ifname);
		else
			stale = !tf_netns_alive(ino);
		if (!stale)
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", TF_STEER_PIN_DIR, de->d_name);
		pr_debug("steer: %s: its device is gone, removing its pins", dir);
		unpin_dir(dir);
	}
	closedir(d);
}

/* Pin the maps into "<dir>-new"; commit_pins() puts them in place. */
static int pin_maps(int ifindex, struct steer *skel)
{
	char dir[160], path[192];
	int err;

	err = pin_dir(ifindex, dir, sizeof(dir) - 4);
	if (err)
		return err;
	strcat(dir, "-new");
	reclaim_stale_pins();
	unpin_dir(dir);
	if ((err = tf_pin_mkdir(TF_STEER_PIN_DIR)) || (err = tf_pin_mkdir(dir)))
		return err;
	snprintf(path, sizeof(path), "%s/conf", dir);
	err = bpf_map__pin(skel->maps.conf, path);
	if (!err) {
		snprintf(path, sizeof(path), "%s/rules", dir);
		err = bpf_map__pin(skel->maps.rules, path);
	}
	if (err) {
		unpin_dir(dir);
		return tf_err(err, "pin %s: %s", path, strerror(-err));
	}
	return 0;
}

static void drop_new_pins(int ifindex)
{
	char dir[160];

	if (!pin_dir(ifindex, dir, sizeof(dir) - 4))
		unpin_dir(strcat(dir, "-new"));
}

static int commit_pins(int ifindex)
{
	char dir[128], tmp[160];
	int err;

	if ((err = pin_dir(ifindex, dir, sizeof(dir))))
		return err;
	snprintf(tmp, sizeof(tmp), "%s-new", dir);
	unpin_dir(dir);
	if (rename(tmp, dir))
		return tf_err(-errno, "rename %s: %s", tmp, strerror(errno));
	return 0;
}

int tf_steer_get(int ifindex, struct tf_steer_conf *conf)
{
	char dir[128], path[160];
	__u32 zero = 0;
	int fd, err;

	err = pin_dir(ifindex, dir, sizeof(dir));
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/conf", dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : tf_err(-errno, "%s: %s", path, strerror(errno));
	err = bpf_map_lookup_elem(fd, &zero, conf);
	close(fd);
	if (err)
		return tf_err(-errno, "%s: %s", path, strerror(errno));
	return 1;
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
		err = tf_err(-errno, "%s: TUNSETSTEERINGEBPF: %s", info->name, strerror(errno));
	close(fd);
	return err;
}

static int tap_lookup(const char *name, struct tf_tap_info *info, unsigned int *nqueues)
{
	int err = tf_tap_get(name, info);

	if (err)
		return err;
	if (!info->tap || !info->multi_queue)
		return tf_err(-EINVAL, "%s: steering needs a multiqueue tap (IFF_TAP|IFF_MULTI_QUEUE)",
			      name);
	if (nqueues)
		*nqueues = info->by_tapflow && info->conf.queues ? info->conf.queues
								 : info->queues_attached;
	return 0;
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
	struct steer *skel = NULL;
	unsigned int nq = 0;
	__u32 zero = 0;
	int err;

	err = tap_lookup(name, &info, &nq);
	if (err)
		return err;
	err = fill_conf(name, o, nq, &c);
	if (err)
		return err;

	skel = steer__open();
	if (!skel)
		return tf_err(-errno, "steer: cannot open the BPF object: %s", strerror(errno));
	if (o->mode == TF_STEER_RSS)
		tf_toeplitz_table(c.key, (uint32_t (*)[256])skel->rodata->toeplitz);
	err = steer__load(skel);
	if (err) {
		err = tf_err(err, "steer: loading the steering program failed: %s", strerror(-err));
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
	/* Pins first, so that a program is never installed without its record. */
	err = pin_maps(info.ifindex, skel);
	if (err)
		goto out;
	err = set_prog(&info, bpf_program__fd(skel->progs.tf_steer));
	if (err) {
		drop_new_pins(info.ifindex);
		goto out;
	}
	err = commit_pins(info.ifindex);
	if (err)
		goto out;
	pr_info("%s: steering %s installed", name, tf_steer_mode_name(o->mode));
out:
	steer__destroy(skel);
	return err;
}

int tf_steer_off(const char *name)
{
	struct tf_tap_info info;
	int err;

	err = tap_lookup(name, &info, NULL);
	if (err)
		return err;
	err = set_prog(&info, -1);
	if (err)
		return err;
	unpin(info.ifindex);
	return 0;
}

/* ---- tap hooks ----------------------------------------------------------------- */

static void delete_hook(int ifindex, const char *name)
{
	(void)name;
	unpin(ifindex);
}

static int show_hook(int ifindex, const char *name, struct tf_json *j, FILE *text)
{
	struct tf_steer_conf c;

	(void)name;
	if (tf_steer_get(ifindex, &c) != 1)
		return 0;
	if (j) {
		tf_json_obj_begin(j, "steering");
		tf_json_str(j, "mode", tf_steer_mode_name(c.mode));
		tf_json_u64(j, "queues", c.queues);
		if (c.mode == TF_STEER_RSS) {
			char key[TF_STEER_KEY_LEN * 2 + 1];

			for (int i = 0; i < TF_STEER_KEY_LEN; i++)
				sprintf(key + 2 * i, "%02x", c.key[i]);
			tf_json_str(j, "key", key);
			tf_json_u64(j, "hash_types", c.hash_types);
			tf_json_arr_begin(j, "indir");
			for (unsigned int i = 0; i < c.indir_len && i < TF_STEER_INDIR_MAX; i++)
				tf_json_u64(j, NULL, c.indir[i]);
			tf_json_arr_end(j);
		}
		if (c.mode == TF_STEER_FIXED)
			tf_json_u64(j, "rules", c.nrules);
		tf_json_u64(j, "default_queue", c.default_queue);
		tf_json_obj_end(j);
	} else {
		fprintf(text, "    steering: %s", tf_steer_mode_name(c.mode));
		if (c.mode == TF_STEER_RSS)
			fprintf(text, " (key %02x%02x%02x%02x..., %u-entry indirection table)",
				c.key[0], c.key[1], c.key[2], c.key[3], c.indir_len);
		else if (c.mode == TF_STEER_FIXED)
			fprintf(text, " (%u rules, default queue %u)", c.nrules, c.default_queue);
		fputc('\n', text);
	}
	return 1;
}

__attribute__((constructor)) static void steer_register_hooks(void)
{
	tf_tap_register_delete_hook(delete_hook);
	tf_tap_register_show_hook(show_hook);
}
