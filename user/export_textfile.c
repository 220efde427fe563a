// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tapflow export as a node_exporter textfile: one scrape written to a
 * sibling file and renamed over the .prom file, so the collector never
 * reads half of it.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tapflow.h"
#include "export_priv.h"
#include "log.h"

/* ---- textfile --------------------------------------------------------------
 * node_exporter's textfile collector reads every *.prom file in its
 * directory at each scrape, so the file must change in one step: write a
 * sibling (same filesystem, a name not ending in .prom so the collector
 * skips it), fsync it, rename it over, and fsync the directory so the
 * rename survives a crash. Mode 0644: the collector usually runs as an
 * unprivileged user, and the counters are no more secret than
 * /proc/net/dev, which is world-readable too.
 */
/*
 * A writer killed between creating PATH.tmp.PID and renaming it leaves the
 * temporary behind, and node_exporter's directory fills up with them:
 * remove those of writers that are gone (kill(pid, 0) says ESRCH).
 */
static void reclaim_tmp(const char *path)
{
	char dir[PATH_MAX], prefix[NAME_MAX + 8];
	const char *base = strrchr(path, '/');
	struct dirent *de;
	size_t plen;
	DIR *d;

	snprintf(dir, sizeof(dir), "%.*s", base ? (int)(base - path) + 1 : 1, base ? path : ".");
	plen = snprintf(prefix, sizeof(prefix), "%s.tmp.", base ? base + 1 : path);
	if (plen >= sizeof(prefix) || !(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		char *end;
		long pid;

		if (strncmp(de->d_name, prefix, plen))
			continue;
		pid = strtol(de->d_name + plen, &end, 10);
		if (*end || pid <= 0 || pid == getpid() || !kill(pid, 0) || errno != ESRCH)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			pr_debug("export: removed %s%s, left by a writer that is gone", dir, de->d_name);
	}
	closedir(d);
}

int tf_export_write_textfile(struct tf_exporter *e, const char *path)
{
	char tmp[PATH_MAX], dir[PATH_MAX], *slash;
	size_t off = 0;
	int fd, dfd, err;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return tf_err(-ENAMETOOLONG, "--textfile: path too long");
	err = tf_export_scrape(e, &e->text);
	if (err)
		return err;
	reclaim_tmp(path);

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return tf_err(-errno, "--textfile: cannot create %s: %s", tmp, strerror(errno));
	if (fchmod(fd, 0644) < 0)	/* whatever the umask */
		goto fail;
	while (off < e->text.len) {
		ssize_t w = write(fd, e->text.data + off, e->text.len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		off += w;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	err = -errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return tf_err(err, "--textfile: writing %s: %s", path, strerror(-err));
}
