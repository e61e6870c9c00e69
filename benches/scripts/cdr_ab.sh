#!/usr/bin/env bash
# Call setup rate and server CPU per call with call records on and off (`[cdr] enabled`),
# same release binary, same harness, same sitting: the shared Kamailio harness's `call` test
# (../shared/bench/kamailio/run.sh) run alternately ROUNDS times for each setting. With records
# on, every call's record goes through the CDR writer (sled append + fsync per batch, day file)
# and is rated against a 100,000-prefix default tariff table (the harness's calls are on-net,
# so the rating itself is the criterion bench `tariff_rate`).
#
#   benches/scripts/cdr_ab.sh [ROUNDS] [OUT]       ROUNDS default 3, OUT /tmp/sb-cdr-ab
#
# CPS_RATES, CALL_DURATION and HOLD_MS pass through to the harness.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
harness=${HARNESS:-$here/../shared/bench/kamailio/run.sh}
rounds=${1:-3}
out=${2:-/tmp/sb-cdr-ab}
mkdir -p "$out/tariffs"
[ -n "${SKIP_BUILD:-}" ] || (cd "$here" && cargo build --release) || exit 1
bin=${BIN:-$here/target/release/switchboard}
# a 100,000-prefix table, as in the criterion bench
python3 - "$out/tariffs/default.csv" <<'PY'
import random, sys
random.seed(7)
seen = set()
with open(sys.argv[1], "w") as f:
    f.write("prefix,per_minute,connection,first,next,currency\n")
    while len(seen) < 100000:
        p = str(random.randint(1, 9)) + "".join(random.choice("0123456789") for _ in range(random.randint(1, 8)))
        if p in seen:
            continue
        seen.add(p)
        f.write(f"{p},{random.randint(0, 49999) / 10000:.4f},0.5,60,60,EUR\n")
PY
for r in $(seq 1 "$rounds"); do
	for cdr in on off; do
		echo "== round $r: records $cdr ($(cut -d' ' -f1-3 /proc/loadavg))" >&2
		rm -rf "$out/sb-data"
		enabled=true
		[ "$cdr" = off ] && enabled=false
		printf '[cdr]\nenabled = %s\n[tariffs]\ndir = "%s"\n[security]\ntrusted = ["127.0.0.0/8"]\n' "$enabled" "$out/tariffs" \
			>"$out/config-$cdr.toml"
		"$bin" serve --sip 127.0.0.1:5080 --http 127.0.0.1:8088 --auth off \
			--config "$out/config-$cdr.toml" --data "$out/sb-data" \
			>"$out/switchboard-$cdr-$r.log" 2>&1 &
		pid=$!
		sleep 2
		START_SERVER=0 TARGET=127.0.0.1:5080 SERVER_PIDS=$pid \
			TESTS=call WORK="$out/$cdr-$r" bash "$harness" >"$out/$cdr-$r.txt"
		# CPU of the threads that do nothing but records (the writer, sled's flushes), in clock
		# ticks, against the switch's total
		for t in /proc/$pid/task/*; do
			echo "$(cat "$t/comm") $(awk '{print $14+$15}' "$t/stat")"
		done | awk '{a[$1]+=$2; all+=$2} /^cdr-writer|^sled-io/ {rec+=$2}
			END {printf "threads: records=%d all=%d ticks\n", rec, all}' >>"$out/$cdr-$r.txt"
		kill -TERM $pid 2>/dev/null
		wait $pid 2>/dev/null
		echo "   load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
	done
done
for f in "$out"/o*-[0-9]*.txt; do
	echo "# $(basename "$f" .txt)"
	cat "$f"
done
