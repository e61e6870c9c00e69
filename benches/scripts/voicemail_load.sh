#!/usr/bin/env bash
# Voicemail sessions under load: a release switch (authentication on: a mailbox belongs to an
# account) and `switchboard load scenarios/voicemail_load.toml` against it on the same
# machine. CALLERS callers each leave messages in a mailbox of their own (an account with no
# phone registered, so the switch answers at once): a short greeting (uploaded here, spoken
# by espeak-ng when it is installed, else a 2 s tone), "please leave a message after the
# tone" (5 s) and the beep, then a 400 Hz G.711 tone recorded until the caller hangs up 28-35 s
# after the answer; a second later it calls again. The first calls are spread over 30 s, so
# the steady state has about three in four callers being recorded and the others hearing
# prompts.
#
# Over a steady window (from 5 s after the last first call) it samples the switch: CPU per
# session-second (a session: a call in progress, hearing prompts or being recorded) from
# /proc/PID/stat (utime + stime, all threads), RSS, the media threads' late ticks, the
# voicemail threads' polls (late ones: begun more than 40 ms after the one before; the
# longest; the deepest ring) and its lost frames, and once a second the calls in progress,
# the messages being written and the media sessions open. After the run: messages stored
# against calls answered, their length against the time the callers talked, and the bytes on
# disk per minute of message.
#
#   benches/scripts/voicemail_load.sh [CALLERS] [WINDOW_SECS]
#
# Defaults: 200 callers, a 40 s window (the run lasts 30 + 5 + WINDOW + 40 s). PRIORITY=1:
# this script and what it starts at nice -20 with its autogroup (as relay_side_by_side.sh).
# KEEP=1 keeps the switch's data directory, log and the load report (the path is printed).
# Prints `uptime` before, during and after: the machine is shared.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
callers=${1:-200}
window=${2:-40}
join=30
duration=$((join + 5 + window + 40))
bin=$here/target/release/switchboard
sip=127.0.0.1:5096
http=127.0.0.1:8096

: "${PRIORITY:=0}"
AUTOGROUP_WAS=
restore_priority() { [ -z "$AUTOGROUP_WAS" ] || echo "$AUTOGROUP_WAS" >/proc/$$/autogroup; }
if [ "$PRIORITY" = 1 ]; then
	renice -n -20 -p $$ >/dev/null || exit 1
	if [ -w /proc/$$/autogroup ]; then
		AUTOGROUP_WAS=$(awk '{ print $3 }' /proc/$$/autogroup)
		echo -20 >/proc/$$/autogroup || exit 1
	fi
fi

[ -x "$bin" ] || (cd "$here" && cargo build --release --bin switchboard)
work=$(mktemp -d /tmp/sb-vm.XXXXXX)
pid=
load=
cleanup() {
	[ -z "$load" ] || kill "$load" 2>/dev/null || true
	[ -z "$pid" ] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
	if [ "${KEEP:-0}" = 1 ]; then echo "kept: $work"; else rm -rf "$work"; fi
	restore_priority
}
trap cleanup EXIT
"$bin" serve --sip $sip --http $http --data "$work/data" >"$work/switch.log" 2>&1 &
pid=$!
for _ in $(seq 1 50); do curl -s -o /dev/null "http://$http/metrics" && break; sleep 0.2; done

# the accounts: callers 600000.., then their mailboxes; a short greeting in every mailbox
first=600000
accounts=$((2 * callers))
seq "$first" $((first + accounts - 1)) | xargs -P 4 -I{} curl -s -o /dev/null -w '%{http_code}\n' \
	-X POST "http://$http/v1/accounts" -H 'Content-Type: application/json' \
	-d '{"number": "{}", "password": "pw-{}"}' | sort | uniq -c | sed 's/^/accounts created: /'
if command -v espeak-ng >/dev/null; then
	espeak-ng -w "$work/greeting.wav" "Please leave a message after the tone." 2>/dev/null
else
	sox -n -r 8000 -b 16 -c 1 "$work/greeting.wav" synth 2 sine 600 vol 0.3
fi
seq $((first + callers)) $((first + accounts - 1)) | xargs -P 4 -I{} curl -s -o /dev/null \
	-w '%{http_code}\n' -u '{}:pw-{}' -X PUT -H 'Content-Type: audio/wav' \
	--data-binary @"$work/greeting.wav" \
	"http://$http/v1/accounts/{}/voicemail/greetings/unavailable" | sort | uniq -c |
	sed 's/^/greetings uploaded: /'
greeting_ms=$(curl -s -u "$((first + callers)):pw-$((first + callers))" -X PUT \
	-H 'Content-Type: audio/wav' --data-binary @"$work/greeting.wav" \
	"http://$http/v1/accounts/$((first + callers))/voicemail/greetings/unavailable" | jq .duration_ms)
echo "greeting: $greeting_ms ms"

sed -e "s/^callers = .*/callers = $callers/" -e "s/^count = .*/count = $accounts/" \
	-e "s/^offline_users = .*/offline_users = $callers/" \
	-e "s/^join_secs = .*/join_secs = $join/" \
	-e "0,/^duration_secs = .*/s//duration_secs = $duration/" \
	"$here/scenarios/voicemail_load.toml" >"$work/scenario.toml"

ticks() { awk '{ n = split($0, f, ")"); split(f[n], g, " "); print g[12] + g[13] }' /proc/$pid/stat; }
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
metrics() { curl -s "http://$http/metrics" >"$work/m.$1"; }
metric() { awk -v m="$2" '$1 == m {print $2}' "$work/m.$1"; }
hz=$(getconf CLK_TCK)
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r)"
echo "callers: $callers, run ${duration} s, window ${window} s, priority $PRIORITY"
echo "before: $(uptime)"
t0=$(ticks)
sleep 5
echo "idle switch: RSS $(rss) KiB, $(($(ticks) - t0)) CPU ticks in 5 s"
rss_idle=$(rss)

"$bin" load "$work/scenario.toml" --target $sip --server-pid $pid --report "$work/report.json" \
	--quiet >"$work/load.txt" 2>&1 &
load=$!
for _ in $(seq 1 300); do
	metrics w
	[ "$(metric w switchboard_active_calls)" -gt 0 ] 2>/dev/null && break
	sleep 0.1
done
sleep $((join + 5))
metrics a
a_cpu=$(ticks)
a_t=$(date +%s.%N)
: >"$work/gauges"
for _ in $(seq 1 "$window"); do
	sleep 1
	metrics g
	echo "$(metric g switchboard_active_calls) $(metric g switchboard_voicemail_deposits_active) $(metric g switchboard_media_sessions)" >>"$work/gauges"
done
metrics b
b_cpu=$(ticks)
b_t=$(date +%s.%N)
rss_busy=$(rss)
echo "during: $(uptime)"
d() { awk -v a="$(metric a "$1")" -v b="$(metric b "$1")" 'BEGIN { printf "%.6f", b - a }'; }
read -r sessions recording open < <(awk '{ s += $1; r += $2; o += $3; n++ }
	END { printf "%.1f %.1f %.1f\n", s / n, r / n, o / n }' "$work/gauges")
awk -v c="$((b_cpu - a_cpu))" -v hz="$hz" -v t0="$a_t" -v t1="$b_t" -v s="$sessions" \
	-v r="$recording" -v o="$open" -v ri="$rss_idle" -v rb="$rss_busy" \
	-v mt="$(d switchboard_media_ticks_total)" -v ml="$(d switchboard_media_late_ticks_total)" \
	-v p="$(d switchboard_voicemail_polls_total)" -v pl="$(d switchboard_voicemail_late_polls_total)" \
	-v pb="$(d switchboard_voicemail_poll_busy_seconds_total)" \
	-v pm="$(metric b switchboard_voicemail_poll_max_seconds)" \
	-v bl="$(metric b switchboard_voicemail_backlog_max_frames)" \
	-v fw="$(d switchboard_voicemail_frames_total)" -v fd="$(d switchboard_voicemail_frames_dropped_total)" \
	'BEGIN {
		secs = t1 - t0; cpu = c / hz
		if (s <= 0) s = 1e-9
		if (r <= 0) r = 1e-9
		if (o <= 0) o = 1e-9
		printf "steady window: %.1f s, %.1f calls in progress on average, %.1f of them recording (%.0f %%), the others hearing prompts\n", secs, s, r, 100 * r / s
		printf "media sessions open: %.1f (a session stays until its dialog is done, ~32 s after the BYE)\n", o
		printf "switch CPU: %.3f cores, %.0f us per session-second (%.0f per recording-second)\n", cpu / secs, cpu * 1e6 / (secs * s), cpu * 1e6 / (secs * r)
		printf "switch RSS: %d KiB idle, %d KiB busy: %.1f KiB per call in progress (%.1f per open media session)\n", ri, rb, (rb - ri) / s, (rb - ri) / o
		printf "media threads: %d deadlines run, %d late (> 20 ms)\n", mt, ml
		printf "voicemail threads: %d polls (%.1f/s), mean %.0f us, longest so far %.1f ms, %d late (> 40 ms after the one before), deepest ring %d frames; %d frames written (%.1f s of audio per s), %d dropped\n",
			p, p / secs, pb * 1e6 / (p > 0 ? p : 1), pm * 1e3, pl, bl, fw, fw / 50 / secs, fd
	}'
grep 'switchboard_media_dropped_packets_total' "$work/m.b" | sed 's/^/media dropped: /' || true
wait $load || true
load=
echo "after: $(uptime)"
cat "$work/load.txt"

# what was stored: every answered call is a message; its length is the time the caller talked
# after the greeting and beep; its bytes on disk
metrics z
answered=$(jq '[.kinds[] | select(.kind == "voicemail") | .ok] | add // 0' "$work/report.json")
deposits=$(grep -c 'call answered by voicemail' "$work/switch.log" || true)
: >"$work/durations"
for n in $(seq $((first + callers)) $((first + accounts - 1))); do
	curl -s -u "$n:pw-$n" "http://$http/v1/accounts/$n/voicemail" |
		jq -r '.messages[].duration_ms' >>"$work/durations"
done
files=$(find "$work/data/voicemail" -name '[0-9]*.wav' | wc -l)
apparent=$(find "$work/data/voicemail" -name '[0-9]*.wav' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
allocated=$(find "$work/data/voicemail" -name '[0-9]*.wav' -printf '%b\n' | awk '{ s += $1 * 512 } END { print s + 0 }')
awk -v a="$answered" -v dp="$deposits" -v f="$files" -v ap="$apparent" -v al="$allocated" \
	-v w="$(metric z switchboard_voicemail_frames_total)" -v dr="$(metric z switchboard_voicemail_frames_dropped_total)" '
	{ n++; ms += $1; if (min == "" || $1 < min) min = $1; if ($1 > max) max = $1 }
	END {
		printf "messages: %d calls answered (the switch answered %d), %d messages listed, %d message files; %.1f min in all, each %.1f-%.1f s\n", a, dp, n, f, ms / 60000, min / 1000, max / 1000
		printf "voicemail threads in all: %d frames written, %d dropped\n", w, dr
		printf "disk: %.0f bytes (%.0f allocated) for %.2f min: %.0f bytes per minute of message (%.0f allocated)\n", ap, al, ms / 60000, ap / (ms / 60000), al / (ms / 60000)
	}' "$work/durations"
grep -c 'message too short' "$work/switch.log" | sed 's/^/messages too short: /' || true
mkdir -p /tmp/sb-vm-reports
cp "$work/report.json" "/tmp/sb-vm-reports/voicemail-$callers-$(date +%H%M%S).json"
