#!/usr/bin/env bash
# Two builds of the switch side by side in one sitting (an A/B of a change), with the shared
# harness (../shared/bench/kamailio/run.sh): each test run alternately ROUNDS times for each
# binary, both in lab mode without authentication, the same SIPp scenarios and ladders;
# Kamailio once for reference.
#
#   benches/scripts/binary_ab.sh BIN_A BIN_B [TESTS] [ROUNDS] [OUT]
#
# TESTS default "register call msg_online", ROUNDS 2, OUT /tmp/sb-binary-ab. Ladders,
# durations and the quiet wait pass through to the harness (REG_RATES, CPS_RATES, MSG_RATES,
# DURATION, CALL_DURATION, HOLD_MS, QUIET_WAIT_S).
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
harness=${HARNESS:-$here/../shared/bench/kamailio/run.sh}
bin_a=${1:?binary A}
bin_b=${2:?binary B}
tests=${3:-register call msg_online}
rounds=${4:-2}
out=${5:-/tmp/sb-binary-ab}
mkdir -p "$out"

echo "== kamailio" >&2
TARGET=127.0.0.1:5060 TESTS="$tests" WORK="$out/kamailio" bash "$harness" >"$out/kamailio.txt"
for r in $(seq 1 "$rounds"); do
	for which in a b; do
		bin=$bin_a
		[ "$which" = b ] && bin=$bin_b
		echo "== round $r: $which ($bin)" >&2
		rm -rf "$out/sb-data"
		"$bin" serve --sip 127.0.0.1:5080 --http 127.0.0.1:8088 --auth off --data "$out/sb-data" \
			>"$out/switchboard-$which-$r.log" 2>&1 &
		pid=$!
		sleep 2
		START_SERVER=0 TARGET=127.0.0.1:5080 SERVER_PIDS=$pid TESTS="$tests" \
			WORK="$out/$which-$r" bash "$harness" >"$out/$which-$r.txt"
		kill -TERM $pid 2>/dev/null
		wait $pid 2>/dev/null
	done
done
for f in "$out"/kamailio.txt "$out"/[ab]-*.txt; do
	echo "# $(basename "$f" .txt)"
	cat "$f"
done
