#!/usr/bin/env bash
# Server memory under a REGISTER storm, Kamailio 5.6 or Switchboard, with the same SIPp load:
# the shared harness's REGISTER scenario (10,000 users, then refreshes, no auth) at RATE per
# second for SECONDS, against Kamailio with the shared kamailio.cfg (in-memory registrar
# without auth, 2 children, -m 2048 as run.sh starts it) or the switch with --auth off.
#
#   benches/scripts/register_storm_rss.sh kamailio|switchboard [RATE] [SECONDS]
#                                                      (defaults 20000 40; BIN= another binary)
#
# Every second it sums, over the server's processes (Kamailio's main process and children;
# the switch is one process), Pss and Rss from /proc/PID/smaps_rollup. Pss divides each shared
# page among the processes that map it, so Kamailio's shared memory (its shm pool, mapped by
# every child) counts once; the summed Rss counts it once per process that touched it. Prints:
#   server= rate= seconds= ok= failed= retrans= us_per_op= pss_start_mib= pss_peak_mib=
#   rss_sum_peak_mib= pss_end_mib= (start: before the storm; end: 2 s after it)
set -uo pipefail
server=${1:?usage: register_storm_rss.sh kamailio|switchboard [RATE] [SECONDS]}
rate=${2:-20000}
secs=${3:-40}
repo=$(cd "$(dirname "$0")/../.." && pwd)
# the shared harness beside the main checkout (also from a git worktree of it)
main=$(cd "$(git -C "$repo" rev-parse --git-common-dir)/.." && pwd)
KAMDIR=${KAMDIR:-$main/../shared/bench/kamailio}
bin=${BIN:-$repo/target/release/switchboard}
work=$(mktemp -d /tmp/sb-storm.XXXXXX)
ip=${STORM_IP:-127.0.0.74}   # an address of its own: other checkouts test on port 5060
port=5364
case $server in
kamailio)
	mkdir -p "$work/kam"
	kamailio -f "$KAMDIR/kamailio.cfg" -DD -E -Y "$work/kam" -m 2048 -M 16 \
		--substdef "!LISTEN_IP!$ip!" --substdef "!LISTEN_PORT!$port!" \
		--substdef "!CTL_SOCK!$work/kam/ctl!" --substdef "!NCHILD!2!" \
		>"$work/server.log" 2>&1 </dev/null &
	;;
switchboard)
	printf '[security]\ntrusted = ["127.0.0.0/8"]\n' >"$work/sb.toml"
	"$bin" serve --config "$work/sb.toml" --sip $ip:$port --http $ip:8364 \
		--auth off --data "$work/data" >"$work/server.log" 2>&1 </dev/null &
	;;
*) echo "server: kamailio or switchboard" >&2; exit 2 ;;
esac
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
sleep 2
kill -0 $pid 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
pids="$pid $(pgrep -P $pid | tr '\n' ' ')"
ticks() { local t=0 p; for p in $pids; do t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $t; }
mem() { # "pss_kib rss_kib" summed over the server's processes
	local p
	for p in $pids; do cat /proc/$p/smaps_rollup 2>/dev/null; done |
		awk '$1 == "Pss:" { p += $2 } $1 == "Rss:" { r += $2 } END { print p + 0, r + 0 }'
}
{ echo SEQUENTIAL; awk 'BEGIN { for (i = 1; i <= 10000; i++) printf "u%06d;\n", i }'; } >"$work/users.csv"
mem >"$work/mem.txt"
a=$(ticks)
(cd "$work" && exec sipp $ip:$port -t u1 -i 127.0.0.75 -p 5365 -nostdin -buff_size 4194304 \
	-sf "$KAMDIR/scenarios/register.xml" -inf "$work/users.csv" -key contact_host 127.0.0.1 \
	-key contact_port 5999 -key expires 3600 -r "$rate" -rp 1000 -m $((rate * secs)) \
	-recv_timeout 8000 -timeout $((secs + 30))s -trace_stat -stf stat.csv -fd 1 \
	>"$work/sipp.log" 2>&1) &
sp=$!
while kill -0 $sp 2>/dev/null; do mem >>"$work/mem.txt"; sleep 1; done
wait $sp
b=$(ticks)
sleep 2
end=$(mem)
hz=$(getconf CLK_TCK)
ok=$(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } { s = $c["SuccessfulCall(C)"]; f = $c["FailedCall(C)"]; r = $c["Retransmissions(C)"] } END { print s + 0, f + 0, r + 0 }' "$work/stat.csv")
set -- $ok
awk -v srv="$server" -v rate="$rate" -v secs="$secs" -v ok="$1" -v failed="$2" -v retr="$3" \
	-v t=$((b - a)) -v hz="$hz" -v end="$end" '
	NR == 1 { s = $1 }
	{ if ($1 > p) p = $1; if ($2 > r) r = $2 }
	END { split(end, e, " ")
		printf "server=%s rate=%d seconds=%d ok=%d failed=%d retrans=%d us_per_op=%.1f pss_start_mib=%.0f pss_peak_mib=%.0f rss_sum_peak_mib=%.0f pss_end_mib=%.0f\n",
			srv, rate, secs, ok, failed, retr, (ok > 0 ? t * 1e6 / hz / ok : 0), s / 1024, p / 1024, r / 1024, e[1] / 1024 }' "$work/mem.txt"
