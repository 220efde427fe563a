// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tapflow export as a node_exporter textfile: one scrape written to a
 * sibling file and renamed over the .prom file, so the collector never
 * reads half of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tapflow.h"
#include "export_priv.h"

/* ---- textfile --------------------------------------------------------------
 * node_exporter's textfile collector reads every *.prom file in its
 * directory at each scrape, so the file must change in one step: write a
 * sibling (same filesystem, a name not ending in .prom so the collector
 * skips it), fsync it, rename it over, and fsync the directory so the
 * rename survives a crash. Mode 0644: the collector usually runs as an
 * unprivileged user, and the counters are no more secret than
 * /proc/net/dev, which is world-readable too.
 */
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
