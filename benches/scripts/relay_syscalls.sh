#!/usr/bin/env bash
# System calls, context switches and CPU (user and system apart) per forwarded packet of the
# media relay, counted by the kernel's tracepoints (`perf stat -e raw_syscalls:sys_enter,...`
# on the server's pid) over a measured window: counts that do not depend on the machine's
# other load, beside the CPU figures that do. For relay.c (the shared harness's floor, one
# recvfrom + one sendto per packet), `relay-connect` (relay.c --connect) and
# `switchboard media relay`, each driven by the harness's generator as
# relay_side_by_side.sh drives them.
#
#   benches/scripts/relay_syscalls.sh
#   NS="250 1000" MODES="relay switchboard switchboard-sendto" \
#       SB_FLAGS_sendto="--connect-latched false" benches/scripts/relay_syscalls.sh
#
# (perf's tracepoints make every system call dearer while they count: the CPU columns of this
# script are for comparing its own rows, not figures of the relays.)
#   PROFILE=1 ...     also `perf record -g` (cpu-clock) of each server over the window:
#                     OUT/profile-MODE-N.txt, the kernel and user functions by share
#
# Modes: relay, relay-connect, switchboard, switchboard-NAME (flags in SB_FLAGS_NAME).
# Loopback only; ports as relay_side_by_side.sh (RELAY_BASE, GEN_BASE). Output (OUT, default
# a new /tmp/sb-syscalls.XXXXXX): one line per step in results.raw and the table in
# summary.md.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -z "${HARNESS:-}" ]; then
	for h in "$repo/../shared/bench/rtpengine" "$repo/../../shared/bench/rtpengine"; do
		[ -x "$h/run.sh" ] && HARNESS=$(cd "$h" && pwd) && break
	done
	: "${HARNESS:=$repo/../shared/bench/rtpengine}"
fi
: "${NS:=250}"
: "${MODES:=relay relay-connect switchboard switchboard-sendto switchboard-uring}"
: "${SB_FLAGS_sendto:=--connect-latched false}"
: "${SB_FLAGS_uring:=--io uring}"
: "${REPEAT:=1}"
: "${SB_THREADS:=1}"
: "${SB_BIN:=$repo/target/release/switchboard}"
: "${WARMUP:=4}"
: "${DURATION:=10}"
: "${RELAY_BASE:=20000}"
: "${GEN_BASE:=10000}"
: "${TICK_US:=1000}"
: "${PROFILE:=0}"
: "${PRIORITY:=0}"
: "${OUT:=}"
export SB_FLAGS_sendto SB_FLAGS_uring

command -v perf >/dev/null || { echo "needs perf (linux-perf)" >&2; exit 2; }
[ -f "$HARNESS/rtpgen.c" ] || { echo "no RTP harness at $HARNESS" >&2; exit 2; }
[ "$PRIORITY" = 1 ] && { renice -n -20 -p $$ >/dev/null || exit 1; }
[ -n "$OUT" ] || OUT=$(mktemp -d "${TMPDIR:-/tmp}/sb-syscalls.XXXXXX")
mkdir -p "$OUT"
RAW=$OUT/results.raw
: >"$RAW"
log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
gcc -O2 -Wall -o "$OUT/rtpgen" "$HARNESS/rtpgen.c" || exit 1
gcc -O2 -Wall -o "$OUT/relay" "$HARNESS/relay.c" || exit 1

# the system calls counted one by one (the others are in the total)
CALLS="sendto sendmsg sendmmsg recvfrom recvmsg recvmmsg epoll_wait epoll_pwait epoll_pwait2 io_uring_enter connect"
EVENTS="raw_syscalls:sys_enter,context-switches,task-clock"
for c in $CALLS; do EVENTS+=",syscalls:sys_enter_$c"; done

PID=
stop() {
	[ -n "$PID" ] || return 0
	kill -TERM "$PID" 2>/dev/null
	local i
	for i in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$PID" 2>/dev/null && kill -KILL "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	PID=
}
trap stop EXIT
trap 'exit 130' INT TERM

start() { # mode calls logfile
	local mode=$1 n=$2 logf=$3 i
	case $mode in
	relay | relay-connect)
		local c=()
		[ "$mode" = relay-connect ] && c=(--connect)
		"$OUT/relay" --calls "$n" --base "$RELAY_BASE" --peer-base "$GEN_BASE" "${c[@]}" >"$logf" 2>&1 &
		PID=$!
		sleep 0.5
		;;
	switchboard*)
		local flags=
		if [ "$mode" != switchboard ]; then
			local v=SB_FLAGS_${mode#switchboard-}
			flags=${!v:-}
		fi
		# shellcheck disable=SC2086
		"$SB_BIN" media relay --calls "$n" --relay-base "$RELAY_BASE" --peer-base "$GEN_BASE" \
			--threads "$SB_THREADS" $flags >"$logf" 2>&1 &
		PID=$!
		for i in $(seq 1 300); do
			grep -q '^ready' "$logf" && break
			sleep 0.1
		done
		;;
	esac
	kill -0 "$PID" 2>/dev/null
}

cpu_ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; } # utime stime, in clock ticks

for n in $NS; do
	for r in $(seq 1 "$REPEAT"); do
		for mode in $MODES; do
			logf=$OUT/$mode-$n-$r.log
			start "$mode" "$n" "$logf" || { log "$mode did not start; see $logf"; stop; continue; }
			load1=$(cut -d' ' -f1 /proc/loadavg)
			nice -n -20 "$OUT/rtpgen" --mode relay --calls "$n" --gen-base "$GEN_BASE" \
				--relay-base "$RELAY_BASE" --warmup "$WARMUP" --duration "$DURATION" --drain 500 \
				--tick-us "$TICK_US" --label "$mode-$n-$r" --pids "$PID" >"$OUT/gen-$mode-$n-$r.txt" 2>&1 &
			gen=$!
			# the window: inside the generator's, a little shorter on each end
			sleep "$WARMUP.3"
			win=$(awk -v d="$DURATION" 'BEGIN { print d - 0.6 }')
			c0=$(cpu_ticks "$PID")
			prof=()
			if [ "$PROFILE" = 1 ]; then
				perf record -q -e cpu-clock -g -p "$PID" -o "$OUT/perf-$mode-$n-$r.data" -- sleep "$win" \
					2>/dev/null &
				prof=($!)
			fi
			perf stat -x, -e "$EVENTS" -p "$PID" -o "$OUT/stat-$mode-$n-$r.csv" -- sleep "$win"
			c1=$(cpu_ticks "$PID")
			[ ${#prof[@]} -gt 0 ] && wait "${prof[0]}"
			wait "$gen"
			stop
			line=$(grep '^RESULT' "$OUT/gen-$mode-$n-$r.txt")
			fwd=$(echo "$line" | tr ' ' '\n' | awk -F= '$1 == "fwd_pps" { print $2 }')
			[ -n "$fwd" ] || { log "no result for $mode N=$n"; continue; }
			hz=$(getconf CLK_TCK)
			{
				printf 'mode=%s calls=%s run=%s load1=%s fwd_pps=%s window_s=%s' "$mode" "$n" "$r" "$load1" \
					"$fwd" "$win"
				echo "$c0 $c1" | awk -v hz="$hz" '{ printf " user_s=%.3f sys_s=%.3f", ($3 - $1) / hz, ($4 - $2) / hz }'
				awk -F, '$1 ~ /^[0-9.]+$/ { e = $3; sub(/^(raw_)?syscalls:sys_enter_?/, "", e); if (e == "") e = "syscalls"
					printf " %s=%s", e, $1 }' "$OUT/stat-$mode-$n-$r.csv"
				echo
			} >>"$RAW"
			tail -1 "$RAW" >&2
			if [ "$PROFILE" = 1 ]; then
				perf report -i "$OUT/perf-$mode-$n-$r.data" --no-children --sort sym --stdio 2>/dev/null |
					grep -v '^#' | grep -v '^$' | grep '%' | head -60 >"$OUT/profile-$mode-$n-$r.txt"
			fi
		done
	done
done

# per forwarded packet: packets in the window = fwd_pps x window_s
{
	echo "Per forwarded packet (perf stat over a ${DURATION}-0.6 s window; CPU from /proc/PID/stat):"
	echo
	echo "| calls | mode | run | load | syscalls | sendto | send(msg) | recvfrom | recvmmsg | epoll_wait | io_uring_enter | ctx sw | user µs | sys µs | user+sys µs |"
	echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	awk '{ delete v; for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		p = v["fwd_pps"] * v["window_s"]; if (p <= 0) next
		printf "| %s | %s | %s | %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.4f | %.2f | %.2f | %.2f |\n",
			v["calls"], v["mode"], v["run"], v["load1"], v["syscalls"] / p, v["sendto"] / p,
			(v["sendmsg"] + v["sendmmsg"]) / p, (v["recvfrom"] + v["recvmsg"]) / p, v["recvmmsg"] / p,
			(v["epoll_wait"] + v["epoll_pwait"] + v["epoll_pwait2"]) / p, v["io_uring_enter"] / p,
			v["context-switches"] / p, 1e6 * v["user_s"] / p, 1e6 * v["sys_s"] / p,
			1e6 * (v["user_s"] + v["sys_s"]) / p }' "$RAW"
} >"$OUT/summary.md"
cat "$OUT/summary.md"
log "raw: $RAW"
