#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Write user/libtapflow.map, the version script of libtapflow.so, from what
# the library defines (build/libtapflow.a) and the public headers declare
# (include/tapflow.h and what it includes): a global symbol of the archive is
# exported when a declaration in one of those headers names it, grouped by
# that header. `make symbol-map` runs it; review the diff, since every line
# added or removed is a change of the ABI (see the map's header).
#
#   scripts/gen-symbol-map.sh build/libtapflow.a > user/libtapflow.map
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
lib=${1:?usage: gen-symbol-map.sh LIBTAPFLOW.A}
hdrs=$("$TOP/scripts/public-headers.sh" "$TOP/include/tapflow.h")
defined=$(nm -g --defined-only "$lib" | awk 'NF == 3 {print $3}' | sort -u)

cat <<'HDR'
/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libtapflow.so's exported symbols: the functions declared in the public
 * headers (include/tapflow.h and what it includes), nothing else. The
 * library's own helpers (tf_json_*, tf_nl_*, the skeletons) stay local, so
 * a program cannot come to depend on them.
 *
 * Made by scripts/gen-symbol-map.sh (make symbol-map) and reviewed: a line
 * added is new API, a line removed breaks the ABI. Changing a public struct
 * or signature, or removing a function, means bumping SOVERSION in
 * mk/install.mk (and the Debian package's name, libtapflow<SOVERSION>).
 * tests/integration/test_install.sh fails while this list and the headers
 * disagree.
 */
LIBTAPFLOW_0 {
	global:
HDR
seen=" "
for h in $hdrs; do
	list=""
	for s in $defined; do
		[[ "$seen" == *" $s "* ]] && continue
		# a declaration, not a mention in a comment
		if grep -qE "^[^ */#	].*\b$s\b" "$h"; then
			list+="$s "
			seen+="$s "
		fi
	done
	[ -n "$list" ] || continue
	printf '\t\t/* %s */\n' "${h##*/}"
	for s in $list; do printf '\t\t%s;\n' "$s"; done
done
printf '\tlocal:\n\t\t*;\n};\n'
