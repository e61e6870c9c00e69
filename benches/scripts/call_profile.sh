#!/usr/bin/env bash
# The harness's `call` ladder against one switch binary, with a CPU profile of the switch taken
# during one steady rung, and its flame graph.
#
#   benches/scripts/call_profile.sh BIN OUT [SVG]
#
# Runs ../shared/bench/kamailio/run.sh (TESTS=call, CPS_RATES default "1000 2000 4000") against
# BIN in lab mode without authentication, records `perf record --call-graph dwarf` of every
# thread of the switch for PROFILE_S seconds (15) once the PROFILE_RATE rung (2000) has run
# past its hold time, and writes OUT/perf.folded (inferno-collapse-perf) and the flame graph
# SVG (default OUT/flame.svg). CDR=off turns call records off. The harness's figures go to
# OUT/figures.txt and its table to OUT/work/results.tsv; ports as in call_ab.sh.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
harness=${HARNESS:-$here/../shared/bench/kamailio/run.sh}
[ -f "$harness" ] || harness=/work/shared/bench/kamailio/run.sh
bin=${1:?binary}
out=${2:?output directory}
svg=${3:-$out/flame.svg}
cdr=${CDR:-on}
profile_rate=${PROFILE_RATE:-2000}
profile_s=${PROFILE_S:-15}
export CPS_RATES=${CPS_RATES:-1000 2000 4000} CALL_DURATION=${CALL_DURATION:-30}
export HOLD_MS=${HOLD_MS:-10000} QUIET_WAIT_S=${QUIET_WAIT_S:-5}
export UAC_PORT=${UAC_PORT:-5171} UAS_PORT=${UAS_PORT:-5170}
port=${SB_PORT:-5180}
mkdir -p "$out"
enabled=true
[ "$cdr" = off ] && enabled=false
printf '[cdr]\nenabled = %s\n[security]\ntrusted = ["127.0.0.0/8"]\n' "$enabled" >"$out/config.toml"
rm -rf "$out/sb-data" "$out/work"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out/load.txt" >&2
(cd "$here" && exec "$bin" serve --sip 127.0.0.1:$port --http 127.0.0.1:$((port + 8)) --auth off \
	--config "$out/config.toml" --data "$out/sb-data") >"$out/switchboard.log" 2>&1 &
pid=$!
sleep 2
START_SERVER=0 TARGET=127.0.0.1:$port SERVER_PIDS=$pid TESTS=call WORK="$out/work" \
	bash "$harness" >"$out/figures.txt" &
harness_pid=$!
# the rung's directory appears when its UAS starts; its calls are steady after the hold time
while [ ! -d "$out/work/call-$profile_rate" ] && kill -0 $harness_pid 2>/dev/null; do sleep 1; done
sleep $(((HOLD_MS + 999) / 1000 + 5))
echo "profiling at $profile_rate calls/s, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/load.txt" >&2
perf record -F 499 --call-graph dwarf,16384 -p $pid -o "$out/perf.data" -- sleep "$profile_s" \
	>"$out/perf-record.log" 2>&1
wait $harness_pid
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/load.txt" >&2
kill -TERM $pid 2>/dev/null
wait $pid 2>/dev/null
perf script -i "$out/perf.data" 2>/dev/null | inferno-collapse-perf >"$out/perf.folded"
inferno-flamegraph --title "switchboard, harness call test at $profile_rate calls/s" \
	<"$out/perf.folded" >"$svg"
cat "$out/figures.txt"
