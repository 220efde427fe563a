#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Print the headers that make up libtapflow's installed API: the ones given
# (include/tapflow.h) and every header they include with "...", transitively,
# found beside them. `make install` copies exactly these, so a header only
# the library's own sources use never becomes API by accident.
set -eu
todo="$*"
seen=""
while [ -n "$todo" ]; do
	next=""
	for h in $todo; do
		case " $seen " in *" $h "*) continue ;; esac
		seen="$seen $h"
		dir=$(dirname "$h")
		for i in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$h"); do
			next="$next $dir/$i"
		done
	done
	todo=$next
done
echo $seen
