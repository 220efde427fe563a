# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Sourced by the benchmark scripts: the checks they start with, and the
# median of the rounds they repeat their cases in.

# bench_need NAME FILE...: root, and each FILE built, or exit 2 with a line
# that starts with NAME and says which.
bench_need() {
	local name=$1 f
	shift
	[ "$(id -u)" = 0 ] || { echo "$name: needs root" >&2; exit 2; }
	for f in "$@"; do
		[ -x "$f" ] || { echo "$name: $f is not built (make all)" >&2; exit 2; }
	done
}

# bench_rounds NAME N: N rounds is 1 to 5, or exit 2.
bench_rounds() {
	case $2 in [1-5]) ;; *) echo "$1: --rounds: '$2' is not 1 to 5" >&2; exit 2 ;; esac
}

# median of the non-empty arguments (nothing when none is given)
median() {
	printf '%s\n' "$@" | grep . | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
