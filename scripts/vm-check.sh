#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The second-kernel test lane: boots Debian's stock cloud kernel (6.1) under
# qemu (TCG: KVM hangs on these machines) with an initramfs holding busybox,
# the tapflow binaries exactly as built on the host, the test scripts, the
# tools they call and the modules they need, then runs the test suite (or the
# command given with --cmd) in the guest. The host kernel refuses fentry and
# has no kprobes; this kernel has both and a different struct layout, so it is
# where the fentry/kprobe paths and CO-RE are proven. See PLATFORM.md, "A
# second kernel in a VM".
#
#   scripts/vm-check.sh                    tests/run.sh --lane vm in two guests
#   scripts/vm-check.sh --cmd 'uname -r'   any bash command in one guest
#   scripts/vm-check.sh --keep             keep the initramfs tree (prints where)
#
# Environment: KERNEL=/boot/vmlinuz-...   (default: newest *-cloud-amd64)
#              MODDIR=/lib/modules/<ver>  (default: from KERNEL's file name)
#              VM_TIMEOUT=600             seconds before qemu is killed
#              VM_MODULES="dummy ..."     extra modules to load in the guest
#              VM_APPEND="..."            extra kernel command line
#              TF_VM_SUITES=REGEX         integration suites to run
#                                         (default ^test_(tap|trace|trace_runs|trace_vhost|xdp_multi|capture)$)
#              TF_VM_SPLIT=REGEX          the suite runs (run.sh's labels, e.g.
#                                         test_trace-kprobe) the first guest
#                                         runs; the second runs the others
#                                         (empty: one guest runs them all)
#              TF_VM_UNITS=REGEX          unit test binaries to run (default
#                                         the ones that touch the kernel; see below)
#              TF_VM_UNITS_BESIDE=REGEX   suites the unit tests run beside
#                                         (default ^test_tap$; empty: none)
#
# stdout carries only the guest command's own output (CRs stripped), so a
# caller can count its PASS/FAIL/SKIP lines: the first guest's as it comes,
# the second's once it is done. Each guest's serial console goes to
# build/vm/console.N.log, and both, one after the other, to
# build/vm/console.log. Exit status is the guest commands' (the first that is
# not 0); a VM that does not boot, or never reports back, is an error (exit
# 125), never a skip.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$TOP/build
VMDIR=$BUILD/vm
CONSOLE_LOG=$VMDIR/console.log
VM_TIMEOUT=${VM_TIMEOUT:-600}
INFRA_FAIL=125

die() {
	echo "vm-check: FAILED: $*" >&2
	exit "$INFRA_FAIL"
}
note() { echo "vm-check: $*" >&2; }

# The lane proves what the host cannot: every tracing backend and CO-RE on
# another kernel, the fast path sharing a tap through libxdp's dispatcher
# (which needs freplace), plus the tap lifecycle. Suites that test nothing
# kernel-specific (exporter, steering maths) stay on the host lane.
#
# Time: the guest CPU is emulated, so every program a test starts costs
# 20-600 ms (jq the most) and a suite keeps one vCPU busy: one guest runs its
# suites one after another, and left alone it keeps less than one of the
# host's cores busy. So the lane boots two guests side by side, one core's
# worth each, and splits the suites' runs between them (TF_VM_SPLIT, by the
# times run.sh prints as `-- LABEL: S s`): the same kernel, the same
# initramfs, the same tests, each run in exactly one guest. Within a guest
# the suites still run one after another: a second stream of suites beside
# the tracing suite (run.sh --parallel) hung the guest in 2 runs of ~10
# ("soft lockup" of a task inside tun on the other vCPU) while tracing
# attached or detached fentry/kprobe trampolines on tun functions that vCPU
# was executing. Under qemu's TCG that cross-modified code is emulated, not
# what real CPUs do, and one such hang times the lane out; two guests share
# no kernel text. Each guest keeps 2 vCPUs, so what the tests do on every
# CPU (per-CPU maps and caches, taskset per CPU, the queue tun_xdp_xmit
# picks by CPU) is still done on two. Both guests' leftovers checks are one
# line, vm/leftovers, failing if either failed.
#
# Of the unit tests, the lane runs those that ask the kernel something: BPF
# programs through BPF_PROG_TEST_RUN (cbpf, fastpath_prog, steer_prog), pins
# and locks on bpffs (pin), a tun fd found through /proc (vmid). The others
# (cli, parse, tap_opts, export) are pure user space: the same binary gives
# the same result on any kernel (they stay on the host lane; ~2.5 s here).
# They run in the second guest, on its second vCPU beside the tap suite
# (--units-beside), the one suite that attaches no tracing program: neither
# side patches kernel code the other vCPU is running (what hung the guest
# with tracing in parallel, above), and they share no state (each makes its
# taps and pins in namespaces and directories of its own). That hides their
# ~16 s (BPF_PROG_TEST_RUN of ~110000 frames, mostly) behind the tap suite.
suites=${TF_VM_SUITES:-'^test_(tap|trace|trace_runs|trace_vhost|xdp_multi|capture)$'}
units=${TF_VM_UNITS:-'^test_(cbpf|fastpath_prog|steer_prog|pin|vmid)$'}
split=${TF_VM_SPLIT-'^test_(trace-(fentry|kprobe|tracepoint)|trace_vhost-tracepoint|capture)$'}
printf -v run 'cd /tapflow && TF_TEST_TIMES=1 tests/run.sh --lane vm --filter %q' "$suites"
printf -v units_opts -- '--unit-filter %q --units-beside %q' "$units" "${TF_VM_UNITS_BESIDE-^test_tap\$}"
guest_cmds=("$run $units_opts")
if [ -n "$split" ]; then
	printf -v 'guest_cmds[0]' '%s --no-units --jobs %q' "$run" "$split"
	printf -v 'guest_cmds[1]' '%s %s --except-jobs %q' "$run" "$units_opts" "$split"
fi
keep=0
while [ $# -gt 0 ]; do
	case "$1" in
	--cmd) [ $# -ge 2 ] || { echo "vm-check: --cmd needs an argument" >&2; exit 2; }; guest_cmds=("$2"); shift 2 ;;
	--cmd=*) guest_cmds=("${1#--cmd=}"); shift ;;
	--keep) keep=1; shift ;;
	-h|--help) sed -n '3,39p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "vm-check: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done

command -v qemu-system-x86_64 >/dev/null ||
	die "qemu-system-x86_64 not found: run scripts/setup.sh --vm"
command -v cpio >/dev/null || die "cpio not found: run scripts/setup.sh --vm"

# --- kernel and its modules --------------------------------------------------

if [ -z "${KERNEL:-}" ]; then
	kernels=(/boot/vmlinuz-*-cloud-amd64)
	KERNEL=$(printf '%s\n' "${kernels[@]}" | sort -V | tail -n 1)
	[ -e "$KERNEL" ] || KERNEL=
	[ -n "$KERNEL" ] ||
		die "no /boot/vmlinuz-*-cloud-amd64: run scripts/setup.sh --vm (or set KERNEL=)"
fi
[ -r "$KERNEL" ] || die "kernel '$KERNEL' is missing or unreadable"
kver=${KERNEL##*/vmlinuz-}
MODDIR=${MODDIR:-/lib/modules/$kver}
[ -f "$MODDIR/modules.dep" ] ||
	die "no modules.dep in '$MODDIR' for kernel '$KERNEL' (set MODDIR=)"
# The guest looks modules up under its own `uname -r`, which is the version
# in the kernel's file name for Debian kernels; MODDIR's name is what counts.
kver=$(basename "$MODDIR")

[ -x "$BUILD/tapflow" ] || note "warning: $BUILD/tapflow is not built (make all)"

mkdir -p "$VMDIR"
work=$(mktemp -d "$VMDIR/initramfs.XXXXXX")
root=$work/root
# shellcheck disable=SC2317  # called by the trap
cleanup() {
	if [ "$keep" = 1 ]; then note "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Mirror Debian 12's merged /usr so ldd's /lib/... and /lib64/... paths and
# the tools' /usr/... paths land in one tree, as on the host.
mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/lib64,proc,sys,dev,run,tmp,root,etc/tapflow-vm}
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"

# --- ELF files and their shared libraries ------------------------------------

declare -A copied=()

copy_file() { # host path -> same path in the guest, symlinks resolved
	local src=$1
	[ -n "${copied[$src]:-}" ] && return 0
	copied[$src]=1
	mkdir -p "$root$(dirname "$src")"
	cp -L "$src" "$root$src"
}

is_elf() { [ "$(head -c 4 "$1" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; }

# Copies every library ldd names for an ELF file. Relocatable objects
# (*.bpf.o) and static binaries have none; a library ldd cannot find would
# only fail later inside the guest, so it stops the build here.
copy_libs() {
	local elf=$1 out line lib
	out=$(ldd "$elf" 2>&1) || return 0
	while read -r line; do
		case "$line" in
		*"not found"*) die "$elf needs a library the host lacks: $line" ;;
		*"=> /"*) lib=${line#*=> }; lib=${lib%% (*} ;;
		/*) lib=${line%% (*} ;;
		*) continue ;;
		esac
		copy_file "$lib"
	done <<<"$out"
}

# Tools the test scripts run in the guest. busybox has applets of the same
# names, but too limited for the tests (ip netns/-j, nsenter, setpriv caps).
tools=(bash timeout ip tc jq setpriv nsenter unshare bpftool getent prlimit stat install mountpoint)
for t in "${tools[@]}"; do
	p=$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v "$t" || true)
	[ -n "$p" ] || die "host tool '$t' not found: run scripts/setup.sh"
	# Debian's /usr/sbin/ip is a link to /bin/ip: the guest gets both names,
	# or a busybox applet would take the one earlier in PATH.
	real=$(readlink -f "$p")
	copy_file "$real"
	copy_libs "$real"
	if [ "$real" != "$p" ] && [ ! -e "$root$p" ]; then
		mkdir -p "$root$(dirname "$p")"
		ln -s "$real" "$root$p"
	fi
done
copy_file /lib64/ld-linux-x86-64.so.2

# --- the tapflow tree, at /tapflow with the repo's relative layout -----------

mkdir -p "$root/tapflow"
# Object files, archives and skeletons are build inputs, not test inputs;
# build/vm is this script's own scratch space; build/shared and build/deb
# hold the shared-library build and the Debian package (their binaries link
# libtapflow.so, which the guest does not need: its tests use the static CLI);
# build/fuzz holds the libFuzzer harnesses, which only the host lane runs
# (23 MB after a make check: the guest would unpack them at every boot).
(
	cd "$TOP"
	find tests -type f -print0
	[ -d build ] && find build \( -path build/vm -o -path build/user -o -path build/shared \
		-o -path build/deb -o -path build/install -o -path build/pic -o -path build/fuzz \) -prune -o \
		-type f ! -name '*.a' ! -name '*.skel.h' ! -name '*.tmp' \
		\( -name '*.bpf.o' -o ! -name '*.o' \) -print0
) | (cd "$TOP" && cpio -0pdm --quiet "$root/tapflow")

# The guest unpacks the initramfs under emulation, and most of its size is
# the test binaries' debug info: their copies lose it (BPF objects keep
# everything: libbpf needs their BTF).
while IFS= read -r -d '' f; do
	is_elf "$f" || continue
	copy_libs "$f"
	case "$f" in *.o) ;; *) strip --strip-debug "$f" 2>/dev/null || true ;; esac
done < <(find "$root/tapflow" -type f -print0)

# libxdp loads its dispatcher and AF_XDP default program from BPF object
# files next to the library at run time; without them it fails inside the
# guest with no hint that files are missing.
for lib in "${!copied[@]}"; do
	case "$lib" in */libxdp.so*) xdplib=$lib ;; esac
done
if [ -n "${xdplib:-}" ]; then
	for o in "$(dirname "$xdplib")"/bpf/xdp-dispatcher.o "$(dirname "$xdplib")"/bpf/xsk_def_xdp_prog*.o; do
		[ -f "$o" ] && copy_file "$o"
	done
fi

# busybox for /init and the small tools. An applet is linked only if no real
# tool has its name in any bin directory, since PATH order would otherwise
# let it shadow the real one (busybox puts ip in sbin, iproute2 in bin).
bb=$(command -v busybox || true)
[ -n "$bb" ] || die "busybox not found: run scripts/setup.sh --vm"
cp -L "$bb" "$root/usr/bin/busybox"
copy_libs "$bb"
while read -r applet; do
	name=${applet##*/}
	[ -e "$root/usr/bin/$name" ] || [ -e "$root/usr/sbin/$name" ] ||
		ln -s /usr/bin/busybox "$root/$applet"
done < <("$bb" --list-full)

# --- modules, dependencies first ---------------------------------------------

# tun is what tapflow is about; veth and bridge for the integration tests'
# topologies; sch_ingress (clsact) and cls_bpf for tc-attached programs;
# vhost_net (with tap, vhost, vhost_iotlb) for the vhost tracing suite, which
# skips on a kernel built without it.
read -r -a extra_mods <<<"${VM_MODULES:-}"
want_mods=(tun veth bridge sch_ingress cls_bpf "${extra_mods[@]}")
declare -A mod_seen=()
mod_order=()

dep_line() { # module name -> its modules.dep line ('-' and '_' are one)
	local name=${1//-/_}
	awk -v n="$name" -F: '{
		b = $1; sub(/.*\//, "", b); sub(/\.ko(\.(xz|zst|gz))?$/, "", b)
		gsub(/-/, "_", b)
		if (b == n) { print; exit }
	}' "$MODDIR/modules.dep"
}

add_module() {
	local name=$1 line path deps i
	line=$(dep_line "$name")
	if [ -z "$line" ]; then
		# Built into the kernel: nothing to load.
		grep -Eq "/${name//_/[-_]}\.ko\$" "$MODDIR/modules.builtin" 2>/dev/null && return 0
		die "module '$name' is neither in $MODDIR/modules.dep nor built in"
	fi
	path=${line%%:*}
	read -r -a deps <<<"${line#*:}"
	# depmod lists dependencies so that the last one must load first.
	for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
		add_path "${deps[i]}"
	done
	add_path "$path"
}

add_path() {
	local path=$1 plain
	[ -n "${mod_seen[$path]:-}" ] && return 0
	mod_seen[$path]=1
	plain=${path%.xz}; plain=${plain%.zst}; plain=${plain%.gz}
	mkdir -p "$root/lib/modules/$kver/$(dirname "$plain")"
	# Debian 12 ships them plain, newer kernels compressed; busybox insmod
	# may not decompress, so the guest always gets plain .ko files.
	case "$path" in
	*.xz) xz -dc "$MODDIR/$path" ;;
	*.zst) zstd -qdc "$MODDIR/$path" ;;
	*.gz) gzip -dc "$MODDIR/$path" ;;
	*) cat "$MODDIR/$path" ;;
	esac >"$root/lib/modules/$kver/$plain"
	mod_order+=("$plain")
}

[ -n "$(dep_line vhost_net)" ] && want_mods+=(vhost_net)
for m in "${want_mods[@]}"; do add_module "$m"; done
printf '%s\n' "${mod_order[@]}" >"$root/etc/tapflow-vm/modules"
# A modules.dep of what is there, so busybox modprobe works for tests too.
for p in "${mod_order[@]}"; do
	line=$(dep_line "$(basename "$p" .ko)")
	sed -E 's/\.ko\.(xz|zst|gz)/.ko/g' <<<"$line"
done >"$root/lib/modules/$kver/modules.dep"

# --- /init, the command, and a minimal /etc ----------------------------------

install -m 0755 "$TOP/tests/vm/init" "$root/init"
# One command a guest; /init runs the one its kernel command line names
# (tapflow.guest=N).
guests=${#guest_cmds[@]}
for ((g = 1; g <= guests; g++)); do
	printf '#!/bin/bash\n%s\n' "${guest_cmds[g - 1]}" >"$root/tapflow/vm-cmd-$g.sh"
	chmod 0755 "$root/tapflow/vm-cmd-$g.sh"
done
# libbpf resolves `extern ... __kconfig` from /boot/config-$(uname -r), and
# bpftool feature probe reads it too.
if [ -f "/boot/config-$kver" ]; then
	mkdir -p "$root/boot"
	cp "/boot/config-$kver" "$root/boot/"
fi
# Name lookups for tests that drop privileges (setpriv --reuid=nobody).
printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

initrd=$work/initrd.cpio.gz
# gzip -1: the guest unpacks it under emulation, where -9 saves little and
# costs boot time; the size is dominated by debug info in the test binaries.
(cd "$root" && find . -print0 | cpio -0 -o -H newc --quiet) | gzip -1 >"$initrd"
note "kernel $KERNEL ($kver), initramfs $(du -h "$initrd" | cut -f1), timeout ${VM_TIMEOUT}s"

# --- boot ---------------------------------------------------------------------

# -nic none: the lane needs no guest NIC, and the default one costs an
# option-ROM load at boot. norandmaps: TCG caches translated code by guest
# virtual address, so with ASLR every new process translates its binary and
# libraries afresh; without it they reuse the translations of the last run
# (`ip` starts ~3x faster, the suites ~25% faster). The kernel's own layout
# (KASLR) is unchanged, and no test depends on user-space randomisation.
# stdin is /dev/null so qemu leaves the terminal alone. The relay keeps the
# whole console in the guest's log and prints only what lies between the
# init's BEGIN and END markers: the first guest's to stdout, the second's
# to a file, shown once that guest is done. Both guests' leftovers lines
# are held back, to be one line.
# mawk reads a pipe a block at a time: -W interactive makes it relay each
# line as it comes (gawk does anyway).
awk_line=()
awk -W version 2>/dev/null | grep -q mawk && awk_line=(-W interactive)

# boot_guest N [OUT]: runs guest N, its relayed output to OUT (default
# stdout); leaves its qemu status in $VMDIR/qemu.N.rc and its wall and CPU
# seconds (qemu's, all vCPUs) in $VMDIR/time.N.
boot_guest() (
	g=$1
	[ -z "${2:-}" ] || exec >"$2"
	TIMEFORMAT='%R %U %S'
	set +e
	{ time {
		timeout -k 10 "$VM_TIMEOUT" qemu-system-x86_64 \
			-accel tcg,thread=multi -cpu max -m 1024 -smp 2 -nographic -no-reboot -nic none \
			-kernel "$KERNEL" -initrd "$initrd" \
			-append "console=ttyS0 quiet panic=-1 norandmaps tapflow.guest=$g ${VM_APPEND:-}" \
			</dev/null 2>"$work/qemu.$g.stderr" |
			awk "${awk_line[@]}" -v logf="$VMDIR/console.$g.log" -v filesf="$VMDIR/files.$g.b64" \
				-v leftf="$VMDIR/leftovers.$g" '
				# CRs from the serial line, and SeaBIOS clear-screen escapes.
				{ gsub(/\r|\033(\[[0-9;?]*[A-Za-z]|c)/, ""); print > logf; fflush(logf) }
				/^TAPFLOW-VM-END$/ { inside = 0 }
				inside && /^(PASS|FAIL) vm\/leftovers($|:)/ { print > leftf; next }
				inside { print; fflush() }
				# Files the guest left for the host, base64: to files.b64 only.
				/^TAPFLOW-VM-FILES-END$/ { files = 0 }
				files { print > filesf }
				/^TAPFLOW-VM-FILES-BEGIN$/ { files = 1 }
				# Failed guest setup (a module that did not load) comes before
				# BEGIN but is what explains the failures after it.
				/^vm-init: error:/ { print; fflush() }
				/^TAPFLOW-VM-BEGIN$/ { inside = 1 }
			'
		echo "${PIPESTATUS[0]}" >"$VMDIR/qemu.$g.rc"
	}; } 2>"$VMDIR/time.$g"
)

# A qemu that dies before its first byte must not leave the last run's log
# (nor files of the last run's).
rm -rf "$VMDIR/out" "$VMDIR"/files.*.b64 "$VMDIR"/leftovers.* "$VMDIR"/qemu.*.rc "$VMDIR"/console.*.log \
	"$VMDIR"/time.*
for ((g = 1; g <= guests; g++)); do : >"$VMDIR/console.$g.log"; done
pids=()
for ((g = 2; g <= guests; g++)); do
	boot_guest "$g" "$work/guest.$g.out" &
	pids+=($!)
done
boot_guest 1
for p in "${pids[@]}"; do wait "$p"; done
for ((g = 2; g <= guests; g++)); do cat "$work/guest.$g.out"; done
for ((g = 1; g <= guests; g++)); do
	[ "$guests" = 1 ] || echo "=== guest $g of $guests"
	cat "$VMDIR/console.$g.log"
done >"$CONSOLE_LOG"
# "guest N: W s (qemu CPU C s)": the CPU seconds say how much work a guest
# was, whatever else the host ran beside it.
times="" elapsed=0
for ((g = 1; g <= guests; g++)); do
	w=0 u=0 sy=0
	read -r w u sy <"$VMDIR/time.$g" 2>/dev/null || true
	times+=$(awk -v g="$g" -v w="$w" -v u="$u" -v s="$sy" \
		'BEGIN { printf "%sguest %d: %.1f s (qemu CPU %.1f s)", (g > 1 ? ", " : ""), g, w, u + s }')
	elapsed=$(awk -v a="$elapsed" -v b="$w" 'BEGIN { printf "%.1f", (b > a) ? b : a }')
done

# Each guest's end: its sentinel, or why there is none.
rc=0
for ((g = 1; g <= guests; g++)); do
	log=$VMDIR/console.$g.log
	sentinel=$(grep -a -o 'TAPFLOW-VM-EXIT [0-9]*' "$log" | tail -n 1 || true)
	if [ -z "$sentinel" ]; then
		qemu_rc=$(cat "$VMDIR/qemu.$g.rc" 2>/dev/null || echo "?")
		why="qemu exited with status $qemu_rc"
		[ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ] && why="timed out after ${VM_TIMEOUT}s"
		grep -aq '^TAPFLOW-VM-BEGIN$' "$log" ||
			why="$why; the guest never reached the test command (boot or /init failed)"
		{
			echo "vm-check: FAILED: no 'TAPFLOW-VM-EXIT' from guest $g ($why, ${elapsed}s)"
			# Prefixed: tests/run.sh reads this stream too, and a guest line
			# such as "PASS x" shown again here must not count twice.
			if [ -s "$work/qemu.$g.stderr" ]; then
				echo "--- qemu stderr"
				tail -n 20 "$work/qemu.$g.stderr" | sed 's/^/qemu| /'
			fi
			echo "--- last 30 lines of ${log#"$TOP"/}"
			tail -n 30 "$log" | sed 's/^/console| /'
		} >&2
		exit "$INFRA_FAIL"
	fi
	grc=${sentinel#TAPFLOW-VM-EXIT }
	[ "$rc" != 0 ] || rc=$grc
	[ "$grc" = 0 ] || note "guest $g's command exited $grc; its dmesg tail is at the end of ${log#"$TOP"/}"
done
note "guest command$([ "$guests" = 1 ] || echo s) exited $rc, boot to sentinel ${elapsed}s ($times; console: ${CONSOLE_LOG#"$TOP"/})"

# One leftovers line for all guests: each checked its own kernel.
if compgen -G "$VMDIR/leftovers.*" >/dev/null; then
	if grep -hq '^FAIL' "$VMDIR"/leftovers.*; then
		for ((g = 1; g <= guests; g++)); do
			[ -f "$VMDIR/leftovers.$g" ] || continue
			grep -h '^FAIL' "$VMDIR/leftovers.$g" | sed "s/\$/ (guest $g)/"
		done
		rc=1
	else
		echo "PASS vm/leftovers"
	fi
fi

# Files the guests' tests left (tests/lib.sh, expect_count): unpacked into
# build/vm/out/N, and their checks run here with the host's tools, each one
# result line as the guest's are (the guest has no tshark).
for ((g = 1; g <= guests; g++)); do
	f=$VMDIR/files.$g.b64
	[ -s "$f" ] || continue
	mkdir -p "$VMDIR/out/$g"
	if base64 -d -i <"$f" | gzip -dc | tar -C "$VMDIR/out/$g" -xf -; then
		"$TOP/tests/vm/host-checks.sh" "$VMDIR/out/$g" || rc=1
	else
		echo "FAIL vm/files: the files guest $g left could not be unpacked (see ${f#"$TOP"/})"
		rc=1
	fi
done
exit "$rc"
