# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Sourced by the bench-*.sh scripts that repeat their cases in rounds.

# median of the non-empty arguments (nothing when none is given)
median() {
	printf '%s\n' "$@" | grep . | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
