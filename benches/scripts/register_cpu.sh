#!/usr/bin/env bash
# Server CPU per REGISTER, peak RSS and response-time tail for one switch binary at one rate:
# the A/B tool for changes on the REGISTER path (batched receive, transaction table, store).
#
#   benches/scripts/register_cpu.sh RATE COUNT [BIN] [CONFIG]
#
# Starts BIN (default target/release/switchboard) with --auth off on a fresh data directory
# (CONFIG: a config file; SIPp from loopback needs [security] trusted = ["127.0.0.0/8"] since
# the flood bans, and KAMDIR= names the shared harness when the checkout is not beside it),
# sends COUNT REGISTERs from SIPp at RATE per second (10,000 users, then refreshes, the
# scenario of the Kamailio harness), and prints one line:
#   rate count us_per_op rss_kib rtt_max_ms rtt_over_100ms
set -euo pipefail
rate=$1
count=$2
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${3:-$here/target/release/switchboard}
config=${4:-}
scn=${KAMDIR:-$here/../shared/bench/kamailio}/scenarios/register.xml
work=$(mktemp -d /tmp/sb-regcpu.XXXXXX)
{ echo SEQUENTIAL; awk 'BEGIN { for (i = 1; i <= 10000; i++) printf "u%06d;\n", i }'; } >"$work/users.csv"
"$bin" serve ${config:+--config "$config"} --sip 127.0.0.1:5094 --http 127.0.0.1:8094 --auth off \
	--data "$work/data" >"$work/switch.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
sleep 2
ticks() { awk '{print $14 + $15}' /proc/$pid/stat; }
a=$(ticks)
(cd "$work" && sipp 127.0.0.1:5094 -t u1 -i 127.0.0.1 -p 5095 -nostdin -buff_size 4194304 -sf "$scn" \
	-inf "$work/users.csv" -key contact_host 127.0.0.1 -key contact_port 5999 -key expires 3600 \
	-r "$rate" -rp 1000 -m "$count" -recv_timeout 8000 -timeout 120s -trace_rtt -rtt_freq 1000 \
	>"$work/sipp.log" 2>&1) || true
b=$(ticks)
rss=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
hz=$(getconf CLK_TCK)
awk -F';' -v rate="$rate" -v count="$count" -v t=$((b - a)) -v hz="$hz" -v rss="$rss" '
	FNR > 1 { n++; if ($2 > m) m = $2; if ($2 > 100) slow++ }
	END { printf "rate=%d count=%d answered=%d us_per_op=%.1f rss_peak_kib=%d rtt_max_ms=%d rtt_over_100ms=%d\n",
		rate, count, n, t * 1e6 / hz / count, rss, m, slow }' "$work"/*_rtt.csv
