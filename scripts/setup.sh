#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# One-step setup for building, running and testing tapflow on Debian 12.
# Installs what is missing from Debian's archive (idempotent: quiet and fast
# when everything is there) and mounts bpffs and tracefs when they are not
# mounted. `make demo`, `make check`, `make bench` and `make vm-check` call it
# first, so a fresh machine needs nothing installed by hand.
#
#   scripts/setup.sh            build + run + test dependencies
#   scripts/setup.sh --vm       also what the second-kernel VM lane needs
set -euo pipefail

want_vm=0
for a in "$@"; do
	case "$a" in
	--vm) want_vm=1 ;;
	*) echo "setup.sh: unknown option '$a'" >&2; exit 2 ;;
	esac
done

# Why each package is here is explained in the README ("Dependencies").
pkgs=(
	clang llvm                 # compile bpf/*.bpf.c for CO-RE (-target bpf)
	bpftool                    # skeletons (bpftool gen skeleton), vmlinux.h
	libbpf-dev                 # load, attach, pin BPF objects
	libxdp-dev xdp-tools       # XDP attach (dispatcher) and AF_XDP sockets
	libelf-dev zlib1g-dev      # libbpf's own link dependencies
	libmicrohttpd-dev          # the /metrics HTTP endpoint
	libgnutls28-dev            # /metrics over TLS: libmicrohttpd's GnuTLS, client-certificate checks
	libyaml-dev                # --web.config.file (the exporter-toolkit YAML format)
	libcrypt-dev               # bcrypt password hashes of basic_auth_users (crypt_rn)
	openssl                    # exporter tests: make a CA, server and client certificates
	pkg-config make gcc
	iproute2 util-linux jq     # tests: ip netns, setpriv/nsenter, JSON checks
	bpftrace                   # benchmark peer for tracing
	prometheus                 # promtool + a real server for exporter tests
	curl bc python3            # exporter tests and benchmarks; fast-path tests sniff with a packet socket
	strace                     # the fault tier: kill -9 a command at its Nth syscall (inject=...:signal=KILL)
	prometheus-node-exporter   # the exporter benchmark's peer (netdev collector)
	scdoc                      # man pages (docs/man/*.scd -> troff), also a Build-Depends of the package
	debhelper dpkg-dev         # make deb: dpkg-buildpackage with debhelper compat 13 (Build-Depends)
	build-essential fakeroot   # dpkg-buildpackage checks build-essential; fakeroot for non-root builds
	lintian                    # make deb: the package is checked against Debian policy
	systemd                    # tests: systemd-analyze verify / security on the exporter's unit
	bash-completion            # tests: the installed completion is loaded through its loader
	strace                     # tests: the system calls the exporter makes, against its unit's SystemCallFilter=
	libpcap-dev                # tapflow capture: pcap_compile() turns filter expressions into classic BPF
	tshark tcpdump             # capture tests read the pcapng files with real readers
)
vm_pkgs=(qemu-system-x86 linux-image-cloud-amd64 busybox-static cpio
	# test_tap: libvirt's <interface type='ethernet'> opens a tapflow tap
	libvirt-daemon-system libvirt-clients libvirt-daemon-driver-qemu)
[ "$want_vm" = 1 ] && pkgs+=("${vm_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "setup.sh: missing packages (${missing[*]}) and not root: run as root or install them" >&2
		exit 1
	fi
	echo "setup.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$(id -u)" = 0 ]; then
	if ! grep -qs ' /sys/fs/bpf bpf ' /proc/mounts; then
		mount -t bpf bpf /sys/fs/bpf
	fi
	if ! grep -qs ' /sys/kernel/tracing tracefs ' /proc/mounts; then
		mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
	fi
	[ -e /dev/net/tun ] || { mkdir -p /dev/net; mknod /dev/net/tun c 10 200; chmod 0666 /dev/net/tun; }
fi
exit 0
