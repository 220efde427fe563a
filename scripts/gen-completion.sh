#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Make tapflow's bash completion from what a built tapflow says about itself:
# the commands of `tapflow --help`, the subcommands in each command's Usage
# lines (trace start|stop|status, fastpath rule add|del|list, ...) and the
# options and value lists of every `tapflow CMD [SUB...] --help`. The build
# uses it only while the CLI has no `tapflow completion bash` of its own
# (mk/install.mk prefers that one): both read the same command table, this
# one through --help.
#
#   scripts/gen-completion.sh build/tapflow > build/tapflow.bash
#
# Positionals named NAME, A or B complete to the tun/tap devices of the
# current network namespace, DEV and PORT to every network device.
set -euo pipefail
tf=${1:?usage: gen-completion.sh PATH-TO-TAPFLOW}

declare -A subs opts args vals pos
# One node of the command tree: "$@" is the path (e.g. fastpath rule).
walk() {
	local key="$*" help line w s sub usage_words=() in_opts=0
	help=$("$tf" "$@" --help 2>/dev/null) || true
	while IFS= read -r line; do
		case "$line" in
		"Options:"*) in_opts=1; continue ;;
		"Usage: "*|"       tapflow "*)
			# the words after "tapflow PATH"
			read -r -a usage_words <<< "${line#*tapflow $key}"
			w=${usage_words[0]:-}
			if [[ "$w" =~ ^[a-z][a-z|-]*$ ]]; then
				IFS='|' read -r -a s <<< "$w"
				for sub in "${s[@]}"; do
					[[ " ${subs[$key]:-} " == *" $sub "* ]] || subs[$key]+="$sub "
				done
			fi
			for w in "${usage_words[@]}"; do
				w=${w#[}; w=${w%]}; w=${w%...}
				case "$w" in
				NAME|A|B) pos[$key]=tap ;;
				DEV|PORT) [ -n "${pos[$key]:-}" ] || pos[$key]=dev ;;
				esac
			done
			continue ;;
		esac
		[ "$in_opts" = 1 ] || continue
		# "  -q, --queues N      text (a|b|c)"  or  "     --vnet-hdr   text"
		if [[ "$line" =~ ^\ +(-[a-zA-Z],\ )?(--[a-z0-9.-]+)(\ ([^ ]+))? ]]; then
			local short=${BASH_REMATCH[1]%, } long=${BASH_REMATCH[2]} metavar=${BASH_REMATCH[4]:-}
			opts[$key]+="$long ${short:+$short }"
			# a metavar is upper case (N, NAME, ADDR:PORT); else it is text
			if [[ "$metavar" =~ ^[A-Z\[] ]]; then
				args[$key]+="$long ${short:+$short }"
				if [[ "$line" =~ \(([a-z0-9]+(\|[a-z0-9]+)+)\)$ ]]; then
					vals["$key $long"]=${BASH_REMATCH[1]//|/ }
					[ -n "$short" ] && vals["$key $short"]=${BASH_REMATCH[1]//|/ }
				fi
			fi
		fi
	done <<< "$help"
	for sub in ${subs[$key]:-}; do
		walk "$@" "$sub"
	done
}

cmds=$("$tf" --help | awk '/^Commands:/ { on = 1; next } on && NF == 0 { exit } on { print $1 }')
for c in $cmds; do
	walk "$c"
done

emit() {	# NAME: one associative array of the tree
	local -n a=$1
	local k
	echo "declare -gA $2=("
	for k in "${!a[@]}"; do
		printf '\t[%q]=%q\n' "$k" "${a[$k]% }"
	done
	echo ")"
}

cat <<'EOF'
# bash completion for tapflow(8). Made by scripts/gen-completion.sh from the
# CLI's --help output; do not edit.
EOF
printf '_tapflow_cmds=%q\n' "$(echo $cmds)"
emit subs _tapflow_subs
emit opts _tapflow_opts
emit args _tapflow_args
emit vals _tapflow_vals
emit pos _tapflow_pos
cat <<'EOF'

_tapflow_taps() {
	local d
	for d in /sys/class/net/*; do
		[ -e "$d/tun_flags" ] && printf '%s\n' "${d##*/}"
	done
}

_tapflow() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local path="" w i skip=0 subs
	COMPREPLY=()
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [ "$skip" = 1 ]; then skip=0; continue; fi
		case "$w" in
		-v|-vv) ;;
		-*) [[ " ${_tapflow_args[$path]:-} " == *" $w "* ]] && skip=1 ;;
		*)
			if [ -z "$path" ]; then
				subs=$_tapflow_cmds
			else
				subs=${_tapflow_subs[$path]:-}
			fi
			[[ " $subs " == *" $w "* ]] && path="${path:+$path }$w"
			;;
		esac
	done
	if [ "$skip" = 1 ]; then
		case "$prev" in
		--owner) COMPREPLY=($(compgen -u -- "$cur")) ;;
		--group) COMPREPLY=($(compgen -g -- "$cur")) ;;
		--textfile|--web.config.file) COMPREPLY=($(compgen -f -- "$cur")) ;;
		*) [ -n "${_tapflow_vals[$path $prev]:-}" ] &&
			COMPREPLY=($(compgen -W "${_tapflow_vals[$path $prev]}" -- "$cur")) ;;
		esac
		return 0
	fi
	if [ -z "$path" ]; then
		COMPREPLY=($(compgen -W "$_tapflow_cmds -v -vv --help" -- "$cur"))
		return 0
	fi
	if [[ "$cur" == -* ]]; then
		COMPREPLY=($(compgen -W "${_tapflow_opts[$path]:-}" -- "$cur"))
	elif [ -n "${_tapflow_subs[$path]:-}" ]; then
		COMPREPLY=($(compgen -W "${_tapflow_subs[$path]}" -- "$cur"))
	elif [ "${_tapflow_pos[$path]:-}" = tap ]; then
		COMPREPLY=($(compgen -W "$(_tapflow_taps)" -- "$cur"))
	elif [ "${_tapflow_pos[$path]:-}" = dev ]; then
		COMPREPLY=($(compgen -W "$(ls /sys/class/net)" -- "$cur"))
	fi
	return 0
}
complete -F _tapflow tapflow
EOF
