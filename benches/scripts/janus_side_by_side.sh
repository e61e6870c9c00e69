#!/usr/bin/env bash
# Conference bridges side by side: Janus AudioBridge (Debian `janus` 1.1.2, plain-RTP
# participants, benches/janus/) and the switch, alternated in one sitting (Janus, switch,
# Janus, switch, ...), RUNS times each, for one shape:
#
#   benches/scripts/janus_side_by_side.sh 200     # 20 rooms of 10, 2 talkers + a probe, PCMU
#   benches/scripts/janus_side_by_side.sh 10x10   # 10 rooms of 10, 3 talkers, PCMU
#   benches/scripts/janus_side_by_side.sh 1x100   # 1 room of 100, 3 talkers, PCMU
#
# Janus: a fresh process per run (janus -F benches/janus), driven by janus_bridge_load.py
# (rooms at 8 kHz, PCMU phones from 127.0.0.91). The switch: conference_load.sh with the
# matching scenario (`switchboard load`, SIP + RTP), a fresh switch per run, on ADDR. Both
# count the server's whole process over a 30 s steady window that starts 5 s after the last
# join, and print the load average before, during and after. Outputs in $OUT (default
# /tmp/janus-side-by-side/<shape>-<time>/). RUNS (default 3), BIN (the switch), RATE (the
# Janus rooms' mixing rate, default 8000) from the environment.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
shape=${1:-200}
runs=${RUNS:-3}
rate=${RATE:-8000}
out=${OUT:-/tmp/janus-side-by-side/$shape-$(date +%H%M%S)}
mkdir -p "$out"
export BIN=${BIN:-$here/target/release/switchboard}
export ADDR=${ADDR:-127.0.0.90} SIP_PORT=${SIP_PORT:-5990} HTTP_PORT=${HTTP_PORT:-8991}
export MEDIA_PORTS=${MEDIA_PORTS:-40000-41999}
case $shape in
200) jargs="--rooms 20 --participants 10 --talkers 2 --probe"
	sb() { CODECS='{ PCMU = 1 }' "$here/benches/scripts/conference_load.sh" "$here/scenarios/conference_200.toml" 200 30; } ;;
10x10) jargs="--rooms 10 --participants 10 --talkers 3"
	sb() { "$here/benches/scripts/conference_load.sh" "$here/scenarios/conference_10x10_pcmu.toml" 100 30; } ;;
1x100) jargs="--rooms 1 --participants 100 --talkers 3"
	# a room made by its first caller holds 50: made over HTTP first, with room for 100
	sb() { CONFIG='[conference]\nmax_participants = 100' \
		CONFERENCES='{"name":"loadconf-0","max_participants":100}' \
		"$here/benches/scripts/conference_load.sh" "$here/scenarios/conference_1x100_pcmu.toml" 100 30; } ;;
*) echo "shape: 200, 10x10 or 1x100" >&2; exit 2 ;;
esac
jpid=
trap '[ -z "$jpid" ] || kill $jpid 2>/dev/null || true' EXIT
janus_run() {
	janus -F "$here/benches/janus" -C "$here/benches/janus/janus.jcfg" -L "$out/janus-$1.log" -N >/dev/null 2>&1 &
	jpid=$!
	for _ in $(seq 1 50); do
		curl -s -m 1 -o /dev/null -X POST -d '{"janus":"ping","transaction":"p"}' http://127.0.0.1:8990/janus && break
		sleep 0.2
	done
	sleep 3 # idle, as the switch's 5 s idle check
	python3 "$here/benches/scripts/janus_bridge_load.py" --pid $jpid --rate "$rate" $jargs \
		--settle 5 --window 30 --json "$out/janus-$1.json" >"$out/janus-$1.txt" 2>&1 || true
	kill $jpid; wait $jpid 2>/dev/null || true; jpid=
	grep -E "load|server CPU|RSS|heard|received|driver" "$out/janus-$1.txt"
}
for i in $(seq 1 "$runs"); do
	echo "== Janus run $i ($shape, $(date +%T))"
	janus_run "$i"
	echo "== switch run $i ($shape, $(date +%T))"
	sb >"$out/switch-$i.txt" 2>&1 || true
	grep -E "^before|^during|^after|switch CPU|switch RSS|mixer:|conferences" "$out/switch-$i.txt"
done
echo "outputs: $out"
