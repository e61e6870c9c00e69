#!/usr/bin/env bash
# Server CPU per call of two switch binaries, alternately, in one sitting: the A/B of a change
# on the call path. Each round runs the shared harness's `call` test
# (../shared/bench/kamailio/run.sh: INVITE/100/180/200/ACK, hold, BYE through the proxy to a
# SIPp UAS with 1,000 registered callees) against A, then B, each on a fresh data directory,
# lab mode without authentication. Call records follow `CDR` (on, the default, or off).
#
#   benches/scripts/call_ab.sh BIN_A BIN_B [ROUNDS] [OUT]     ROUNDS 3, OUT /tmp/sb-call-ab
#
# CPS_RATES (default "2000"), CALL_DURATION (20), HOLD_MS (10000) and QUIET_WAIT_S (5) pass
# through to the harness; the switch listens on SB_PORT (5180), SIPp on UAC_PORT and UAS_PORT
# (5171, 5170), away from the harness's defaults so another run on the machine does not collide. Prints, per binary and rate, the server µs per call of every round
# and their median, with the load average before each run.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
harness=${HARNESS:-$here/../shared/bench/kamailio/run.sh}
[ -f "$harness" ] || harness=/work/shared/bench/kamailio/run.sh
bin_a=${1:?binary A}
bin_b=${2:?binary B}
rounds=${3:-3}
out=${4:-/tmp/sb-call-ab}
cdr=${CDR:-on}
export CPS_RATES=${CPS_RATES:-2000} CALL_DURATION=${CALL_DURATION:-20} HOLD_MS=${HOLD_MS:-10000}
export QUIET_WAIT_S=${QUIET_WAIT_S:-5} RETRY_FAILED=${RETRY_FAILED:-0} REFINE=${REFINE:-0}
export UAC_PORT=${UAC_PORT:-5171} UAS_PORT=${UAS_PORT:-5170}
port=${SB_PORT:-5180}
mkdir -p "$out"
enabled=true
[ "$cdr" = off ] && enabled=false
printf '[cdr]\nenabled = %s\n[security]\ntrusted = ["127.0.0.0/8"]\n' "$enabled" >"$out/config.toml"

# minor page faults of the process, and context switches of all its threads (exact counters,
# unlike CPU time they do not move with the machine's load)
counters() {
	local minflt vol=0 invol=0 t
	minflt=$(awk '{print $10}' "/proc/$1/stat")
	for t in /proc/$1/task/*; do
		vol=$((vol + $(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status")))
		invol=$((invol + $(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "$t/status")))
	done
	echo "$minflt $vol $invol"
}

for r in $(seq 1 "$rounds"); do
	for which in a b; do
		bin=$bin_a
		[ "$which" = b ] && bin=$bin_b
		load=$(cut -d' ' -f1-3 /proc/loadavg)
		echo "== round $r: $which ($bin), records $cdr, load $load" >&2
		rm -rf "$out/sb-data"
		(cd "$here" && exec "$bin" serve --sip 127.0.0.1:$port --http 127.0.0.1:$((port + 8)) --auth off \
			--config "$out/config.toml" --data "$out/sb-data") >"$out/switchboard-$which-$r.log" 2>&1 &
		pid=$!
		sleep 2
		counters "$pid" >"$out/$which-$r.counters0"
		START_SERVER=0 TARGET=127.0.0.1:$port SERVER_PIDS=$pid TESTS=call \
			WORK="$out/$which-$r" bash "$harness" >"$out/$which-$r.txt"
		counters "$pid" >"$out/$which-$r.counters1"
		kill -TERM $pid 2>/dev/null
		wait $pid 2>/dev/null
		echo "$load" >"$out/$which-$r.load"
	done
done
# test offered ... server_us_per_op (column 19) ... verdict (21)
for which in a b; do
	for rate in $CPS_RATES; do
		vals=$(for r in $(seq 1 "$rounds"); do
			awk -F'\t' -v rate="$rate" '$1 == "call" && $2 == rate { printf "%s(%s) ", $19, $21 }' \
				"$out/$which-$r/results.tsv"
		done)
		med=$(for v in $vals; do echo "${v%%(*}"; done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
		echo "$which rate=$rate us_per_call: $vals median=$med"
	done
done
for which in a b; do
	for r in $(seq 1 "$rounds"); do
		ok=$(awk -F'\t' '$1 == "call" { n += $5 } END { print n + 0 }' "$out/$which-$r/results.tsv")
		read -r f0 v0 i0 <"$out/$which-$r.counters0"
		read -r f1 v1 i1 <"$out/$which-$r.counters1"
		echo "$which-$r load before: $(cat "$out/$which-$r.load"); per call: $(awk -v n="$ok" \
			-v f=$((f1 - f0)) -v v=$((v1 - v0)) -v i=$((i1 - i0)) 'BEGIN { if (n > 0)
			printf "%.2f minor faults, %.2f voluntary + %.2f involuntary context switches", f / n, v / n, i / n }')"
	done
done
