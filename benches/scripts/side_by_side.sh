#!/usr/bin/env bash
# Side by side with Kamailio 5.6 on this machine, in one sitting, with the shared harness
# (../shared/bench/kamailio/run.sh): REGISTER rate and call setup rate, both servers without
# authentication, the same SIPp scenarios and ladders.
#
#   benches/scripts/side_by_side.sh [TESTS] [OUT]     TESTS default "register call"
#
# Writes each server's figures and results.tsv under OUT (default /tmp/sb-side-by-side).
#
# FLOOR=1 also runs the REGISTER test against benches/scripts/sip_floor.c (a 200 OK built from
# the request's headers, one recvfrom and one sendto, nothing else): the socket API's floor per
# REGISTER on this machine, in the same sitting.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
harness=${HARNESS:-$here/../shared/bench/kamailio/run.sh}
tests=${1:-register call}
out=${2:-/tmp/sb-side-by-side}
mkdir -p "$out"
(cd "$here" && cargo build --release) || exit 1
bin=$here/target/release/switchboard

for t in $tests; do
	echo "== kamailio $t" >&2
	TARGET=127.0.0.1:5060 TESTS="$t" WORK="$out/kamailio-$t" bash "$harness" >"$out/kamailio-$t.txt"
	echo "== switchboard $t" >&2
	rm -rf "$out/sb-data"
	# loopback trusted (SIPp's one address is otherwise a flood to the pike limits) and no
	# hourly limit per unregistered number (msg_offline sends thousands to each), as
	# Kamailio's config has neither
	printf '[security]\ntrusted = ["127.0.0.0/8"]\n[messaging]\nunregistered_per_number_per_hour = 1000000000\n' \
		>"$out/sb.toml"
	"$bin" serve --config "$out/sb.toml" --sip 127.0.0.1:5080 --http 127.0.0.1:8088 --auth off \
		--data "$out/sb-data" >"$out/switchboard.log" 2>&1 &
	pid=$!
	sleep 2
	START_SERVER=0 TARGET=127.0.0.1:5080 SERVER_PIDS=$pid TESTS="$t" WORK="$out/switchboard-$t" \
		bash "$harness" >"$out/switchboard-$t.txt"
	kill -TERM $pid
	wait $pid 2>/dev/null
	if [ "${FLOOR:-0}" = 1 ] && [ "$t" = register ]; then
		echo "== floor $t" >&2
		gcc -O2 -o "$out/sip_floor" "$here/benches/scripts/sip_floor.c" -lpthread || exit 1
		"$out/sip_floor" 127.0.0.1 5090 &
		fpid=$!
		sleep 0.5
		START_SERVER=0 TARGET=127.0.0.1:5090 SERVER_PIDS=$fpid TESTS="$t" WORK="$out/floor-$t" \
			bash "$harness" >"$out/floor-$t.txt"
		kill -TERM $fpid
		wait $fpid 2>/dev/null
	fi
done
for f in "$out"/*-*.txt; do
	echo "# $(basename "$f" .txt)"
	grep -E '_per_s=' "$f"
done
