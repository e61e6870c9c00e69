#!/usr/bin/env bash
# Relay capacity on the two cores: how many concurrent relayed G.711 calls `switchboard media
# relay` carries with no loss, and the delay variation it adds, driven by `rtpbatch.c` (a
# batching generator: its legs share a few sockets and send and receive with sendmmsg and
# recvmmsg, about 3.5 µs of CPU per packet where the shared harness's one-socket-per-leg
# generator needs about 7, so that the generator and the relay fit on two cores together at
# 200,000 packets/s).
#
#   benches/scripts/relay_capacity.sh                         the default ladder
#   NS="2000" REPEAT=3 MODES="switchboard-uring switchboard-epoll" benches/scripts/relay_capacity.sh
#   MODES="direct relay switchboard-uring" ...                the generator alone, relay.c, the switch
#   RELAY_CPUS=0 GEN_FLAGS="--cpu 1" SB_FLAGS_uring="--io uring --threads 1" ...   pinned apart
#
# Modes: `direct` (the generator's legs send to each other: its own cost and delay floor),
# `relay` (the shared harness's relay.c: one recvfrom + one sendto per packet, unconnected),
# `relay-rt` (relay.c under SCHED_FIFO at RT_PRIORITY, default 10), `switchboard-rt` (the
# switch's media threads under SCHED_FIFO: `--realtime-priority RT_PRIORITY`),
# `switchboard-NAME` (`switchboard media relay` with the flags in SB_FLAGS_NAME; defaults
# below for `uring` and `epoll`). Each step starts a fresh relay, runs the generator (WARMUP s,
# then a DURATION s window) and stops the relay.
#
# What a step reports (the generator's RESULT line): loss and late (> 50 ms) packets of the
# window, the relay's CPU per delivered packet (all its threads, /proc/PID/stat), the
# generator's, the delay from send (stamped just before the sendmmsg) to the kernel's receive
# timestamp at the generator's socket (SO_TIMESTAMPNS) at p50/p99/p99.9, and the added jitter:
# |D|, the difference of two consecutive packets' delays in one stream (RFC 3550's D), at p99
# and p99.9. The verdict is `ok` when loss + late stay under LOSS_PCT and |D| p99 under
# JITTER_US. A generator that falls more than 40 ms behind its schedule (its core taken by
# other work) skips the late sends rather than bursting them, and the step says so.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -z "${HARNESS:-}" ]; then
	for h in "$repo/../shared/bench/rtpengine" "$repo/../../shared/bench/rtpengine"; do
		[ -f "$h/relay.c" ] && HARNESS=$(cd "$h" && pwd) && break
	done
fi
: "${NS=1000 1500 2000 2500}"
: "${MODES:=direct relay switchboard-uring switchboard-epoll}"
: "${REPEAT:=3}"
: "${WARMUP:=5}"
: "${DURATION:=20}"
: "${LOSS_PCT:=0.1}"
: "${JITTER_US:=1000}"
: "${SOCKETS:=16}"
: "${GEN_FLAGS:=}"                     # e.g. "--cpu 1": the generator pinned
: "${RELAY_CPUS:=}"                    # e.g. 0: the relay pinned (taskset -c)
: "${SB_FLAGS_uring:=--io uring}"
: "${SB_FLAGS_epoll:=--io epoll}"
: "${RT_PRIORITY:=10}"                 # SCHED_FIFO priority of the -rt modes
: "${SB_FLAGS_rt:=--io uring --realtime-priority $RT_PRIORITY}"
: "${SB_BIN:=$repo/target/release/switchboard}"
: "${GEN_BASE:=10000}"
: "${RELAY_BASE:=20000}"
: "${OUT:=$(mktemp -d /tmp/sb-capacity.XXXXXX)}"
mkdir -p "$OUT"
RAW=$OUT/results.raw
: >"$RAW"
log() { echo "$(date +%T) $*" | tee -a "$OUT/log.txt" >&2; }

gcc -O2 -Wall -o "$OUT/rtpbatch" "$repo/benches/scripts/rtpbatch.c" || exit 1
if [[ " $MODES " == *" relay "* || " $MODES " == *" relay-rt "* ]]; then
	[ -f "${HARNESS:-}/relay.c" ] || { log "relay.c not found: set HARNESS"; exit 1; }
	gcc -O2 -o "$OUT/relay" "$HARNESS/relay.c" || exit 1
fi
[[ "$MODES" != *switchboard* ]] || [ -x "$SB_BIN" ] || { log "no $SB_BIN: cargo build --release --bin switchboard"; exit 1; }

PID=
stop_relay() {
	[ -n "$PID" ] || return 0
	kill -TERM "$PID" 2>/dev/null
	local i
	for i in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.2; done
	kill -KILL "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	PID=
}
trap stop_relay EXIT
trap 'exit 130' INT TERM

# start MODE N: the relay of MODE for N calls, its pid in PID (none for direct)
start() {
	local mode=$1 n=$2 logf=$OUT/$1-$2.log i pin=()
	[ -n "$RELAY_CPUS" ] && pin=(taskset -c "$RELAY_CPUS")
	case $mode in
	direct) return 0 ;;
	relay | relay-rt)
		[ "$mode" = relay-rt ] && pin+=(chrt -f "$RT_PRIORITY")
		${pin[@]+"${pin[@]}"} "$OUT/relay" --calls "$n" --base "$RELAY_BASE" --peer-base "$GEN_BASE" >"$logf" 2>&1 &
		PID=$!
		sleep 1
		;;
	switchboard-*)
		local flags=SB_FLAGS_${mode#switchboard-}
		# shellcheck disable=SC2086
		${pin[@]+"${pin[@]}"} "$SB_BIN" media relay --calls "$n" --relay-base "$RELAY_BASE" --peer-base "$GEN_BASE" \
			${!flags:-} >"$logf" 2>&1 &
		PID=$!
		for i in $(seq 1 300); do
			grep -q '^ready' "$logf" && break
			kill -0 "$PID" 2>/dev/null || { log "$mode did not start: $(tail -1 "$logf")"; PID=; return 1; }
			sleep 0.1
		done
		;;
	*) log "unknown mode $mode"; return 1 ;;
	esac
}

log "out $OUT; $(nproc) cores; kernel $(uname -r); modes: $MODES; calls: $NS; $REPEAT runs"
echo "uptime at start: $(uptime)" >"$OUT/machine.txt"
for n in $NS; do
	for r in $(seq 1 "$REPEAT"); do
		for mode in $MODES; do
			sleep 2
			start "$mode" "$n" || continue
			load1=$(cut -d' ' -f1 /proc/loadavg)
			gmode=relay
			[ "$mode" = direct ] && gmode=direct
			# shellcheck disable=SC2086
			line=$("$OUT/rtpbatch" --mode "$gmode" --calls "$n" --sockets "$SOCKETS" \
				--gen-base "$GEN_BASE" --relay-base "$RELAY_BASE" --warmup "$WARMUP" \
				--duration "$DURATION" --pids "${PID:-}" --label "$mode-$n-$r" $GEN_FLAGS \
				2>>"$OUT/rtpbatch.err" | grep '^RESULT')
			stop_relay
			[ -n "$line" ] || { log "no result for $mode N=$n run $r"; continue; }
			echo "$line xmode=$mode xcalls=$n xrun=$r load1=$load1" >>"$RAW"
			log "$(echo "$line" | awk -v m="$mode" -v n="$n" -v r="$r" '{
				for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
				printf "%s N=%s run %s: loss %s%% late %s%% relay %s cores %s us/pkt gen %s cores; delay p99 %s us; |D| p99 %s us",
					m, n, r, v["loss_pct"], v["late_pct"], v["relay_cpu_cores"], v["relay_us_per_pkt"],
					v["gen_cpu_cores"], v["lat_p99_us"], v["jit_p99_us"] }')"
		done
	done
done
echo "uptime at end: $(uptime)" >>"$OUT/machine.txt"

# medians over the runs of each (calls, mode); loss/late and |D| p99.9: the worst run
awk -v lossmax="$LOSS_PCT" -v jitmax="$JITTER_US" '
function med(s,   a, k, t, i, j) {
	k = split(s, a, " ")
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
{
	delete v
	for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	key = v["xcalls"] SUBSEP v["xmode"]
	if (!(key in runs)) { order[++nk] = key }
	runs[key]++
	for (f in v) vals[key, f] = vals[key, f] " " v[f]
	bad = v["loss_pct"] + v["late_pct"]
	if (bad > worst[key]) worst[key] = bad
	if (v["jit_p999_us"] + 0 > jw[key]) jw[key] = v["jit_p999_us"] + 0
	skip[key] += v["gen_skipped"]
}
END {
	print "| calls | mode | runs | lost + late % (worst) | relay cores | relay µs/pkt | generator cores | delay p50 / p99 / p99.9 µs | added jitter |D| p99 µs (worst p99.9) | load avg | verdict |"
	print "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
	for (i = 1; i <= nk; i++) {
		key = order[i]; split(key, kk, SUBSEP)
		jp = med(vals[key, "jit_p99_us"])
		ok = (worst[key] <= lossmax && jp <= jitmax) ? "ok" : "no"
		if (skip[key] > 0) ok = ok " (generator-bound: " skip[key] " sends skipped)"
		printf "| %s | %s | %d | %.4f | %.3f | %.2f | %.3f | %s / %s / %s | %s (%s) | %s | %s |\n",
			kk[1], kk[2], runs[key], worst[key], med(vals[key, "relay_cpu_cores"]),
			med(vals[key, "relay_us_per_pkt"]), med(vals[key, "gen_cpu_cores"]),
			med(vals[key, "lat_p50_us"]), med(vals[key, "lat_p99_us"]), med(vals[key, "lat_p999_us"]),
			jp, jw[key], med(vals[key, "load1"]), ok
	}
}' "$RAW" | tee "$OUT/summary.md"
cat "$OUT/machine.txt"
