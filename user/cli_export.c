// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tapflow export: serve the tracing counters to Prometheus on GET /metrics
 * and/or keep a node_exporter textfile up to date. The work is in the
 * library (user/export*.c); this file turns options into calls and waits for
 * a signal. The exporter may start before tracing does: until taps are
 * traced it serves only its own metrics.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_cmds.h"
#include "log.h"
#include "tapflow.h"
#include "tf_export.h"

struct export_cfg {
	const char *listen;
	const char *textfile;
	const char *web_config;
	double interval;
	bool once;
	bool bpf_stats;
	int histograms;			/* enum tf_export_hist: hist_modes[] is in its order */
	struct cli_list trace;		/* --trace GLOB, repeatable */
	bool all_netns;
};

static const char *const hist_modes[] = { "queue", "tap", "off", NULL };
_Static_assert(TF_EXPORT_HIST_QUEUE == 0 && TF_EXPORT_HIST_TAP == 1 && TF_EXPORT_HIST_OFF == 2,
	       "hist_modes[] is in enum tf_export_hist's order");

/*
 * node_exporter's textfile collector reads only DIR/NAME.prom, so a path
 * that cannot be one is bad input now rather than a file nobody reads.
 */
static int check_textfile(const char *path)
{
	size_t n = strlen(path);
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (!n)
		return tf_err(-EINVAL, "--textfile: empty path (give DIR/NAME.prom)");
	if (path[n - 1] == '/')
		return tf_err(-EINVAL, "--textfile: '%s' names a directory; give a file in it, "
			      "e.g. %sTAPFLOW.prom", path, path);
	if (n < 5 || strcmp(path + n - 5, ".prom") || strlen(base) <= 5)
		return tf_err(-EINVAL, "--textfile: '%s' does not end in NAME.prom, which node_exporter's "
			      "textfile collector needs", path);
	return 0;
}

static const struct cli_opt export_opts[] = {
	CLI_OPT(struct export_cfg, CLI_STR, listen, "listen", .short_name = 'l',
		.metavar = "ADDR:PORT",
		.help = "serve /metrics here: ADDR:PORT, [V6ADDR]:PORT, or :PORT for every "
			"address (default " TF_EXPORT_DEFAULT_LISTEN ")"),
	CLI_OPT(struct export_cfg, CLI_STR, textfile, "textfile", .short_name = 't',
		.metavar = "PATH", .check = check_textfile,
		.help = "keep PATH (a .prom file in node_exporter's textfile directory) up to date"),
	CLI_OPT(struct export_cfg, CLI_SECONDS, interval, "interval", .short_name = 'i',
		.help = "rewrite --textfile every S seconds (default 15)",
		.dmin = 0.1, .dmax = 86400),
	CLI_OPT(struct export_cfg, CLI_STR, web_config, "web.config.file", .metavar = "FILE",
		.help = "TLS and basic auth for /metrics, in the exporter-toolkit format "
			"(tls_server_config, basic_auth_users)"),
	CLI_OPT(struct export_cfg, CLI_FLAG, bpf_stats, "bpf-stats",
		.help = "export each tracing program's runs and run time (keeps the kernel's BPF "
			"run-time statistics on while this runs: every BPF program on the host pays for them)"),
	CLI_OPT(struct export_cfg, CLI_ENUM, histograms, "histograms", .metavar = "MODE",
		.choices = hist_modes,
		.help = "histograms per queue (default), per tap (queues summed) or none; "
			"counters stay per queue"),
	CLI_OPT(struct export_cfg, CLI_LIST, trace, "trace", .short_name = 'T', .metavar = "GLOB",
		.help = "trace every tun/tap device matching GLOB as it appears, release it when "
			"it goes (matching taps that exist already are picked up at start)"),
	CLI_OPT(struct export_cfg, CLI_FLAG, all_netns, "all-netns",
		.help = "with --trace: follow taps in every network namespace on the host, not "
			"only the exporter's"),
	CLI_OPT(struct export_cfg, CLI_FLAG, once, "once",
		.help = "write the metrics once (to --textfile, else stdout) and exit"),
	CLI_END
};

static int write_once(struct tf_exporter *e, const char *textfile)
{
	struct tf_export_buf b = { 0 };
	int err;

	if (textfile)
		return tf_export_write_textfile(e, textfile);
	err = tf_export_scrape(e, &b);
	if (!err && fwrite(b.data, 1, b.len, stdout) != b.len)
		err = tf_err(-EIO, "writing to stdout failed");
	if (!err && fflush(stdout))
		err = tf_err(-EIO, "writing to stdout failed");
	tf_export_buf_free(&b);
	return err;
}

/* Wait for a signal, following taps meanwhile when asked; the textfile every interval. */
static int serve_loop(struct tf_exporter *e, const sigset_t *sigs, struct tf_follow *f,
		      const char *textfile, double interval)
{
	struct pollfd pfd[2];
	uint64_t next_file, next_tick, now;
	struct timespec ts;
	int sfd = signalfd(-1, sigs, SFD_CLOEXEC), k;

	if (sfd < 0)
		return tf_err(-errno, "signalfd: %s", strerror(errno));
	pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = f ? tf_follow_fd(f) : -1, .events = POLLIN };
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	next_file = now + (uint64_t)(interval * 1000);
	next_tick = now + 1000;
	for (;;) {
		int timeout = -1;

		if (textfile)
			timeout = next_file > now ? (int)(next_file - now) : 0;
		if (f && (timeout < 0 || next_tick - now < (uint64_t)timeout))
			timeout = next_tick > now ? (int)(next_tick - now) : 0;
		k = poll(pfd, 2, timeout);
		if (k < 0 && errno != EINTR)
			break;
		if (k > 0 && (pfd[0].revents & POLLIN)) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				pr_debug("tapflow export: signal %u, stopping\n", si.ssi_signo);
			break;
		}
		if (f && k > 0 && (pfd[1].revents & POLLIN))
			tf_follow_handle(f);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		if (f && now >= next_tick) {
			tf_follow_tick(f);
			next_tick = now + 1000;
		}
		if (textfile && now >= next_file) {
			/* A failed rewrite is retried next time. */
			if (tf_export_write_textfile(e, textfile))
				pr_warn("tapflow export: %s\n", tf_errmsg());
			next_file = now + (uint64_t)(interval * 1000);
		}
	}
	close(sfd);
	return 0;
}

static int run_export(void *p)
{
	struct export_cfg cfg = *(struct export_cfg *)p;
	bool serve, listen_given;
	struct tf_follow *follow = NULL;
	struct tf_exporter *e;
	sigset_t sigs;
	int err;

	listen_given = cli_given("listen");
	if (cfg.once && listen_given)
		return cli_usage_error("--once writes one snapshot; it does not serve --listen");
	if (cli_given("interval") && !cfg.textfile)
		return cli_usage_error("--interval paces --textfile only (HTTP scrapes read the counters when they come)");
	if (cfg.once && cli_given("interval"))
		return cli_usage_error("--once and --interval exclude each other");
	if (listen_given) {
		struct sockaddr_storage ss;
		socklen_t len;

		if (tf_export_parse_listen(cfg.listen, &ss, &len))
			return cli_usage_error("%s", tf_errmsg());
	}
	serve = !cfg.once && (listen_given || !cfg.textfile);
	if (cfg.web_config && !serve)
		return cli_usage_error("--web.config.file configures the HTTP server: "
				       "it needs serving (not --once, and --listen beside --textfile)");

	if (cfg.all_netns && !cfg.trace.n)
		return cli_usage_error("--all-netns says where to follow --trace GLOB: give one");

	err = tf_export_new(NULL, &e);
	if (err)
		return cli_fail(err);
	tf_export_set_histograms(e, (enum tf_export_hist)cfg.histograms);
	if (cfg.web_config) {
		err = tf_export_web_config(e, cfg.web_config);
		if (err)
			goto out;
	}
	if (cfg.bpf_stats) {
		err = tf_export_bpf_stats(e);
		if (err)
			goto out;
	}
	if (cfg.trace.n) {
		struct tf_follow_opts fo = { .globs = (const char *const *)cfg.trace.v,
					     .nglobs = cfg.trace.n, .all_netns = cfg.all_netns };

		/* Before the first scrape, so that taps that exist already are in it. */
		err = tf_follow_new(&fo, &follow);
		if (err)
			goto out;
	}
	if (cfg.once) {
		/* one snapshot: of every matching tap, so the start dump's are traced first */
		while (follow && tf_follow_busy(follow))
			tf_follow_handle(follow);
		err = write_once(e, cfg.textfile);
		goto out;
	}

	/*
	 * Block the signals before libmicrohttpd starts its threads, so they
	 * inherit the mask and only serve_loop()'s signalfd sees them.
	 */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* A bad path or an unreadable pin should fail now, not in 15 s. */
	if (cfg.textfile) {
		err = tf_export_write_textfile(e, cfg.textfile);
		if (err)
			goto out;
	}
	if (serve) {
		err = tf_export_serve(e, cfg.listen);
		if (err)
			goto out;
		printf("serving %s://%s/metrics\n", tf_export_scheme(e), tf_export_bound(e));
	}
	if (cfg.textfile)
		printf("writing %s every %g s\n", cfg.textfile, cfg.interval);
	fflush(stdout);

	err = serve_loop(e, &sigs, follow, cfg.textfile, cfg.interval);
out:
	tf_follow_free(follow);
	tf_export_free(e);
	return err ? cli_fail(err) : TF_EXIT_OK;
}

const struct cli_cmd cli_export = {
	.name = "export",
	.summary = "serve the counters to Prometheus (/metrics) or a textfile",
	.doc = "Export the per-queue counters and histograms of every traced tap in the\n"
	       "Prometheus text format. Without options, serve GET /metrics on\n"
	       TF_EXPORT_DEFAULT_LISTEN "; each scrape reads the pinned counters afresh.\n"
	       "With --textfile alone, write that file every --interval instead (atomically,\n"
	       "for node_exporter's textfile collector); give --listen too for both.",
	.opts = export_opts,
	CLI_CFG(struct export_cfg, .interval = 15.0),
	.run = run_export,
};
