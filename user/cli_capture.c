// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tapflow capture: the packets of a tap's queues, with direction, queue,
 * drop cause and ring wait, as pcapng (-w) or text. Parsing only;
 * user/capture.c does the work. Words after the tap are the pcap filter;
 * `--drops` takes an optional value (CLI_OPTLIST): alone, any cause;
 * `--drops ring_full,filter` or `--drops=...`, those (no pcap-filter
 * primitive is named like a cause, so the next word is a value only when
 * each of its pieces is one). --drop-cause is the older spelling.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_cmds.h"
#include "tf_capture.h"
#include "tf_capture_shared.h"
#include "log.h"

static const char *const dirs[] = { "both", "tx", "rx", NULL };
static const char *const backends[] = { "auto", "fentry", "kprobe", "tracepoint", NULL };

/* One drop cause, as --drops and --drop-cause take them. */
static int check_cause(const char *val)
{
	unsigned int mask;
	const char *bad = NULL;

	if (!tf_capture_drop_mask(val, &mask, &bad))
		return 0;
	return tf_err(-EINVAL, "--drops: '%s' is not a drop cause (ring_full, filter, detached, "
		      "other)", val);
}

struct capture_cfg {
	char name[TF_IFNAMSIZ];
	struct cli_list filter;
	struct cli_list queues;
	int direction;		/* index into dirs[] */
	struct cli_list drops;	/* --drops [CAUSE,...] */
	struct cli_list causes;	/* --drop-cause CAUSE,...: the same, older */
	unsigned int snaplen;
	unsigned int count;
	double duration;
	const char *write;
	int backend;		/* index into backends[]: TF_BACKEND_* */
};

static const struct cli_opt capture_opts[] = {
	CLI_OPT(struct capture_cfg, CLI_LIST, queues, "queue", .short_name = 'q', .split = ',',
		.metavar = "Q[,Q...]", .help = "only these queues (default: all)"),
	CLI_OPT(struct capture_cfg, CLI_ENUM, direction, "direction", .short_name = 'd',
		.choices = dirs, .metavar = "DIR",
		.help = "tx (host -> backend), rx (backend -> host) or both (default)"),
	CLI_OPT(struct capture_cfg, CLI_OPTLIST, drops, "drops", .split = ',', .check = check_cause,
		.metavar = "CAUSE,...",
		.help = "only packets the tap dropped: any cause, or these (ring_full, filter, "
			"detached, other)"),
	CLI_OPT(struct capture_cfg, CLI_LIST, causes, "drop-cause", .split = ',', .check = check_cause,
		.metavar = "CAUSE[,CAUSE...]", .help = "the same as --drops CAUSE,..."),
	CLI_OPT(struct capture_cfg, CLI_UINT, snaplen, "snaplen", .short_name = 's', .min = 14,
		.max = TF_CAP_MAX, .metavar = "N",
		.help = "bytes kept per packet (default and most: 2048)"),
	CLI_OPT(struct capture_cfg, CLI_UINT, count, "count", .short_name = 'c', .min = 1,
		.metavar = "N", .help = "stop after N packets"),
	CLI_OPT(struct capture_cfg, CLI_SECONDS, duration, "duration", .dmin = 0.001,
		.metavar = "S", .help = "stop after S seconds"),
	CLI_OPT(struct capture_cfg, CLI_STR, write, "write", .short_name = 'w', .metavar = "FILE",
		.help = "write pcapng to FILE (mode 0600), or to stdout with -w -"),
	CLI_OPT(struct capture_cfg, CLI_ENUM, backend, "backend", .short_name = 'b',
		.choices = backends, .metavar = "BACKEND",
		.help = "capture with this rung instead of the first this kernel runs"),
	CLI_END
};

static const struct cli_opt capture_args[] = {
	CLI_ARG(struct capture_cfg, CLI_IFNAME, name, "NAME"),
	CLI_ARG(struct capture_cfg, CLI_LIST, filter, "FILTER", .optional = true),
	CLI_END
};

static int add_queue(struct tf_capture_opts *o, const char *q)
{
	char *end;
	unsigned long n = strtoul(q, &end, 10);

	if (end == q || *end || n >= TF_CAP_QWORDS * 32)
		return cli_usage_error("--queue: '%s' is not a queue 0..%d", q, TF_CAP_QWORDS * 32 - 1);
	o->qmask[n / 32] |= 1u << (n % 32);
	o->all_queues = false;
	return 0;
}

static int add_causes(struct tf_capture_opts *o, const char *list)
{
	const char *bad = NULL;
	unsigned int mask;

	if (tf_capture_drop_mask(list, &mask, &bad))
		return cli_usage_error("--drops: '%s' is not a drop cause (ring_full, filter, "
				       "detached, other)", bad ? bad : list);
	o->drops_only = true;
	o->drop_mask |= mask;
	return 0;
}

/* The filter words, joined by spaces; NULL when there are none. */
static char *join(const struct cli_list *l, size_t from)
{
	size_t len = 1;
	char *s;

	if (from >= l->n)
		return NULL;
	for (size_t i = from; i < l->n; i++)
		len += strlen(l->v[i]) + 1;
	s = calloc(1, len);
	for (size_t i = from; s && i < l->n; i++) {
		if (i > from)
			strcat(s, " ");
		strcat(s, l->v[i]);
	}
	return s;
}

static int run_capture(void *p)
{
	struct capture_cfg *c = p;
	struct tf_capture_opts o = { .all_queues = true };
	struct tf_capture_result res;
	char *filter;
	FILE *f = NULL;
	int r;

	for (size_t i = 0; i < c->queues.n; i++)
		if ((r = add_queue(&o, c->queues.v[i])))
			return r;
	for (size_t i = 0; i < c->causes.n; i++)
		if ((r = add_causes(&o, c->causes.v[i])))
			return r;
	for (size_t i = 0; i < c->drops.n; i++)
		if ((r = add_causes(&o, c->drops.v[i])))
			return r;
	o.drops_only |= cli_given("drops");
	o.dirs = c->direction == 1 ? TF_CAPTURE_TX : c->direction == 2 ? TF_CAPTURE_RX : TF_CAPTURE_BOTH;
	if (o.drops_only && !(o.dirs & TF_CAPTURE_TX))
		return cli_usage_error("--drops: only tx (host -> backend) packets are dropped by "
				       "the tap; drop --direction rx");
	filter = join(&c->filter, 0);
	o.tap = c->name;
	o.filter = filter;
	o.snaplen = c->snaplen;
	o.count = c->count;
	o.duration = c->duration;
	o.backend = c->backend;
	o.stop = &cli_stop;
	if (c->write && !strcmp(c->write, "-")) {
		f = stdout;
	} else if (c->write) {
		int fd = open(c->write, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fd < 0 || !(f = fdopen(fd, "w"))) {
			fprintf(stderr, "tapflow capture: cannot write %s: %s\n", c->write,
				strerror(errno));
			free(filter);
			return TF_EXIT_FAIL;
		}
	}
	o.pcapng = f;
	cli_stop_on_signals(true, false);
	signal(SIGPIPE, SIG_IGN);	/* a reader that goes away: a write error, then exit */
	r = tf_capture_run(&o, &res);
	if (f && f != stdout)
		fclose(f);
	else if (f)
		fflush(f);
	free(filter);
	if (r)
		return cli_fail(r);
	fprintf(stderr, "tapflow capture: %llu packets captured, %llu missed (ring buffer full)\n",
		(unsigned long long)res.packets, (unsigned long long)res.missed);
	return TF_EXIT_OK;
}

const struct cli_cmd cli_capture = {
	.name = "capture",
	.summary = "the packets of a tap's queues, drops and ring wait, as pcapng",
	.doc = "Capture the packets of tap NAME's queues: what the host queued for the\n"
	       "backend (tx; delivered ones with their ring wait), what tun dropped and\n"
	       "why, what the fast path redirected into the ring, and what the backend\n"
	       "wrote (rx). FILTER is a pcap-filter expression (as tcpdump takes it),\n"
	       "compiled by libpcap and run in the kernel before anything is copied.\n"
	       "Nothing needs to be started first; nothing is left when it ends.",
	.opts = capture_opts,
	.args = capture_args,
	CLI_CFG(struct capture_cfg, .snaplen = TF_CAP_MAX, .direction = 0),
	.run = run_capture,
};
