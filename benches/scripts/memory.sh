#!/usr/bin/env bash
# Memory per idle registration: register COUNT distinct users with SIPp against a switch
# built in release mode (auth off, as in the Kamailio comparison), let every Extension actor
# and server transaction retire, then compare the switch's RSS with its RSS before.
#
#   benches/scripts/memory.sh [COUNT] [RATE]      (defaults 100000 5000; BIN= another binary)
#
# Prints: baseline RSS, RSS with COUNT idle registrations, bytes per registration.
set -euo pipefail
count=${1:-100000}
rate=${2:-5000}
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BIN:-$here/target/release/switchboard}
[ -x "$bin" ] || (cd "$here" && cargo build --release)
work=$(mktemp -d /tmp/sb-mem.XXXXXX)
cat >"$work/mem.toml" <<TOML
[auth]
nonce_lifetime_secs = 1
[store]
cache_capacity_mb = ${SB_CACHE_MB:-64}
[extension]
idle_timeout_secs = 1
# SIPp sends thousands a second from loopback: no flood ban
[security]
trusted = ["127.0.0.0/8"]
TOML
"$bin" serve --config "$work/mem.toml" --sip 127.0.0.1:5090 --http 127.0.0.1:8090 --auth off \
	--data "$work/data" >"$work/switch.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
sleep 2
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
metric() { curl -s 127.0.0.1:8090/metrics | awk -v m="$1" '$1 == m {print $2}'; }
base=$(rss)
{ echo SEQUENTIAL; awk -v n="$count" 'BEGIN { for (i = 1; i <= n; i++) printf "m%07d;\n", i }'; } >"$work/users.csv"
sipp 127.0.0.1:5090 -sf "${KAMDIR:-$here/../shared/bench/kamailio}/scenarios/register.xml" -inf "$work/users.csv" \
	-key contact_host 127.0.0.1 -key contact_port 5070 -key expires 3600 \
	-r "$rate" -m "$count" -i 127.0.0.1 -p 5091 -nostdin -buff_size 4194304 >"$work/sipp.log" 2>&1 || true
# Extensions retire after their idle timeout (and server transactions, where a binary keeps
# them for REGISTER, live 32 s: Timer J)
for _ in $(seq 1 90); do
	sleep 1
	[ "$(metric switchboard_extensions_active)" = 0 ] && break
done
sleep 35
after=$(rss)
regs=$(metric switchboard_registrations)
echo "registrations=$regs extensions_active=$(metric switchboard_extensions_active)"
echo "rss_kib_before=$base rss_kib_after=$after"
awk -v a="$after" -v b="$base" -v n="$regs" 'BEGIN { printf "bytes_per_idle_registration=%.0f (RSS growth of the process that took the registrations)\n", (a-b)*1024/n }'
# the same data in a fresh process: what is held for the registrations themselves, without
# what the allocator kept from the burst of transactions that created them
kill -TERM $pid; wait $pid 2>/dev/null || true
"$bin" serve --config "$work/mem.toml" --sip 127.0.0.1:5090 --http 127.0.0.1:8090 --auth off \
	--data "$work/data" >"$work/switch2.log" 2>&1 &
pid=$!
sleep 5
held=$(rss)
echo "rss_kib_fresh_process_with_bindings=$held registrations=$(metric switchboard_registrations)"
awk -v a="$held" -v b="$base" -v n="$regs" 'BEGIN { printf "bytes_held_per_registration=%.0f (fresh process, every binding loaded)\n", (a-b)*1024/n }'
