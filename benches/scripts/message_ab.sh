#!/usr/bin/env bash
# MESSAGE A/B of switch builds with the shared harness (../shared/bench/kamailio/run.sh): one
# test (`msg_online` or `msg_offline`) at one rate, or up a ladder, alternately for each
# binary, ROUNDS times; the medians of server CPU per message and of the rate reached.
#
#   benches/scripts/message_ab.sh TEST "RATES" BIN_A [BIN_B ...]
#
# RATES is one rate (CPU per message at that load) or a ladder ("16000 20000 25000": the
# highest rate passed, as the harness judges it). Environment: ROUNDS (3), OUT
# (/tmp/sb-message-ab), DURATION (20 s per rung), QUIET_WAIT_S (30), IP (127.0.0.83: the
# switch and SIPp on their own loopback address, so runs of others on the machine's usual
# ports do not collide), PERF=1 records `perf record --call-graph dwarf` of the switch for
# PERF_S (8) seconds at PERF_F (499) Hz in the middle of each rung of round 1 (OUT/<run>/perf-<rate>.data).
# The switch runs with CONFIG, by default a file that trusts loopback for flood bans and the
# per-source message limit (one SIPp source sends thousands of requests a second) and lifts
# the hourly limit of messages per unregistered number (the harness sends each of its 10,000
# offline users dozens a minute); the Kamailio config has neither limit.
#
# Prints one line per run (test, binary, round, rate passed, server µs per message, p99 ms,
# load average at the start, verdict) and then, per binary, the medians.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
harness=${HARNESS:-$here/../shared/bench/kamailio/run.sh}
[ -f "$harness" ] || harness=/work/shared/bench/kamailio/run.sh
test=${1:?test: msg_online or msg_offline}
rates=${2:?rates}
shift 2
bins=("$@")
[ ${#bins[@]} -gt 0 ] || { echo "give at least one binary" >&2; exit 2; }
rounds=${ROUNDS:-3}
out=${OUT:-/tmp/sb-message-ab}
ip=${IP:-127.0.0.83}
perf_s=${PERF_S:-8}
duration=${DURATION:-20}
mkdir -p "$out"
: >"$out/runs.tsv"
config=${CONFIG:-$out/bench.toml}
if [ -z "${CONFIG:-}" ]; then
	printf '[security]\ntrusted = ["127.0.0.0/8"]\n[messaging]\nunregistered_per_number_per_hour = 1000000000\n' >"$config"
fi

perf_when_steady() { # work dir, pid: record each rung once it has run a third of its time
	local work=$1 pid=$2 r
	for r in $rates; do
		while [ ! -f "$work/$test-$r/cpu.txt" ]; do
			kill -0 "$pid" 2>/dev/null || return
			sleep 0.5
		done
		sleep $((duration / 3))
		perf record --call-graph dwarf,16384 -F "${PERF_F:-499}" -p "$pid" -o "$work/perf-$r.data" \
			-- sleep "$perf_s" >"$work/perf-$r.log" 2>&1
	done
}

for round in $(seq 1 "$rounds"); do
	for i in "${!bins[@]}"; do
		bin=${bins[$i]}
		label=$(printf '%s' "$i")
		work=$out/$test-b$label-r$round
		rm -rf "$work" "$out/sb-data"
		mkdir -p "$work"
		load=$(cut -d' ' -f1-3 /proc/loadavg)
		"$bin" serve --config "$config" --sip "$ip:5080" --http "$ip:8088" --auth off --data "$out/sb-data" \
			>"$work/switch.log" 2>&1 &
		pid=$!
		sleep 2
		perf_pid=""
		if [ "${PERF:-0}" = 1 ] && [ "$round" = 1 ]; then
			perf_when_steady "$work" "$pid" &
			perf_pid=$!
		fi
		if [ "$test" = msg_online ]; then ladder=(MSG_RATES="$rates"); else ladder=(STORE_RATES="$rates"); fi
		env "${ladder[@]}" START_SERVER=0 TARGET="$ip:5080" LOCAL_IP="$ip" SERVER_PIDS=$pid \
			TESTS="$test" WORK="$work" DURATION="$duration" QUIET_WAIT_S="${QUIET_WAIT_S:-30}" \
			RETRY_FAILED="${RETRY_FAILED:-1}" REFINE="${REFINE:-0}" \
			bash "$harness" >"$work/stdout.txt" 2>"$work/progress.log"
		[ -n "$perf_pid" ] && wait "$perf_pid"
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		line=$(grep -m1 -E "^msg_(online|offline_stored)_per_s=" "$work/stdout.txt")
		rate=$(sed -E 's/^[a-z_]+=([^ ]+).*/\1/' <<<"$line")
		# CPU per message and p99 of the highest rung passed; when none passed, of the last
		# rung tried (marked FAIL: the machine's other tenants may have taken the cores)
		read -r us p99 verdict < <(awk -F'\t' 'NR > 1 { last = $19 " " $13 " " $21; if ($21 == "pass") best = last }
			END { print (best != "" ? best : last) }' "$work/results.tsv")
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$test" "$label" "$round" "$rate" "$us" "$p99" "$load" "$verdict" |
			tee -a "$out/runs.tsv"
	done
done

echo "# medians per binary: test binary rate server_us_per_op (bins: ${bins[*]})"
for i in "${!bins[@]}"; do
	awk -F'\t' -v b="$i" '$2 == b { r[++n] = $4; u[n] = $5 }
		function med(a, n,   i, j, t) {
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
			return a[int((n + 1) / 2)]
		}
		END { if (n) printf "%s\t%s\t%s\t%s\n", "'"$test"'", b, med(r, n), med(u, n) }' "$out/runs.tsv"
done
