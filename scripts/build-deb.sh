#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# `make deb`: build the Debian packages the way a user would, from a fresh
# clone of the committed HEAD (uncommitted changes are not in it), with
# `dpkg-buildpackage -us -uc -b`, then run lintian on the result. The .debs,
# the .changes, the build log and lintian's report land in build/deb/.
# Exit 0 when the build worked and lintian reports no error; its warnings
# are printed (README.md, "Debian package", lists the expected ones).
#
#   scripts/build-deb.sh            build/deb/*.deb
#   DEB_BUILD_OPTIONS=nocheck ...   skip the unit tests of the build
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=${DEB_OUT:-$TOP/build/deb}
head=$(git -C "$TOP" rev-parse HEAD)
if [ -n "$(git -C "$TOP" status --porcelain --untracked-files=no)" ]; then
	echo "build-deb.sh: uncommitted changes are not in the package (it builds $head)" >&2
fi
rm -rf "$OUT"
mkdir -p "$OUT"
git clone -q --no-hardlinks "$TOP" "$OUT/tapflow"
git -C "$OUT/tapflow" checkout -q --detach "$head"
t0=$(date +%s)
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-} parallel=$(nproc)"
if ! (cd "$OUT/tapflow" && dpkg-buildpackage -us -uc -b) > "$OUT/build.log" 2>&1; then
	tail -20 "$OUT/build.log" >&2
	echo "build-deb.sh: dpkg-buildpackage failed (log: $OUT/build.log)" >&2
	exit 1
fi
echo "$head" > "$OUT/HEAD"
echo "build-deb.sh: built in $(( $(date +%s) - t0 )) s: $(cd "$OUT" && ls *.deb | tr '\n' ' ')"
rc=0
lintian --fail-on error --display-info "$OUT"/*.changes > "$OUT/lintian.raw" 2>&1 || rc=$?
# (as root lintian first says that it should not run as root: not a finding)
grep -v 'running with root privileges is not recommended' "$OUT/lintian.raw" > "$OUT/lintian.txt" || true
if [ -s "$OUT/lintian.txt" ]; then
	echo "build-deb.sh: lintian says:"
	sed 's/^/  /' "$OUT/lintian.txt"
fi
if [ "$rc" != 0 ]; then
	echo "build-deb.sh: lintian reports errors (exit $rc)" >&2
	exit 1
fi
