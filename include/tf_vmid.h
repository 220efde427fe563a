/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Which VM is behind a tap: the processes holding its queues, the VM they
 * run and their cgroup. Operators think in VMs ("vm-alpha"), the kernel in
 * devices ("vnet7"); this is the bridge, so that every series can be named
 * by its VM. Included by tapflow.h.
 *
 * A tun fd names its device in /proc/PID/fdinfo ("iff:\tNAME"), so one walk
 * of /proc answers for every tap at once. The VM's name comes from the
 * holder's command line: qemu's -name (guest=NAME,... as libvirt writes it,
 * or NAME[,...]), firecracker's --id, else the command name (comm). The
 * cgroup is the cgroup v2 path (libvirt: /machine/qemu-N-NAME.libvirt-qemu),
 * or the name=systemd v1 one on a hybrid host.
 *
 * Reading another user's /proc/PID/fdinfo (libvirt's qemu runs as
 * libvirt-qemu) takes CAP_SYS_PTRACE (the kernel checks ptrace read access
 * on the fdinfo directory and each file); CAP_DAC_READ_SEARCH is neither
 * needed nor enough (measured on 6.18). Without it only the caller's own
 * processes are seen.
 */
#ifndef TF_VMID_H
#define TF_VMID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TF_VM_NAME_MAX	64
#define TF_CGROUP_MAX	160

struct tf_tap_backend {
	int pid;			/* the holder (lowest pid if several); 0: none found */
	unsigned int procs;		/* processes holding queues of the tap */
	unsigned int fds;		/* queue fds they hold */
	char comm[16];
	char vm[TF_VM_NAME_MAX];	/* qemu -name, firecracker --id, else comm */
	char cgroup[TF_CGROUP_MAX];
};

struct tf_tap_backend_query {
	const char *name;		/* the tap's name now */
	uint32_t netns;			/* its namespace's inode; 0: any */
	struct tf_tap_backend b;		/* out; b.pid 0 when nobody holds it */
};

/*
 * One walk of /proc for n taps: fills each q[i].b. A holder counts for a tap
 * when the fd names the tap and the process is in the tap's network
 * namespace (names are per namespace). Returns how many taps were found;
 * processes whose fdinfo cannot be read are skipped (see CAP_SYS_PTRACE
 * above). *denied (may be NULL) gets how many of those there were.
 */
int tf_tap_backend_find(struct tf_tap_backend_query *q, size_t n, unsigned int *denied);

/*
 * The VM name a command line gives: argv is /proc/PID/cmdline's content
 * (NUL-separated, len bytes). Returns true and fills vm for qemu's -name or
 * firecracker's --id; false otherwise. Exposed for the unit tests.
 */
bool tf_vm_name_from_cmdline(const char *argv, size_t len, char vm[TF_VM_NAME_MAX]);

#ifdef __cplusplus
}
#endif

#endif
