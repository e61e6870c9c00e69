#!/usr/bin/env bash
# Instructions per operation of two switch builds, counted by callgrind: an A/B that does not
# move with the machine's load (CPU time on a shared 2-core VM does, by 10-20 %).
#
#   benches/scripts/instructions_ab.sh BIN_A BIN_B [OUT]           OUT default /tmp/sb-instr-ab
#
# For each test (TESTS, default "register call message"), each round (ROUNDS, default 2) and
# each workload size (SMALL and LARGE operations, default 100 and 400), each binary in turn:
# starts the switch under `valgrind --tool=callgrind` (lab mode `--auth off`, `--workers 1`,
# a fresh data directory), drives SIZE operations with SIPp at RATE per second (default 20,
# slow enough for the switch under valgrind) with the shared Kamailio harness's scenarios
# (../shared/bench/kamailio/scenarios, or SCENARIOS), stops the switch with SIGTERM and reads
# callgrind's total. Instructions per operation = (total(LARGE) - total(SMALL)) / (LARGE -
# SMALL): start-up, plugin compilation and first-use work cancel out.
#
#   register  REGISTER of distinct users (REG_USERS in the CSV, default LARGE: every REGISTER
#             creates a binding; set REG_USERS=SMALL to measure refreshes instead)
#   call      INVITE/180/200/ACK, HOLD_MS pause, BYE/200 through the switch to a SIPp UAS that
#             registered CALLEES callees first (default SMALL: the extra LARGE - SMALL calls go
#             to callees already called, as in the harness's ladder)
#   message   MESSAGE to a registered callee, answered 200 by the SIPp UAS (online delivery)
#   stored    MESSAGE to a number nobody registered (OFFLINE of the harness's offline users,
#             default SMALL, in turn: the extra LARGE - SMALL messages go to numbers that
#             already have a queue, as in the harness's ladder), stored and answered 202 after
#             the queue's fsync
#
# The switch runs with a config (OUT/bench.toml, plus CONFIG_A or CONFIG_B) that trusts loopback and lifts the hourly
# limit per unregistered number, as benches/scripts/message_ab.sh does: otherwise the flood
# limit bans SIPp's one source while the callees register, and stored messages are refused.
#
# Counting starts once the switch listens (SETTLE_S later, `callgrind_control --zero`), and
# every run of a test lasts the same wall time from there to SIGTERM (the LARGE workload plus
# DRAIN_S, default 40 s, past Timer J's 32 s so every transaction has expired): work the
# switch does per second rather than per operation (store flushes, housekeeping ticks) is the
# same in both sizes and cancels out too.
#
# What it does not see: the kernel's side (system calls, wake-ups of other threads), and with
# WORKERS=1 the hops between arbiters that two workers (the harness's default on two cores)
# make; WORKERS=2 shows those hops' user-space share, at the price of a few thousand
# instructions of spread (SIPp's Call-IDs, which pick the worker, change with its pid).
#
# CONFIG_A and CONFIG_B (TOML, `\n` for new lines) are added to the configuration of the A and
# B runs: the same binary twice compares two settings, e.g.
#   CONFIG_A='[cdr]\nenabled = true' CONFIG_B='[cdr]\nenabled = false' \
#       TESTS=call instructions_ab.sh target/release/switchboard target/release/switchboard
#
# Output in OUT: runs.tsv (one line per run: instructions, SIPp successes, failures and
# retransmissions, whether the run overran its window), summary.tsv (instructions per
# operation per round and binary, ratio B/A), and for round 1 functions-TEST.tsv: each
# function's inclusive instructions per operation under A and B (the difference of the two
# sizes' profiles, `callgrind_annotate --inclusive=yes`), largest growth first. Every run's
# callgrind profile, switch log and SIPp files stay in OUT/TEST-rROUND-SIZE-{a,b}/.
#
# Loopback only. Ports (SIP_PORT 5280, HTTP_PORT 8288, UAC_PORT 5271, UAS_PORT 5270) must be
# free; the script stops when one is taken. About 80 s per run: 24 runs with the defaults.
set -uo pipefail
export LC_ALL=C
here=$(cd "$(dirname "$0")/../.." && pwd)
scn=${SCENARIOS:-$here/../shared/bench/kamailio/scenarios}
[ -d "$scn" ] || scn=/work/shared/bench/kamailio/scenarios
bin_a=${1:?usage: instructions_ab.sh BIN_A BIN_B [OUT]}
bin_b=${2:?usage: instructions_ab.sh BIN_A BIN_B [OUT]}
out=${3:-/tmp/sb-instr-ab}

: "${TESTS:=register call message}"
: "${ROUNDS:=2}"
: "${SMALL:=100}"
: "${LARGE:=400}"
: "${RATE:=20}"             # operations per second offered by SIPp
: "${REG_USERS:=$LARGE}"    # users in the REGISTER CSV
: "${CALLEES:=$SMALL}"      # callees the UAS registers before calls and messages
: "${OFFLINE:=$SMALL}"     # numbers the stored messages go to
: "${CALLEE_RATE:=50}"      # REGISTERs per second for the callees
: "${HOLD_MS:=1000}"        # pause between ACK and BYE
: "${DRAIN_S:=40}"          # idle seconds after the LARGE workload before SIGTERM
: "${SETTLE_S:=3}"          # idle seconds after the switch listens, before the window opens
: "${WORKERS:=1}"
: "${SIP_PORT:=5280}"
: "${HTTP_PORT:=8288}"
: "${UAC_PORT:=5271}"
: "${UAS_PORT:=5270}"
ip=127.0.0.1

for f in register.xml uac_call.xml uas_call.xml uac_message.xml uas_message.xml; do
	[ -r "$scn/$f" ] || { echo "no $scn/$f (set SCENARIOS to the harness's scenarios)" >&2; exit 2; }
done
for b in "$bin_a" "$bin_b"; do
	[ -x "$b" ] || { echo "$b is not an executable" >&2; exit 2; }
done
for t in valgrind callgrind_annotate callgrind_control sipp; do
	command -v "$t" >/dev/null ||
		{ echo "$t missing (apt-get install valgrind sip-tester)" >&2; exit 2; }
done
[ "$LARGE" -gt "$SMALL" ] || { echo "LARGE must exceed SMALL" >&2; exit 2; }
mkdir -p "$out"
gen=$scn/../gen_users.sh
[ -x "$gen" ] || { echo "no $gen (the harness's user lists)" >&2; exit 2; }
"$gen" "$REG_USERS" u >"$out/users.csv"
"$gen" "$CALLEES" c >"$out/callees.csv"
"$gen" "$OFFLINE" o >"$out/offline.csv"
# media on epoll: valgrind does not follow io_uring (the media threads' rings never start)
printf '[security]\ntrusted = ["127.0.0.0/8"]\n[messaging]\nunregistered_per_number_per_hour = 1000000000\n[media]\nio = "epoll"\n' \
	>"$out/bench.toml"

SIPP_COMMON=(-t u1 -i "$ip" -nostdin -buff_size 4194304
	-watchdog_major_maxtriggers 100000 -watchdog_minor_maxtriggers 100000)
hold_s=$(((HOLD_MS + 999) / 1000))
log() { printf '# %s %s\n' "$(date +%T)" "$*" >&2; }

SW_PID=""
UAS_PID=""
stop_pid() { # pid seconds
	[ -n "${1:-}" ] || return 0
	kill -TERM "$1" 2>/dev/null
	local i
	for i in $(seq 1 $((${2:-5} * 5))); do kill -0 "$1" 2>/dev/null || break; sleep 0.2; done
	kill -KILL "$1" 2>/dev/null && log "pid $1 did not stop on SIGTERM; killed"
	wait "$1" 2>/dev/null
}
cleanup() {
	stop_pid "$UAS_PID" 5
	UAS_PID=""
	stop_pid "$SW_PID" 60
	SW_PID=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_taken() {
	ss -Hlun "sport = :$1" 2>/dev/null | grep -q . || ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

# sipp's last statistics line: "successful failed retransmissions"
sipp_counts() { # stat.csv
	awk -F';' 'NR==1 { for (i=1;i<=NF;i++) c[$i]=i; next } { l=$0 }
		END {
			split(l, f, ";")
			printf "%d %d %d", f[c["SuccessfulCall(C)"]], f[c["FailedCall(C)"]],
				f[c["Retransmissions(C)"]]
		}' "$1" 2>/dev/null || echo "0 0 0"
}

run_sipp() { # dir name max_seconds sipp-args...
	local dir=$1 name=$2 maxs=$3
	shift 3
	(cd "$dir" && exec timeout -k 5 "$maxs" sipp "$ip:$SIP_PORT" "${SIPP_COMMON[@]}" \
		-p "$UAC_PORT" -trace_stat -stf "$name-stat.csv" -fd 1 -trace_err -error_file "$name-err.log" \
		"$@" >"$name-screen.log" 2>&1 </dev/null)
}

# one run: test which bin size dir -> appends to runs.tsv
one_run() {
	local test=$1 which=$2 bin=$3 size=$4 dir=$5
	rm -rf "$dir"
	mkdir -p "$dir"
	local p
	for p in "$SIP_PORT" "$HTTP_PORT" "$UAC_PORT" "$UAS_PORT"; do
		if port_taken "$p"; then log "port $p is taken on this machine; pick another"; exit 1; fi
	done
	cp "$out/bench.toml" "$dir/config.toml"
	# more configuration for one side (an A/B of settings on one binary)
	if [ "$which" = a ]; then printf '%b\n' "${CONFIG_A:-}"; else printf '%b\n' "${CONFIG_B:-}"; fi \
		>>"$dir/config.toml"
	valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" \
		"$bin" serve --config "$dir/config.toml" --sip "$ip:$SIP_PORT" --http "$ip:$HTTP_PORT" \
		--auth off --workers "$WORKERS" --data "$dir/data" >"$dir/switch.log" 2>&1 </dev/null &
	SW_PID=$!
	local i
	for i in $(seq 1 600); do
		port_taken "$SIP_PORT" && break
		kill -0 "$SW_PID" 2>/dev/null || break
		sleep 0.2
	done
	if ! kill -0 "$SW_PID" 2>/dev/null || ! port_taken "$SIP_PORT"; then
		log "the switch did not start; see $dir/switch.log"
		exit 1
	fi
	sleep "$SETTLE_S"
	# count from here: start-up (sled's spin-waits on its lazy statics under valgrind's
	# serialised threads cost a varying 10-25 M instructions) stays out of the totals
	if ! timeout 60 callgrind_control -z "$SW_PID" >"$dir/zero.log" 2>&1; then
		log "callgrind_control could not zero the counters; see $dir/zero.log"
		exit 1
	fi
	local t0=$EPOCHSECONDS window
	# the same window for both sizes: preparation, the LARGE workload, the hold, the drain
	window=$((LARGE / RATE + hold_s + DRAIN_S + 5))
	case $test in register | stored) ;; *) window=$((window + CALLEES / CALLEE_RATE + 5)) ;; esac

	if [ "$test" != register ] && [ "$test" != stored ]; then
		run_sipp "$dir" callees $((CALLEES / CALLEE_RATE + 60)) -sf "$scn/register.xml" \
			-inf "$out/callees.csv" -key contact_host "$ip" -key contact_port "$UAS_PORT" \
			-key expires 3600 -r "$CALLEE_RATE" -rp 1000 -m "$CALLEES" -recv_timeout 8000 \
			-timeout $((CALLEES / CALLEE_RATE + 40))s
		local uas=uas_call.xml
		[ "$test" = message ] && uas=uas_message.xml
		(cd "$dir" && exec sipp -sf "$scn/$uas" "${SIPP_COMMON[@]}" -p "$UAS_PORT" \
			-trace_stat -stf uas-stat.csv -fd 1 -trace_err -error_file uas-err.log \
			-timeout $((window + 30))s >uas-screen.log 2>&1 </dev/null) &
		UAS_PID=$!
		sleep 0.5
	fi
	local maxs=$((size / RATE + hold_s + 60))
	case $test in
	register)
		run_sipp "$dir" uac "$maxs" -sf "$scn/register.xml" -inf "$out/users.csv" \
			-key contact_host "$ip" -key contact_port 5999 -key expires 3600 \
			-r "$RATE" -rp 1000 -m "$size" -recv_timeout 8000 -timeout $((maxs - 10))s
		;;
	call)
		run_sipp "$dir" uac "$maxs" -sf "$scn/uac_call.xml" -inf "$out/callees.csv" \
			-r "$RATE" -rp 1000 -m "$size" -d "$HOLD_MS" -l $((RATE * (hold_s + 10))) \
			-recv_timeout 8000 -timeout $((maxs - 10))s
		;;
	message)
		run_sipp "$dir" uac "$maxs" -sf "$scn/uac_message.xml" -inf "$out/callees.csv" \
			-r "$RATE" -rp 1000 -m "$size" -recv_timeout 8000 -timeout $((maxs - 10))s \
			-default_behaviors -bye
		;;
	stored)
		run_sipp "$dir" uac "$maxs" -sf "$scn/uac_message.xml" -inf "$out/offline.csv" \
			-r "$RATE" -rp 1000 -m "$size" -recv_timeout 8000 -timeout $((maxs - 10))s \
			-default_behaviors -bye
		;;
	esac
	local left=$((t0 + window - EPOCHSECONDS)) overrun=0
	if [ "$left" -gt 0 ]; then sleep "$left"; else overrun=$((-left)); fi
	stop_pid "$UAS_PID" 5
	UAS_PID=""
	stop_pid "$SW_PID" 120
	SW_PID=""
	local total ok failed retr uas_retr=0
	total=$(awk '/^summary:/ {print $2}' "$dir/callgrind.out" 2>/dev/null)
	read -r ok failed retr <<<"$(sipp_counts "$dir/uac-stat.csv")"
	[ -r "$dir/uas-stat.csv" ] && read -r _ _ uas_retr <<<"$(sipp_counts "$dir/uas-stat.csv")"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$test" "$round" "$which" "$size" \
		"${total:-0}" "$ok" "$failed" "$retr" "$uas_retr" "$overrun" "$bin" >>"$out/runs.tsv"
	log "$test round $round $which size $size: ${total:-no} instructions;" \
		"ok=$ok failed=$failed retransmissions=$retr/$uas_retr (uac/uas) overrun=${overrun}s"
}

# inclusive instructions per function of a profile: "function<TAB>count". The function is
# named without its file, object and module path (`switchboard_actors::shared::guarded` and
# `switchboard_actors::guard::guarded` are both `guarded`), so a function that moved between
# modules compares with itself; entries that end up with one name are summed.
functions_of() {
	callgrind_annotate --inclusive=yes --threshold=100 --auto=no "$1" 2>/dev/null | awk '
		/^ *[0-9,]+ +\([ 0-9.]+%\) +/ {
			n = $1; gsub(",", "", n)
			s = $0; sub(/^ *[0-9,]+ +\([ 0-9.]+%\) +/, "", s)
			sub(/ \[[^]]*\]$/, "", s)
			i = index(s, ":"); if (i > 0) s = substr(s, i + 1)
			if (s == "PROGRAM TOTALS") next
			gsub(/::\{\{/, "@@{{", s)
			o = ""
			while (match(s, /[a-z_][a-z0-9_]*::/)) {
				if (RSTART > 1 && substr(s, RSTART - 1, 1) ~ /[A-Za-z0-9_]/)
					o = o substr(s, 1, RSTART + RLENGTH - 1)   # the tail of a type name
				else
					o = o substr(s, 1, RSTART - 1)             # a module: dropped
				s = substr(s, RSTART + RLENGTH)
			}
			s = o s
			gsub(/@@\{\{/, "::{{", s)
			sum[s] += n
		}
		END { for (f in sum) printf "%s\t%d\n", f, sum[f] }'
}
# per-operation inclusive instructions: (LARGE profile - SMALL profile) / (LARGE - SMALL)
per_op_functions() { # small.out large.out
	join -t $'\t' -a 1 -a 2 -e 0 -o 0,1.2,2.2 <(functions_of "$1" | sort -t $'\t' -k1,1) \
		<(functions_of "$2" | sort -t $'\t' -k1,1) |
		awk -F'\t' -v d=$((LARGE - SMALL)) '{ printf "%s\t%.0f\n", $1, ($3 - $2) / d }'
}

printf '%s\t' test round binary size instructions sipp_ok sipp_failed uac_retrans uas_retrans \
	overrun_s >"$out/runs.tsv"
printf 'path\n' >>"$out/runs.tsv"
log "A = $bin_a; B = $bin_b; out $out; tests: $TESTS; sizes $SMALL and $LARGE at $RATE/s"
for round in $(seq 1 "$ROUNDS"); do
	for test in $TESTS; do
		for size in "$SMALL" "$LARGE"; do
			one_run "$test" a "$bin_a" "$size" "$out/$test-r$round-$size-a"
			one_run "$test" b "$bin_b" "$size" "$out/$test-r$round-$size-b"
		done
	done
done

# summary: instructions per operation, per round, A and B, ratio of the means
awk -F'\t' -v small="$SMALL" -v large="$LARGE" -v tests="$TESTS" -v rounds="$ROUNDS" '
	NR == 1 { next }
	{
		tot[$1, $2, $3, $4] = $5
		if ($6 != $4 || $7 != 0) bad[$1] = bad[$1] " " $3 "-r" $2 "-" $4 ":ok=" $6
		retr[$1] += $8 + $9
		if ($10 > 0) late[$1] = late[$1] " " $3 "-r" $2 "-" $4 ":" $10 "s"
	}
	END {
		printf "test\tround\tA_per_op\tB_per_op\tB/A\n"
		nt = split(tests, ts, " ")
		for (i = 1; i <= nt; i++) {
			t = ts[i]; sa = 0; sb = 0
			for (r = 1; r <= rounds; r++) {
				a = (tot[t, r, "a", large] - tot[t, r, "a", small]) / (large - small)
				b = (tot[t, r, "b", large] - tot[t, r, "b", small]) / (large - small)
				printf "%s\t%d\t%.0f\t%.0f\t%.3f\n", t, r, a, b, (a > 0 ? b / a : 0)
				sa += a; sb += b
			}
			printf "%s\tmean\t%.0f\t%.0f\t%.3f\n", t, sa / rounds, sb / rounds,
				(sa > 0 ? sb / sa : 0)
			if (t in bad)
				printf "# %s: runs with failed or missing operations:%s\n", t, bad[t]
			if (retr[t] > 0)
				printf "# %s: %d SIPp retransmissions in all (each adds work)\n", t, retr[t]
			if (t in late)
				printf "# %s: runs past their window (idle time differs):%s\n", t, late[t]
		}
	}' "$out/runs.tsv" >"$out/summary.tsv"

for test in $TESTS; do
	d=$out/$test-r1
	[ -r "$d-$SMALL-a/callgrind.out" ] && [ -r "$d-$LARGE-b/callgrind.out" ] || continue
	per_op_functions "$d-$SMALL-a/callgrind.out" "$d-$LARGE-a/callgrind.out" |
		sort -t $'\t' -k1,1 >"$out/functions-$test-a.tmp"
	per_op_functions "$d-$SMALL-b/callgrind.out" "$d-$LARGE-b/callgrind.out" |
		sort -t $'\t' -k1,1 >"$out/functions-$test-b.tmp"
	{
		printf 'function\tA_per_op\tB_per_op\tB-A\n'
		join -t $'\t' -a 1 -a 2 -e 0 -o 0,1.2,2.2 "$out/functions-$test-a.tmp" \
			"$out/functions-$test-b.tmp" |
			awk -F'\t' '{ printf "%s\t%d\t%d\t%d\n", $1, $2, $3, $3 - $2 }' |
			sort -t $'\t' -k4,4nr
	} >"$out/functions-$test.tsv"
	rm -f "$out/functions-$test-a.tmp" "$out/functions-$test-b.tmp"
done
cat "$out/summary.tsv"
