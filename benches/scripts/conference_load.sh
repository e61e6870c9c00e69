#!/usr/bin/env bash
# Conference bridges under load: a release switch (lab mode, --auth off, so no accounts are
# needed) and `switchboard load SCENARIO` against it on the same machine. Besides the load
# report (what the participants received, the probe's delay), it samples the switch over a
# steady window once every participant is in: CPU per participant-second from /proc/PID/stat,
# RSS, and the mixer thread's metrics (ticks, busy time, longest tick, late ticks). Before the
# run it checks that an idle switch does not tick.
#
#   benches/scripts/conference_load.sh [SCENARIO] [PARTICIPANTS] [WINDOW_SECS] [DURATION_SECS]
#
# Defaults: scenarios/conference_200.toml, 200, 30, the file's own duration. DURATION_SECS
# rewrites the first phase's duration_secs (a longer probe run of conference_small.toml);
# CODECS='{ PCMU = 1 }' in the environment rewrites the codec shares; BIN=path runs another
# build of the switch (an earlier commit's, side by side). SIP_PORT and HTTP_PORT (default 5094
# and 8094) move the switch's loopback ports, MEDIA_PORTS (e.g. 40000-44999) its RTP ports
# (default: the configuration's), where other work on the machine uses those; ADDR (default
# 127.0.0.1) the loopback address the switch binds SIP, HTTP and RTP to; CONFIG more TOML for
# the switch's configuration (e.g. '[conference]\nmax_participants = 100'); CONFERENCES JSON
# bodies (one a line) to POST to /v1/conferences before the run (a room above the 50 a room
# made by its first caller holds: '{"name":"loadconf-0","max_participants":100}'). The switch
# trusts loopback (`[security] trusted`): no flood ban of the load generator's one address.
# Prints `uptime` before, during and after: the machine is shared.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
scenario=${1:-$here/scenarios/conference_200.toml}
participants=${2:-200}
window=${3:-30}
duration=${4:-}
bin=${BIN:-$here/target/release/switchboard}
[ -x "$bin" ] || (cd "$here" && cargo build --release --bin switchboard)
work=$(mktemp -d /tmp/sb-conf.XXXXXX)
sip_port=${SIP_PORT:-5094}
http_port=${HTTP_PORT:-8094}
addr=${ADDR:-127.0.0.1}
# loopback is trusted: the load generator's joins come from one address, faster than the
# flood limit (16 requests in 2 s) allows one source
printf '[security]\ntrusted = ["127.0.0.0/8"]\n' >"$work/switch.toml"
if [ -n "${MEDIA_PORTS:-}" ] || [ "$addr" != 127.0.0.1 ]; then
	printf '[media]\naddress = "%s"\n' "$addr" >>"$work/switch.toml"
	[ -z "${MEDIA_PORTS:-}" ] || printf 'ports = "%s"\n' "$MEDIA_PORTS" >>"$work/switch.toml"
fi
[ -z "${CONFIG:-}" ] || printf '%b\n' "$CONFIG" >>"$work/switch.toml"
"$bin" serve --config "$work/switch.toml" --sip $addr:$sip_port --http $addr:$http_port --auth off \
	--data "$work/data" >"$work/switch.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
sleep 2
cp "$scenario" "$work/scenario.toml"
if [ -n "$duration" ]; then
	sed -i "0,/^duration_secs = .*/s//duration_secs = $duration/" "$work/scenario.toml"
fi
if [ -n "${CODECS:-}" ]; then
	sed -i "s/^codecs = .*/codecs = $CODECS/" "$work/scenario.toml"
fi
name=$(basename "$scenario" .toml)
scenario=$work/scenario.toml

ticks() { awk '{ n = split($0, f, ")"); split(f[n], g, " "); print g[12] + g[13] }' /proc/$pid/stat; }
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
metric() { curl -s $addr:$http_port/metrics | awk -v m="$1" '$1 == m {print $2}'; }
hz=$(getconf CLK_TCK)
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r)"
echo "before: $(uptime)"

while read -r body; do
	[ -z "$body" ] || curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' -d "$body" \
		$addr:$http_port/v1/conferences || { echo "POST /v1/conferences $body failed" >&2; exit 1; }
done <<<"${CONFERENCES:-}"
t0=$(ticks)
sleep 5
echo "idle switch: RSS $(rss) KiB, $(($(ticks) - t0)) CPU ticks in 5 s, mixer ticks $(metric switchboard_conference_mixer_ticks_total)"

"$bin" load "$scenario" --target $addr:$sip_port --server-pid $pid --report "$work/report.json" \
	--quiet >"$work/load.txt" 2>&1 &
load=$!
for _ in $(seq 1 120); do
	[ "$(metric switchboard_conference_participants)" = "$participants" ] && break
	sleep 0.5
done
sleep 5
a_cpu=$(ticks)
a_t=$(date +%s.%N)
a_ticks=$(metric switchboard_conference_mixer_ticks_total)
a_busy=$(metric switchboard_conference_mixer_busy_seconds_total)
a_late=$(metric switchboard_conference_mixer_late_ticks_total)
a_miss=$(metric switchboard_conference_voice_missing_total)
sleep "$window"
b_cpu=$(ticks)
b_t=$(date +%s.%N)
b_ticks=$(metric switchboard_conference_mixer_ticks_total)
b_busy=$(metric switchboard_conference_mixer_busy_seconds_total)
b_late=$(metric switchboard_conference_mixer_late_ticks_total)
b_miss=$(metric switchboard_conference_voice_missing_total)
in=$(metric switchboard_conference_participants)
echo "during: $(uptime)"
awk -v c="$((b_cpu - a_cpu))" -v hz="$hz" -v t0="$a_t" -v t1="$b_t" -v n="$in" \
	-v k0="$a_ticks" -v k1="$b_ticks" -v b0="$a_busy" -v b1="$b_busy" -v l0="$a_late" \
	-v m0="${a_miss:-0}" -v m1="${b_miss:-0}" \
	-v l1="$b_late" -v rss="$(rss)" -v max="$(metric switchboard_conference_mixer_tick_max_seconds)" \
	'BEGIN {
		secs = t1 - t0; cpu = c / hz
		printf "steady window: %.1f s with %d participants in\n", secs, n
		printf "switch CPU: %.3f cores, %.1f us per participant-second\n", cpu / secs, cpu * 1e6 / (secs * n)
		printf "switch RSS: %d KiB\n", rss
		printf "mixer: %d ticks (%.1f/s), mean tick %.1f us, longest tick so far %.1f us, %d late ticks (> 10 ms)\n",
			k1 - k0, (k1 - k0) / secs, (b1 - b0) * 1e6 / (k1 - k0), max * 1e6, l1 - l0
		printf "voice frames not waiting at their mixer tick: %d of %d\n", m1 - m0, (k1 - k0) * n
	}'
wait $load || true
echo "after: $(uptime)"
cat "$work/load.txt"
mkdir -p /tmp/sb-conf-reports
cp "$work/report.json" "/tmp/sb-conf-reports/$name-$(date +%H%M%S).json"
