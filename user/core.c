// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libtapflow core: the thread-local error message every call leaves behind,
 * the log sink (ours and libbpf's, one level apart), capability checks.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "tapflow.h"
#include "log.h"

#ifndef TAPFLOW_VERSION
#define TAPFLOW_VERSION "0.1"
#endif

static __thread char errbuf[512];
static enum tf_log_level log_max = TF_LOG_WARN;
static tf_log_fn log_fn;

const char *tf_version(void)
{
	return TAPFLOW_VERSION;
}

const char *tf_errmsg(void)
{
	return errbuf[0] ? errbuf : "unknown error";
}

int tf_err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	return err;
}

void tf_set_log_level(enum tf_log_level max)
{
	log_max = max;
}

void tf_set_log_fn(tf_log_fn fn)
{
	log_fn = fn;
}

static void tf_vlog(enum tf_log_level level, const char *fmt, va_list ap)
{
	char buf[1024];
	size_t n;

	if (level > log_max)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (log_fn)
		log_fn(level, buf);
	else
		fprintf(stderr, "%s\n", buf);
}

void tf_log(enum tf_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tf_vlog(level, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf warnings are details of an error we report ourselves. */
	(void)level;
	tf_vlog(TF_LOG_LIBBPF, fmt, ap);
	return 0;
}

void tf_libbpf_quiet(void)
{
	libbpf_set_print(libbpf_print);
}

int tf_have_cap(int cap)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data))
		return 0;
	return !!(data[cap / 32].effective & (1u << (cap % 32)));
}

int tf_require_cap(int cap, const char *capname, const char *what)
{
	if (tf_have_cap(cap))
		return 0;
	return tf_err(-EPERM, "%s needs %s (run as root or grant the capability)",
		      what, capname);
}
