// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Pinned state (see tf_pin.h): the scope directories under TF_PIN_ROOT that
 * tracing, the fast path and steering keep their pins in, the flock() on
 * each (shared to read, exclusive to change), the layout version check and
 * its message, and the reclaim of directories whose namespace or device is
 * gone. The modules decide what goes in a directory; this file decides
 * where it is, who may touch it when, and when it goes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "tapflow.h"
#include "log.h"

#define META_PIN "meta"

static void module_dir(const struct tf_pin_layout *l, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", TF_PIN_ROOT, l->module);
}

int tf_pin_dir(const struct tf_pin_layout *l, uint32_t netns, int ifindex, char *buf,
	       size_t len)
{
	int err;

	if (!netns && l->scope != TF_PIN_GLOBAL && (err = tf_netns_self(&netns)))
		return err;
	switch (l->scope) {
	case TF_PIN_GLOBAL:
		snprintf(buf, len, "%s/%s", TF_PIN_ROOT, l->module);
		break;
	case TF_PIN_NETNS:
		snprintf(buf, len, "%s/%s/%u", TF_PIN_ROOT, l->module, netns);
		break;
	case TF_PIN_TAP:
		snprintf(buf, len, "%s/%s/%u-%d", TF_PIN_ROOT, l->module, netns, ifindex);
		break;
	}
	return 0;
}

const char *tf_pin_path(const struct tf_pin *p, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", p->dir, name);
	return buf;
}

static int not_there(const struct tf_pin *p)
{
	return tf_err(-ENOENT, "%s is not set up here (no %s)", p->layout->what, p->dir);
}

/*
 * EACCES on a pin directory: it is root's (0700), and the caller is not.
 * Name what is missing, not the file it tripped on.
 */
static int no_access(const struct tf_pin *p, bool change, int err, const char *path)
{
	char what[96];

	snprintf(what, sizeof(what), "%s %s state", change ? "changing" : "reading",
		 p->layout->what);
	if (err == -EACCES && tf_require_cap(TF_CAP_DAC_OVERRIDE, what))
		return -EPERM;	/* message and kind set: "... needs CAP_DAC_OVERRIDE" */
	return tf_err(err, "cannot open %s: %s", path, strerror(-err));
}

/*
 * Lock p->dir, creating it (and its parents) with create. A last writer
 * elsewhere may remove the directory (or its parent) between our steps:
 * then the directory we locked is not the one at the path any more, and we
 * start again.
 */
static int lock_dir(struct tf_pin *p, bool create, int op)
{
	char mod[80];
	struct stat a, b;

	module_dir(p->layout, mod, sizeof(mod));
	for (int tries = 0; tries < 5; tries++) {
		if (create) {
			int err = tf_pin_mkdir(mod);

			if (!err && strcmp(mod, p->dir) && mkdir(p->dir, 0700) && errno != EEXIST)
				err = errno == ENOENT ? -EAGAIN
				      : errno == EACCES ? no_access(p, true, -errno, p->dir)
				      : tf_err(-errno, "cannot create %s: %s", p->dir, strerror(errno));
			if (err == -EAGAIN)
				continue;
			if (err)
				return err;
		}
		p->fd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (p->fd < 0) {
			/*
			 * A writer killed between removing its scope directory
			 * and the module's leaves the latter empty: the next
			 * writer that finds nothing takes it away.
			 */
			if (errno == ENOENT && !create) {
				if (op == LOCK_EX && strcmp(mod, p->dir))
					tf_pin_rmdir(mod);
				return not_there(p);
			}
			if (errno == ENOENT)
				continue;
			return no_access(p, create || op == LOCK_EX, -errno, p->dir);
		}
		if (flock(p->fd, op)) {
			int err = -errno;

			tf_pin_close(p);
			return tf_err(err, "cannot lock %s: %s", p->dir, strerror(-err));
		}
		if (!fstat(p->fd, &a) && !stat(p->dir, &b) && a.st_ino == b.st_ino)
			return 0;
		tf_pin_close(p);
		if (!create)
			return not_there(p);
	}
	return tf_err(-EAGAIN, "%s keeps changing under us", p->dir);
}

int tf_pin_open(struct tf_pin *p, const struct tf_pin_layout *l, uint32_t netns,
		int ifindex, unsigned int flags)
{
	bool create = flags & TF_PIN_CREATE;
	int err;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->layout = l;
	/* readers too: "not running" from a private /sys would be a lie */
	if (!create && (err = tf_bpffs_check(false)))
		return err;
	p->ifindex = ifindex;
	if (!netns && l->scope != TF_PIN_GLOBAL && (err = tf_netns_self(&netns)))
		return err;
	p->netns = netns;
	err = tf_pin_dir(l, netns, ifindex, p->dir, sizeof(p->dir));
	if (err)
		return err;
	return lock_dir(p, create, create || (flags & TF_PIN_WRITE) ? LOCK_EX : LOCK_SH);
}

void tf_pin_close(struct tf_pin *p)
{
	if (p->fd >= 0)
		close(p->fd);	/* drops the flock */
	p->fd = -1;
}

bool tf_pin_release(struct tf_pin *p)
{
	bool gone = false;
	char mod[80];

	/* Removed while we hold the lock: whoever waits finds it gone. */
	if (p->fd >= 0 && !rmdir(p->dir))
		gone = true;
	else if (p->fd >= 0 && errno != ENOTEMPTY && errno != ENOENT)
		pr_debug("cannot remove %s: %s", p->dir, strerror(errno));
	if (gone && p->layout->scope != TF_PIN_GLOBAL) {
		module_dir(p->layout, mod, sizeof(mod));
		tf_pin_rmdir(mod);	/* kept while another scope uses it */
	}
	tf_pin_close(p);
	return gone;
}

int tf_pin_check_version(const struct tf_pin *p, uint32_t found)
{
	const struct tf_pin_layout *l = p->layout;

	if (found == l->version)
		return 0;
	return tf_err(-EPROTO, "%s in %s was set up by a tapflow with another layout "
		      "(version %u; this one reads %u): %s", l->what, p->dir, found,
		      l->version, l->upgrade);
}

int tf_pin_write_version(const struct tf_pin *p)
{
	uint32_t zero = 0, v = p->layout->version;
	char path[128];
	int fd, err = 0;

	tf_pin_path(p, META_PIN, path, sizeof(path));
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "tf_meta", sizeof(zero), sizeof(v), 1, NULL);
	if (fd < 0)
		return tf_err(-errno, "cannot create %s: %s", path, strerror(errno));
	if (bpf_map_update_elem(fd, &zero, &v, BPF_ANY))
		err = tf_err(-errno, "cannot write %s: %s", path, strerror(errno));
	unlink(path);
	if (!err && bpf_obj_pin(fd, path))
		err = tf_err(-errno, "cannot pin %s: %s", path, strerror(errno));
	close(fd);
	return err;
}

int tf_pin_read_version(const struct tf_pin *p, uint32_t *version)
{
	uint32_t zero = 0;
	char path[128];
	int fd, err = 0;

	*version = 0;
	fd = bpf_obj_get(tf_pin_path(p, META_PIN, path, sizeof(path)));
	if (fd < 0)
		return errno == ENOENT ? 0 : tf_err(-errno, "cannot open %s: %s", path, strerror(errno));
	if (bpf_map_lookup_elem(fd, &zero, version))
		err = tf_err(-errno, "cannot read %s: %s", path, strerror(errno));
	close(fd);
	return err;
}

/* Is the state named `name` in l's directory gone with its namespace or device? */
static bool stale(const struct tf_pin_layout *l, const char *name, uint32_t self,
		  uint32_t *ns, int *ifindex)
{
	char ifname[IF_NAMESIZE];
	int end = 0;

	*ifindex = 0;
	if (name[0] < '0' || name[0] > '9')
		return false;
	if (l->scope == TF_PIN_NETNS && (sscanf(name, "%u%n", ns, &end) != 1 || name[end]))
		return false;
	if (l->scope == TF_PIN_TAP &&
	    (sscanf(name, "%u-%d%n", ns, ifindex, &end) != 2 || name[end]))
		return false;
	if (*ns == self)
		return l->scope == TF_PIN_TAP && !if_indextoname(*ifindex, ifname);
	return !tf_netns_alive(*ns);
}

void tf_pin_reclaim(const struct tf_pin_layout *l, tf_pin_reclaim_fn fn, void *arg)
{
	struct dirent *de;
	char mod[80];
	uint32_t self, ns;
	int ifindex;
	DIR *d;

	if (l->scope == TF_PIN_GLOBAL || tf_netns_self(&self))
		return;
	module_dir(l, mod, sizeof(mod));
	d = opendir(mod);
	if (!d)
		return;
	while ((de = readdir(d))) {
		struct tf_pin p;

		if (!stale(l, de->d_name, self, &ns, &ifindex))
			continue;
		if (tf_pin_open(&p, l, ns, ifindex, TF_PIN_WRITE))
			continue;	/* someone else reclaimed it first */
		pr_debug("%s: reclaiming %s: its %s is gone", l->module, p.dir,
			 ns == self ? "device" : "network namespace");
		fn(&p, arg);
		tf_pin_close(&p);
	}
	closedir(d);
}
