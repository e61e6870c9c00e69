#!/usr/bin/env bash
# Scale on one machine: accounts, registered devices, concurrent calls and queued offline
# messages at one size N, against a release build. One line of key=value figures per step.
#
#   benches/scripts/scale.sh STEP N [RATE]
#
#   accounts N        `switchboard account import` of N accounts (a fresh data directory), then
#                     `serve --auth on` on them: import time, start-up time until it answers
#                     SIP (OPTIONS), RSS, the data directory's size
#   devices N [RATE]  --auth off: N distinct users REGISTER (expires 3600) with SIPp at RATE/s
#                     (default 20,000), then the refresh load 3600 s expiry implies (each
#                     device every 1,800 s: N / 1800 per second) for REFRESH_SECS (60): CPU
#                     per REGISTER of the storm and per refresh (the process's whole CPU over
#                     the window, idle work included), RSS; then a restart on the same data:
#                     start-up time with N bindings, RSS
#   calls N [RATE]    --auth off: SIPp UAC -> switch -> SIPp UAS (1,000 registered callees),
#                     calls at RATE/s (default N / HOLD_S) held HOLD_S s (default 25), so N
#                     are up at once for the last 20 s of the run: CPU per call
#                     (INVITE/180/200/ACK, hold, BYE), RSS and active calls at the plateau
#   messages N [RATE] --auth off: N MESSAGEs to N distinct users nobody registered, stored
#                     (202 after the group commit's fsync) at RATE/s (default 20,000): CPU
#                     per message, RSS, the data directory's size; then a restart: start-up
#                     time with N queued, RSS
#
# BIN= another binary; WORK= where data directories go (default /tmp; deleted at the end
# unless KEEP=1).
set -euo pipefail
step=${1:?usage: scale.sh accounts|devices|calls|messages N [RATE]}
n=${2:?usage: scale.sh STEP N [RATE]}
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BIN:-$here/target/release/switchboard}
# the shared harness's SIPp scenarios: beside the checkout, or beside a worktree's parent
kam=${KAMDIR:-$here/../shared/bench/kamailio}
[ -d "$kam" ] || kam=$here/../../shared/bench/kamailio
scn=$kam/scenarios
[ -f "$scn/register.xml" ] || { echo "no SIPp scenarios in $scn (set KAMDIR)" >&2; exit 2; }
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 2; }
work=$(mktemp -d "${WORK:-/tmp}/sb-scale.XXXXXX")
sip=127.0.0.1:5096
http=127.0.0.1:8096
pid=""
sipp_pids=()
cleanup() {
	for p in "${sipp_pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
	if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
cat >"$work/scale.toml" <<TOML
[store]
cache_capacity_mb = ${SB_CACHE_MB:-64}
# SIPp sends thousands a second from loopback: no flood ban, no per-source quota
[security]
trusted = ["127.0.0.0/8"]
TOML

hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
hwm() { awk '/VmHWM/ {print $2}' "/proc/$pid/status"; }
metric() { curl -s "$http/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
loadavg() { cut -d' ' -f1 /proc/loadavg; }
dirsize() { du -sm "$work/data" | cut -f1; }
# start the switch; sets pid and startup_ms (launch to the first SIP answer)
start() { # auth
	local t0 t1
	t0=$EPOCHREALTIME
	"$bin" serve --config "$work/scale.toml" --sip "$sip" --http "$http" --auth "$1" \
		--data "$work/data" >>"$work/switch.log" 2>&1 &
	pid=$!
	t1=$(python3 "$here/benches/scripts/sip_ready.py" 127.0.0.1 5096 900) || {
		echo "the switch did not answer; log: $(tail -3 "$work/switch.log")" >&2
		exit 1
	}
	startup_ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
}
stop() {
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null || true
	pid=""
}
users() { # count prefix
	{ echo SEQUENTIAL; awk -v n="$1" -v p="$2" 'BEGIN { for (i = 1; i <= n; i++) printf "%s%07d;\n", p, i }'; }
}
sipp_uac() { # dir sipp-args... (runs to the end)
	local dir=$1
	shift
	mkdir -p "$dir"
	(cd "$dir" && sipp "$sip" -i 127.0.0.1 -nostdin -buff_size 4194304 -trace_stat -stf stat.csv -fd 1 \
		-trace_err -error_file err.log -watchdog_major_maxtriggers 100000 -watchdog_minor_maxtriggers 100000 "$@" \
		>screen.log 2>&1 </dev/null) || true
}
# successful and failed calls of a SIPp run (last line of its statistics)
sipp_result() { # dir
	awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "SuccessfulCall(C)") s = i; if ($i == "FailedCall(C)") f = i } }
		END { printf "ok=%d failed=%d", $s, $f }' "$1/stat.csv"
}
per_op() { # ticks ops -> microseconds
	awk -v t="$1" -v n="$2" -v hz="$hz" 'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else printf "-" }'
}

case $step in
accounts)
	awk -v n="$n" 'BEGIN { print "number,password"; for (i = 0; i < n; i++)
		printf "+8210%08d,pw-+8210%08d\n", 10000000 + i, 10000000 + i }' >"$work/accounts.csv"
	t0=$EPOCHREALTIME
	"$bin" account import "$work/accounts.csv" --config "$work/scale.toml" --data "$work/data" >"$work/import.log"
	import_s=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	start on
	sleep 3
	echo "step=accounts n=$n import_s=$import_s ($(cat "$work/import.log")) startup_ms=$startup_ms" \
		"rss_kib=$(rss) data_mib=$(dirsize) load=$(loadavg)"
	;;
devices)
	rate=${3:-20000}
	start off
	base=$(rss)
	users "$n" d >"$work/devices.csv"
	a=$(ticks)
	t0=$EPOCHREALTIME
	sipp_uac "$work/storm" -sf "$scn/register.xml" -inf "$work/devices.csv" \
		-key contact_host 127.0.0.1 -key contact_port 5999 -key expires 3600 \
		-r "$rate" -rp 1000 -m "$n" -recv_timeout 8000 -timeout $((n / rate + 60))s
	storm_s=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	b=$(ticks)
	regs=$(metric switchboard_registrations)
	echo "step=devices n=$n storm_rate=$rate storm_s=$storm_s $(sipp_result "$work/storm")" \
		"registrations=$regs us_per_register=$(per_op $((b - a)) "$n") rss_kib_before=$base" \
		"rss_kib_after_storm=$(rss) hwm_kib=$(hwm) load=$(loadavg)"
	# the refresh load: N / 1800 per second, device after device, for REFRESH_SECS
	secs=${REFRESH_SECS:-60}
	rrate=$(awk -v n="$n" 'BEGIN { printf "%.3f", n / 1800 }')
	count=$(awk -v r="$rrate" -v s="$secs" 'BEGIN { printf "%d", r * s }')
	sleep 35 # the storm's server transactions (Timer J) and Extension actors retire first
	rss_idle=$(rss)
	a=$(ticks)
	t0=$EPOCHREALTIME
	sipp_uac "$work/refresh" -sf "$scn/register.xml" -inf "$work/devices.csv" \
		-key contact_host 127.0.0.1 -key contact_port 5999 -key expires 3600 \
		-r "$rrate" -rp 1000 -m "$count" -recv_timeout 8000 -timeout $((secs + 30))s
	b=$(ticks)
	wall=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	cpu_pct=$(awk -v t=$((b - a)) -v hz="$hz" -v w="$wall" 'BEGIN { printf "%.1f", t / hz / w * 100 }')
	echo "step=refresh n=$n rate=$rrate secs=$wall $(sipp_result "$work/refresh") refreshes=$count" \
		"us_per_refresh=$(per_op $((b - a)) "$count") cpu_pct=$cpu_pct rss_kib_idle=$rss_idle" \
		"rss_kib_refreshing=$(rss) load=$(loadavg)"
	stop
	start off
	sleep 3
	echo "step=devices_restart n=$n startup_ms=$startup_ms registrations=$(metric switchboard_registrations)" \
		"rss_kib=$(rss) data_mib=$(dirsize) load=$(loadavg)"
	;;
calls)
	hold_s=${HOLD_S:-25}
	rate=${3:-$((n / hold_s))}
	run_s=$((hold_s + 20))
	total=$((rate * run_s))
	start off
	base=$(rss)
	users 1000 c >"$work/callees.csv"
	sipp_uac "$work/callees" -sf "$scn/register.xml" -inf "$work/callees.csv" \
		-key contact_host 127.0.0.1 -key contact_port 5097 -key expires 3600 -r 500 -m 1000
	mkdir -p "$work/uas"
	(cd "$work/uas" && exec sipp -sf "$scn/uas_call.xml" -i 127.0.0.1 -p 5097 -nostdin \
		-buff_size 4194304 -watchdog_major_maxtriggers 100000 -watchdog_minor_maxtriggers 100000 \
		-timeout $((run_s + hold_s + 60))s >screen.log 2>&1 </dev/null) &
	sipp_pids+=($!)
	sleep 1
	a=$(ticks)
	sipp_uac "$work/calls" -sf "$scn/uac_call.xml" -inf "$work/callees.csv" -p 5098 \
		-r "$rate" -rp 1000 -m "$total" -d $((hold_s * 1000)) -l $((rate * (hold_s + 10))) \
		-recv_timeout 8000 -timeout $((run_s + hold_s + 40))s &
	uac=$!
	# the plateau: from hold_s to run_s every call started in the last hold_s seconds is up
	sleep $((hold_s + 15))
	plateau_rss=$(rss)
	plateau_calls=$(metric switchboard_active_calls)
	plateau_load=$(loadavg)
	wait "$uac" || true
	b=$(ticks)
	echo "step=calls n=$n rate=$rate hold_s=$hold_s calls=$total $(sipp_result "$work/calls")" \
		"us_per_call=$(per_op $((b - a)) "$total") active_calls_at_plateau=$plateau_calls" \
		"rss_kib_before=$base rss_kib_plateau=$plateau_rss hwm_kib=$(hwm) load=$plateau_load"
	;;
messages)
	rate=${3:-20000}
	start off
	base=$(rss)
	users "$n" o >"$work/offline.csv"
	a=$(ticks)
	t0=$EPOCHREALTIME
	sipp_uac "$work/store" -sf "$scn/uac_message.xml" -inf "$work/offline.csv" \
		-r "$rate" -rp 1000 -m "$n" -recv_timeout 8000 -timeout $((2 * n / rate + 120))s \
		-default_behaviors -bye
	wall=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	b=$(ticks)
	echo "step=messages n=$n rate=$rate secs=$wall $(sipp_result "$work/store")" \
		"queued=$(metric switchboard_messages_queued) us_per_message=$(per_op $((b - a)) "$n")" \
		"rss_kib_before=$base rss_kib_after=$(rss) hwm_kib=$(hwm) data_mib=$(dirsize) load=$(loadavg)"
	stop
	start off
	sleep 3
	echo "step=messages_restart n=$n startup_ms=$startup_ms queued=$(metric switchboard_messages_queued)" \
		"rss_kib=$(rss) data_mib=$(dirsize) load=$(loadavg)"
	;;
*)
	echo "unknown step $step" >&2
	exit 2
	;;
esac
