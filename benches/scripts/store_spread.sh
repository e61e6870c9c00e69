#!/bin/bash
# Stored MESSAGEs (the harness's msg_offline step) against one switch started here, with a
# chosen [sip] udp_spread, one step per rate, a fresh data directory each time:
#
#   SPREAD=flow|datagram RATES="50000 60000" BIN=target/release/switchboard O=/tmp/sp \
#       benches/scripts/store_spread.sh
#
# Prints the harness's step lines and the datagrams each worker read
# (switchboard_sip_datagrams_read_total). Ports 127.0.0.1:5080 (SIP) and :8088 (HTTP).
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-/tmp/sp}; SPREAD=${SPREAD:-flow}; RATES=${RATES:-50000}
BIN=${BIN:-$here/target/release/switchboard}
harness=${HARNESS:-$here/../shared/bench/kamailio/run.sh}
mkdir -p "$O"
for rate in $RATES; do
	data=$O/sb-data-$SPREAD
	rm -rf "$data"
	printf '[sip]\nudp_spread = "%s"\n[security]\ntrusted = ["127.0.0.0/8"]\n[messaging]\nunregistered_per_number_per_hour = 1000000000\n' \
		"$SPREAD" >"$O/sb-$SPREAD.toml"
	"$BIN" serve --config "$O/sb-$SPREAD.toml" --sip 127.0.0.1:5080 --http 127.0.0.1:8088 --auth off \
		--data "$data" >"$O/sb-$SPREAD.log" 2>&1 &
	pid=$!
	sleep 2
	echo "# $(date +%T) spread=$SPREAD rate=$rate load $(cut -d' ' -f1-3 /proc/loadavg)"
	work=$O/w-$SPREAD-$rate-$(date +%H%M%S)
	QUIET_WAIT_S=${QUIET_WAIT_S:-30} RETRY_FAILED=0 REFINE=0 START_SERVER=0 TARGET=127.0.0.1:5080 \
		SERVER_PIDS=$pid TESTS=msg_offline STORE_RATES="$rate" DURATION=${DURATION:-15} WORK="$work" \
		bash "$harness" >"$work.txt" 2>&1
	grep -E "msg_offline rate" "$work.txt"
	curl -s 127.0.0.1:8088/metrics | grep -E "^switchboard_sip_datagrams_read_total"
	kill $pid
	wait $pid 2>/dev/null
	rm -rf "$data"
done
