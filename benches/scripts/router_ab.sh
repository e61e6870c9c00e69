#!/usr/bin/env bash
# Call setup rate and server CPU per call with the Lua routing plugin (plugins/default.lua)
# against the built-in Rust router (--router plain), same binary, same harness, same sitting:
# the shared Kamailio harness's `call` test (../shared/bench/kamailio/run.sh) run alternately
# ROUNDS times for each router.
#
#   benches/scripts/router_ab.sh [ROUNDS] [OUT]       ROUNDS default 2, OUT /tmp/sb-router-ab
#
# CPS_RATES, CALL_DURATION and HOLD_MS pass through to the harness.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
harness=${HARNESS:-$here/../shared/bench/kamailio/run.sh}
rounds=${1:-2}
out=${2:-/tmp/sb-router-ab}
mkdir -p "$out"
(cd "$here" && cargo build --release) || exit 1
bin=$here/target/release/switchboard

for r in $(seq 1 "$rounds"); do
	for router in lua plain; do
		echo "== round $r: $router" >&2
		rm -rf "$out/sb-data"
		"$bin" serve --sip 127.0.0.1:5080 --http 127.0.0.1:8088 --auth off --router "$router" \
			--plugins "$here/plugins" --data "$out/sb-data" >"$out/switchboard-$router-$r.log" 2>&1 &
		pid=$!
		sleep 2
		START_SERVER=0 TARGET=127.0.0.1:5080 SERVER_PIDS=$pid \
			TESTS=call WORK="$out/$router-$r" bash "$harness" >"$out/$router-$r.txt"
		kill -TERM $pid 2>/dev/null
		wait $pid 2>/dev/null
	done
done
for f in "$out"/*-[0-9]*.txt; do
	echo "# $(basename "$f" .txt)"
	cat "$f"
done
