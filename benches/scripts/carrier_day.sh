#!/usr/bin/env bash
# scenarios/carrier-day.toml against a release switch holding its 1,000,000 accounts (digest
# auth on): imports the accounts into a fresh data directory, starts the switch, runs the
# scenario with the switch's CPU and memory sampled, writes the reports, stops the switch and
# deletes the data directory.
#
#   benches/scripts/carrier_day.sh [REPORT]     (default benches/reports/carrier-day.json;
#                                                the HTML report is written beside it)
#
# BIN= another binary; WORK= where the data directory goes (default /tmp).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BIN:-$here/target/release/switchboard}
report=${1:-$here/benches/reports/carrier-day.json}
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 2; }
work=$(mktemp -d "${WORK:-/tmp}/sb-carrier.XXXXXX")
pid=""
trap '[ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$work"' EXIT
cat >"$work/carrier.toml" <<TOML
[store]
cache_capacity_mb = 64
# the runner sends thousands a second from loopback: no flood ban, no per-source quota
[security]
trusted = ["127.0.0.0/8"]
# the scenario's busy callees answer 486 and the runner expects the caller to get it; with
# voicemail on (the default) the switch rightly takes those calls to the callee's mailbox
# and answers 200 (voicemail under load: benches/scripts/voicemail_load.sh)
[voicemail]
enabled = false
TOML
awk 'BEGIN { print "number,password"; for (i = 0; i < 1000000; i++)
	printf "+8210%08d,pw-+8210%08d\n", 10000000 + i, 10000000 + i }' >"$work/accounts.csv"
"$bin" account import "$work/accounts.csv" --config "$work/carrier.toml" --data "$work/data"
"$bin" serve --config "$work/carrier.toml" --sip 127.0.0.1:5096 --http 127.0.0.1:8096 \
	--auth on --data "$work/data" >"$work/switch.log" 2>&1 &
pid=$!
python3 "$here/benches/scripts/sip_ready.py" 127.0.0.1 5096 120 >/dev/null
mkdir -p "$(dirname "$report")"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin" load "$here/scenarios/carrier-day.toml" --target 127.0.0.1:5096 --server-pid "$pid" \
	--report "$report" --quiet || echo "thresholds not all held (exit $?)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "switch RSS at the end: $(awk '/VmRSS/ {print $2}' "/proc/$pid/status") KiB," \
	"highest $(awk '/VmHWM/ {print $2}' "/proc/$pid/status") KiB;" \
	"registrations $(curl -s 127.0.0.1:8096/metrics | awk '$1 == "switchboard_registrations" {print $2}')"
