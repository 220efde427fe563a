// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tapflow create / delete / list / show: the tap lifecycle commands. Each
 * declares its options, lets the option engine validate them, calls the
 * library (user/tap.c) and prints; all policy (idempotency, what may be
 * deleted) lives in the library so that API callers get the same rules.
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_cmds.h"
#include "cli_backend.h"
#include "json.h"
#include "log.h"

#define PER_QUEUE_NOTE \
	"device-wide: tun keeps no per-queue counters; per-queue counts come from `tapflow trace`"

/* ---- create ---------------------------------------------------------------- */

struct create_cfg {
	char name[TF_IFNAMSIZ];
	unsigned int queues;
	long owner;
	long group;
	unsigned int mtu;
	uint8_t mac[6];
	unsigned int txqueuelen;
	bool vnet_hdr;
	bool multi_queue;
	bool fastpath;
};

#define STR_(x) #x
#define STR(x) STR_(x)

static const struct cli_opt create_opts[] = {
	CLI_OPT(struct create_cfg, CLI_UINT, queues, "queues", .short_name = 'q', .metavar = "N",
		.help = "queues a backend may attach (1 to 256; default 1)",
		.min = 1, .max = TF_MAX_QUEUES),
	CLI_OPT(struct create_cfg, CLI_USER, owner, "owner",
		.help = "user allowed to attach without CAP_NET_ADMIN (default: root, unless --group)"),
	CLI_OPT(struct create_cfg, CLI_GROUP, group, "group",
		.help = "group allowed to attach without CAP_NET_ADMIN"),
	CLI_OPT(struct create_cfg, CLI_FLAG, multi_queue, "multi-queue",
		.help = "IFF_MULTI_QUEUE even with 1 queue (always with more)"),
	CLI_OPT(struct create_cfg, CLI_UINT, mtu, "mtu", .metavar = "BYTES",
		.help = "MTU (68 to 65535; default 1500)",
		.min = TF_TAP_MIN_MTU, .max = TF_TAP_MAX_MTU),
	CLI_OPT(struct create_cfg, CLI_MAC, mac, "mac",
		.help = "MAC address (default: random, and not compared on re-create)"),
	CLI_OPT(struct create_cfg, CLI_UINT, txqueuelen, "txqueuelen",
		.help = "packets each queue's ring holds (1 to " STR(TF_TAP_MAX_TXQLEN)
			", the kernel's limit; default 500)",
		.min = 1, .max = TF_TAP_MAX_TXQLEN),
	CLI_OPT(struct create_cfg, CLI_FLAG, vnet_hdr, "vnet-hdr",
		.help = "open queues with IFF_VNET_HDR (a virtio-net header on every frame)"),
	CLI_OPT(struct create_cfg, CLI_FLAG, fastpath, "fastpath",
		.help = "also turn the XDP fast path on (as tapflow fastpath on NAME)"),
	CLI_END
};

static int run_create(void *p)
{
	struct create_cfg *cfg = p;
	struct tf_tap_opts o = { 0 };
	bool created, changed, legacy;
	int err;

	memcpy(o.name, cfg->name, sizeof(o.name));
	o.queues = cfg->queues;
	o.owner = cfg->owner;
	o.group = cfg->group;
	o.mtu = cfg->mtu;
	o.txqueuelen = cfg->txqueuelen;
	o.vnet_hdr = cfg->vnet_hdr;
	o.multi_queue = cfg->multi_queue;
	o.has_mac = cli_given("mac");
	memcpy(o.mac, cfg->mac, sizeof(o.mac));

	if (!cfg->fastpath)
		err = tf_tap_create(&o, &created);
	else
		err = tf_tap_create_accelerated(&o, &created, &changed, &legacy);
	if (err)
		return cli_fail(err);
	tf_tap_opts_resolve(&o);
	if (cfg->fastpath) {
		if (!created && !changed) {
			printf("%s already exists with these parameters and the fast path on; nothing changed\n",
			       o.name);
			return TF_EXIT_OK;
		}
		if (created)
			printf("created %s: %u queue%s, mtu %u, txqueuelen %u, fast path on (%s)\n",
			       o.name, o.queues, o.queues == 1 ? "" : "s", o.mtu, o.txqueuelen,
			       legacy ? "libxdp legacy mode" : "libxdp dispatcher");
		else
			printf("%s already exists with these parameters; fast path turned on (%s)\n",
			       o.name, legacy ? "libxdp legacy mode" : "libxdp dispatcher");
		return TF_EXIT_OK;
	}
	if (created)
		printf("created %s: %u queue%s, mtu %u, txqueuelen %u\n", o.name, o.queues,
		       o.queues == 1 ? "" : "s", o.mtu, o.txqueuelen);
	else
		printf("%s already exists with these parameters; nothing changed\n", o.name);
	return TF_EXIT_OK;
}

const struct cli_cmd cli_create = {
	.name = "create",
	.summary = "create a persistent tap (multiqueue with --queues N)",
	.doc = "Create a persistent tap (IFF_TAP|IFF_NO_PI, and IFF_MULTI_QUEUE with more than\n"
	       "one queue or --multi-queue) that a VM backend opens by name, and bring it up.\n"
	       "Without --owner or --group it is owned by root, so no other user can open it.\n"
	       "Creating an existing tapflow tap\n"
	       "with the same parameters changes nothing; different parameters fail.\n"
	       "With --fastpath the tap is accelerated too; if that fails, a tap this\n"
	       "command created is deleted again.",
	.opts = create_opts,
	CLI_TAP_ARG(struct create_cfg),
	CLI_CFG(struct create_cfg, .owner = TF_NO_ID, .group = TF_NO_ID),
	.run = run_create,
};

/* ---- delete ---------------------------------------------------------------- */

struct delete_cfg {
	char name[TF_IFNAMSIZ];
	bool force;
};

static const struct cli_opt delete_opts[] = {
	CLI_OPT(struct delete_cfg, CLI_FLAG, force, "force", .short_name = 'f',
		.help = "also delete a tap tapflow did not create, or one a backend holds"),
	CLI_END
};

static int run_delete(void *p)
{
	struct delete_cfg *cfg = p;
	int err = tf_tap_delete(cfg->name, cfg->force);

	if (err)
		return cli_fail(err);
	printf("deleted %s\n", cfg->name);
	return TF_EXIT_OK;
}

const struct cli_cmd cli_delete = {
	.name = "delete",
	.summary = "delete a tap tapflow created",
	.doc = "Delete a tap that tapflow created, after every module has detached from it.\n"
	       "A device that is not a tun/tap is never deleted, not even with --force.",
	.opts = delete_opts,
	CLI_TAP_ARG(struct delete_cfg),
	CLI_CFG(struct delete_cfg, .force = false),
	.run = run_delete,
};

/* ---- list ------------------------------------------------------------------ */

const struct cli_opt cli_tap_json_opts[] = {
	CLI_OPT(struct cli_tap_cfg, CLI_FLAG, json, "json", .short_name = 'j', .help = "print JSON"),
	CLI_END
};

const struct cli_opt cli_tap_name_arg[] = {
	CLI_ARG(struct cli_tap_cfg, CLI_IFNAME, name, "NAME"),
	CLI_END
};

static void json_queues(struct tf_json *j, const struct tf_tap_info *t)
{
	tf_json_obj_begin(j, "queues");
	if (t->by_tapflow)
		tf_json_u64(j, "configured", t->conf.queues);
	else
		tf_json_null(j, "configured");
	tf_json_u64(j, "attached", t->queues_attached);
	tf_json_u64(j, "disabled", t->queues_disabled);
	tf_json_obj_end(j);
}

static int run_list(void *p)
{
	struct cli_tap_cfg *cfg = p;
	struct tf_tap_info *taps;
	struct tf_json j;
	size_t n;
	int err;

	err = tf_tap_list(&taps, &n);
	if (err)
		return cli_fail(err);
	{
		const char **names = calloc(n ? n : 1, sizeof(*names));
		unsigned int *att = calloc(n ? n : 1, sizeof(*att));

		for (size_t i = 0; names && att && i < n; i++) {
			names[i] = taps[i].name;
			att[i] = taps[i].queues_attached;
		}
		if (names && att)
			cli_backends_refresh(names, att, n);	/* one walk of /proc for all */
		free(names);
		free(att);
	}

	if (cfg->json) {
		tf_json_init(&j, stdout);
		tf_json_arr_begin(&j, NULL);
		for (size_t i = 0; i < n; i++) {
			const struct tf_tap_info *t = &taps[i];

			tf_json_obj_begin(&j, NULL);
			tf_json_str(&j, "name", t->name);
			tf_json_i64(&j, "ifindex", t->ifindex);
			tf_json_str(&j, "mode", t->tap ? "tap" : "tun");
			tf_json_bool(&j, "multi_queue", t->multi_queue);
			json_queues(&j, t);
			tf_json_bool(&j, "tapflow", t->by_tapflow);
			tf_json_str(&j, "operstate", tf_tap_operstate_name(t->operstate));
			cli_backend_json(&j, cli_backend_of(t->name));
			tf_json_obj_end(&j);
		}
		tf_json_arr_end(&j);
		tf_json_end(&j);
	} else {
		printf("%-16s %7s %-4s %-3s %-10s %-8s %-7s %-9s %s\n", "NAME", "IFINDEX", "MODE",
		       "MQ", "QUEUES", "ATTACHED", "TAPFLOW", "STATE", "VM");
		for (size_t i = 0; i < n; i++) {
			const struct tf_tap_info *t = &taps[i];
			char conf[16], att[24];

			if (t->by_tapflow)
				snprintf(conf, sizeof(conf), "%u", t->conf.queues);
			else
				snprintf(conf, sizeof(conf), "-");
			snprintf(att, sizeof(att), "%u/%u", t->queues_attached, t->queues_disabled);
			printf("%-16s %7d %-4s %-3s %-10s %-8s %-7s %-9s %s\n", t->name, t->ifindex,
			       t->tap ? "tap" : "tun", t->multi_queue ? "yes" : "no", conf, att,
			       t->by_tapflow ? "yes" : "no", tf_tap_operstate_name(t->operstate),
			       cli_backend_vm(cli_backend_of(t->name)));
		}
		if (!n)
			printf("(no tun/tap devices in this network namespace)\n");
	}
	tf_tap_list_free(taps);
	return TF_EXIT_OK;
}

const struct cli_cmd cli_list = {
	.name = "list",
	.summary = "list the tun/tap devices of this network namespace",
	.doc = "List every tun/tap device in the current network namespace.",
	.opts = cli_tap_json_opts,
	CLI_CFG(struct cli_tap_cfg, .json = false),
	.run = run_list,
};

/* ---- show ------------------------------------------------------------------ */

static const char *user_name(long uid)
{
	struct passwd *pw = uid == TF_NO_ID ? NULL : getpwuid(uid);

	return pw ? pw->pw_name : NULL;
}

static const char *group_name(long gid)
{
	struct group *gr = gid == TF_NO_ID ? NULL : getgrgid(gid);

	return gr ? gr->gr_name : NULL;
}

static void json_id(struct tf_json *j, const char *key, long id, const char *name)
{
	if (id == TF_NO_ID) {
		tf_json_null(j, key);
		return;
	}
	tf_json_obj_begin(j, key);
	tf_json_u64(j, "id", id);
	tf_json_str(j, "name", name);	/* null when it has no name here */
	tf_json_obj_end(j);
}

static void text_id(char *buf, size_t len, long id, const char *name)
{
	if (id == TF_NO_ID)
		snprintf(buf, len, "none");
	else if (name)
		snprintf(buf, len, "%s (%ld)", name, id);
	else
		snprintf(buf, len, "%ld", id);
}

/* What the modules have attached, as `show --json` has it: one member each. */
static void json_attached(struct tf_json *j, const struct tf_tap_attached *a)
{
	const struct tf_steer_conf *c = &a->steer;

	if (a->fastpath) {
		tf_json_obj_begin(j, "fastpath");
		tf_json_bool(j, "on", true);
		tf_json_u64(j, "slot", a->fastpath_slot);
		tf_json_u64(j, "xsk_rules", a->fastpath_rules);
		tf_json_obj_end(j);
	}
	if (a->steered) {
		tf_json_obj_begin(j, "steering");
		tf_json_str(j, "mode", tf_steer_mode_name(c->mode));
		tf_json_u64(j, "queues", c->queues);
		if (c->mode == TF_STEER_RSS) {
			char key[TF_STEER_KEY_LEN * 2 + 1];

			for (int i = 0; i < TF_STEER_KEY_LEN; i++)
				sprintf(key + 2 * i, "%02x", c->key[i]);
			tf_json_str(j, "key", key);
			tf_json_u64(j, "hash_types", c->hash_types);
			tf_json_arr_begin(j, "indir");
			for (unsigned int i = 0; i < c->indir_len && i < TF_STEER_INDIR_MAX; i++)
				tf_json_u64(j, NULL, c->indir[i]);
			tf_json_arr_end(j);
		}
		if (c->mode == TF_STEER_FIXED)
			tf_json_u64(j, "rules", c->nrules);
		tf_json_u64(j, "default_queue", c->default_queue);
		tf_json_obj_end(j);
	}
	if (a->traced) {
		tf_json_obj_begin(j, "tracing");
		tf_json_str(j, "backend", tf_backend_name(a->trace_backend));
		tf_json_obj_end(j);
	}
}

/* The same as text: one line each, "nothing" when there is nothing. */
static void text_attached(const struct tf_tap_attached *a, int n)
{
	const struct tf_steer_conf *c = &a->steer;

	if (!n)
		printf("    nothing\n");
	if (a->fastpath)
		printf("    fastpath: on (XDP native, slot %u, %u AF_XDP rule%s)\n",
		       a->fastpath_slot, a->fastpath_rules, a->fastpath_rules == 1 ? "" : "s");
	if (a->steered) {
		printf("    steering: %s", tf_steer_mode_name(c->mode));
		if (c->mode == TF_STEER_RSS)
			printf(" (key %02x%02x%02x%02x..., %u-entry indirection table)",
			       c->key[0], c->key[1], c->key[2], c->key[3], c->indir_len);
		else if (c->mode == TF_STEER_FIXED)
			printf(" (%u rules, default queue %u)", c->nrules, c->default_queue);
		putchar('\n');
	}
	if (a->traced)
		printf("    tracing: %s backend\n", tf_backend_name(a->trace_backend));
}

static void show_json(const struct tf_tap_info *t)
{
	struct tf_tap_attached att;
	char mac[TF_MAC_STRLEN];
	struct tf_json j;

	tf_mac_format(t->mac, mac);
	tf_json_init(&j, stdout);
	tf_json_obj_begin(&j, NULL);
	tf_json_str(&j, "name", t->name);
	tf_json_i64(&j, "ifindex", t->ifindex);
	tf_json_str(&j, "mode", t->tap ? "tap" : "tun");
	tf_json_obj_begin(&j, "flags");
	tf_json_bool(&j, "tap", t->tap);
	tf_json_bool(&j, "tun", !t->tap);
	tf_json_bool(&j, "multi_queue", t->multi_queue);
	tf_json_bool(&j, "vnet_hdr", t->vnet_hdr);
	tf_json_bool(&j, "persist", t->persist);
	tf_json_bool(&j, "no_pi", t->no_pi);
	tf_json_obj_end(&j);
	json_id(&j, "owner", t->owner, user_name(t->owner));
	json_id(&j, "group", t->group, group_name(t->group));
	tf_json_u64(&j, "mtu", t->mtu);
	if (t->has_mac)
		tf_json_str(&j, "mac", mac);
	else
		tf_json_null(&j, "mac");
	tf_json_u64(&j, "txqueuelen", t->txqueuelen);
	tf_json_bool(&j, "up", t->up);
	tf_json_str(&j, "operstate", tf_tap_operstate_name(t->operstate));
	tf_json_bool(&j, "tapflow", t->by_tapflow);
	if (t->alias[0])
		tf_json_str(&j, "alias", t->alias);
	else
		tf_json_null(&j, "alias");
	json_queues(&j, t);
	tf_json_obj_begin(&j, "stats");
	tf_json_str(&j, "scope", PER_QUEUE_NOTE);
	tf_json_u64(&j, "rx_packets", t->stats.rx_packets);
	tf_json_u64(&j, "rx_bytes", t->stats.rx_bytes);
	tf_json_u64(&j, "rx_dropped", t->stats.rx_dropped);
	tf_json_u64(&j, "rx_errors", t->stats.rx_errors);
	tf_json_u64(&j, "tx_packets", t->stats.tx_packets);
	tf_json_u64(&j, "tx_bytes", t->stats.tx_bytes);
	tf_json_u64(&j, "tx_dropped", t->stats.tx_dropped);
	tf_json_u64(&j, "tx_errors", t->stats.tx_errors);
	tf_json_obj_end(&j);
	tf_json_obj_begin(&j, "attached");
	tf_tap_attached(t->ifindex, t->name, &att);
	json_attached(&j, &att);
	tf_json_obj_end(&j);
	cli_backend_json(&j, cli_backend_of(t->name));
	tf_json_obj_end(&j);
	tf_json_end(&j);
}

static void show_text(const struct tf_tap_info *t)
{
	struct tf_tap_attached att;
	char owner[64], group[64], conf[16], mac[TF_MAC_STRLEN];

	text_id(owner, sizeof(owner), t->owner, user_name(t->owner));
	text_id(group, sizeof(group), t->group, group_name(t->group));
	if (t->by_tapflow)
		snprintf(conf, sizeof(conf), "%u", t->conf.queues);
	else
		snprintf(conf, sizeof(conf), "unknown");

	printf("%s: ifindex %d, %s, %s%s, state %s\n", t->name, t->ifindex,
	       t->tap ? "tap" : "tun", t->up ? "up" : "down",
	       t->by_tapflow ? ", created by tapflow" : ", not created by tapflow",
	       tf_tap_operstate_name(t->operstate));
	printf("  flags:      %s%s%s%s%s\n", t->tap ? "tap" : "tun",
	       t->multi_queue ? " multi_queue" : "", t->vnet_hdr ? " vnet_hdr" : "",
	       t->persist ? " persist" : "", t->no_pi ? " no_pi" : "");
	printf("  owner:      %s\n", owner);
	printf("  group:      %s\n", group);
	printf("  mtu:        %u\n", t->mtu);
	if (t->has_mac)
		printf("  mac:        %s\n", tf_mac_format(t->mac, mac));
	printf("  txqueuelen: %u\n", t->txqueuelen);
	printf("  queues:     %s configured, %u attached, %u disabled\n", conf,
	       t->queues_attached, t->queues_disabled);
	{
		const struct tf_tap_backend *b = cli_backend_of(t->name);

		if (b)
			printf("  backend:    %s (pid %d %s, %u fd%s in %u process%s, cgroup %s)\n",
			       b->vm, b->pid, b->comm, b->fds, b->fds == 1 ? "" : "s", b->procs,
			       b->procs == 1 ? "" : "es", b->cgroup[0] ? b->cgroup : "?");
		else
			printf("  backend:    none%s\n", t->queues_attached && !tf_have_cap(TF_CAP_SYS_PTRACE) ?
			       " found (another user's holder needs CAP_SYS_PTRACE to be seen)" : "");
	}
	printf("  counters (%s):\n", PER_QUEUE_NOTE);
	printf("    rx (backend -> host): packets %" PRIu64 " bytes %" PRIu64
	       " dropped %" PRIu64 " errors %" PRIu64 "\n", t->stats.rx_packets,
	       t->stats.rx_bytes, t->stats.rx_dropped, t->stats.rx_errors);
	printf("    tx (host -> backend): packets %" PRIu64 " bytes %" PRIu64
	       " dropped %" PRIu64 " errors %" PRIu64 "\n", t->stats.tx_packets,
	       t->stats.tx_bytes, t->stats.tx_dropped, t->stats.tx_errors);
	printf("  attached:\n");
	text_attached(&att, tf_tap_attached(t->ifindex, t->name, &att));
}

static int run_show(void *p)
{
	struct cli_tap_cfg *cfg = p;
	struct tf_tap_info t;
	int err;

	err = tf_tap_get(cfg->name, &t);
	if (err)
		return cli_fail(err);
	{
		const char *nm = t.name;

		cli_backends_refresh(&nm, &t.queues_attached, 1);
	}
	if (cfg->json)
		show_json(&t);
	else
		show_text(&t);
	return TF_EXIT_OK;
}

const struct cli_cmd cli_show = {
	.name = "show",
	.summary = "show a tap: flags, queues, counters, what is attached",
	.doc = "Show a tun/tap device: flags, owner and group, MTU, MAC, txqueuelen, queues\n"
	       "configured, attached and disabled, the kernel's counters and what tapflow has\n"
	       "attached to it.",
	.opts = cli_tap_json_opts,
	CLI_TAP_ARG(struct cli_tap_cfg),
	CLI_CFG(struct cli_tap_cfg, .json = false),
	.run = run_show,
};
