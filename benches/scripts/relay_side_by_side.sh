#!/usr/bin/env bash
# The media relay side by side with rtpengine (Debian rtpengine-daemon, userspace forwarding)
# and relay.c (one recvfrom + one sendto per packet, the floor), in one sitting, with the
# shared RTP harness (../shared/bench/rtpengine: rtpgen.c, relay.c, run.sh; called from
# there, never copied).
#
#   benches/scripts/relay_side_by_side.sh                 the whole sitting
#   NS="500 1000" REPEAT=1 benches/scripts/relay_side_by_side.sh
#   PIN=1 ...                                             server on CPU 0, generator on CPU 1
#   SB_THREADS=1 MODES=switchboard ...                    one media thread
#   TRANSCODE_NS="100 200 300" NS= ...                    transcoding capacity of one core only
#   PRIORITY=1 ...                                        on a machine others keep busy: the
#                                                         servers and the generator above them
#   MODES="relay rtpengine switchboard switchboard-sendto" SB_FLAGS_sendto="--connect-latched false"
#                                                         an A/B of one switchboard binary: a
#                                                         mode switchboard-NAME runs `media relay`
#                                                         with the flags in SB_FLAGS_NAME
#   MODES="relay relay-connect ..."                       relay.c also with --connect (connected
#                                                         sockets, send())
#
# For each N (concurrent G.711 calls, 100 forwarded packets/s each) and each repeat, the modes
# run one after the other (interleaved, so that the machine's other load falls on all of
# them alike): `relay` and `rtpengine` through the harness's run.sh (one step each), and
# `switchboard`: `switchboard media relay --calls N` started here, driven by the harness's
# generator (`rtpgen --mode relay`) exactly as run.sh drives relay.c. Then, optionally, the
# memory baseline (`--calls 0`) and the transcoding ladder (`--transcode`, one media thread).
#
# Output (OUT, default a new /tmp/sb-relay.XXXXXX): results.raw (the generator's RESULT lines
# with mode, calls and run, plus the switch's RSS and counters), summary.md (the tables),
# logs. Every knob is an environment variable below; run.sh's own knobs (WARMUP, DURATION,
# PIN, GEN_NICE, LOSS_PCT, LATE_MS, ...) are passed on to it.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# the harness beside the checkout (../shared) or beside the directory of worktrees (../../shared)
if [ -z "${HARNESS:-}" ]; then
	for h in "$repo/../shared/bench/rtpengine" "$repo/../../shared/bench/rtpengine"; do
		[ -x "$h/run.sh" ] && HARNESS=$(cd "$h" && pwd) && break
	done
	: "${HARNESS:=$repo/../shared/bench/rtpengine}"
fi
: "${NS=250 500 1000 1500 2000}"
: "${MODES:=relay rtpengine switchboard}"
: "${REPEAT:=3}"
: "${SB_THREADS:=0}"                 # switchboard media threads (0 = one per core)
: "${SB_EXTRA:=}"                    # more `media relay` flags
: "${TRANSCODE_NS:=}"                # transcoded calls per step on one media thread; empty: skip
: "${TRANSCODE_PIN:=1}"              # the transcoding ladder pinned: its media thread on CPU 0
: "${MEMORY:=1}"                     # RSS of `--calls 0` for the per-call memory figure
: "${BUILD:=1}"
: "${QUIET_CORES:=0.3}"              # before a step, wait until the others use less than this
: "${QUIET_WAIT_S:=300}"             # ... but no longer than this (0: do not wait)
: "${BUSY_OTHERS:=0.3}"              # a step during which the others used more is run again
: "${ATTEMPTS:=3}"                   # ... up to this many times in all
: "${SB_BIN:=$repo/target/release/switchboard}" # another build to compare (A/B)
: "${OUT:=}"
export WARMUP="${WARMUP:-5}" DURATION="${DURATION:-20}" DRAIN_MS="${DRAIN_MS:-1000}"
export TICK_US="${TICK_US:-1000}" GEN_BASE="${GEN_BASE:-10000}" RELAY_BASE="${RELAY_BASE:-20000}"
export PIN="${PIN:-0}" SERVER_CPUS="${SERVER_CPUS:-0}" GEN_CPUS="${GEN_CPUS:-1}"
export GEN_NICE="${GEN_NICE:--20}" LOSS_PCT="${LOSS_PCT:-0.1}" LATE_MS="${LATE_MS:-50}"
export GEN_MAX_CORES="${GEN_MAX_CORES:-0.85}" SETTLE_S="${SETTLE_S:-3}"

[ -x "$HARNESS/run.sh" ] && [ -f "$HARNESS/rtpgen.c" ] || {
	echo "no RTP harness at $HARNESS (set HARNESS=/path/to/shared/bench/rtpengine)" >&2
	exit 2
}
# PRIORITY=1: this script and all it starts at nice -20, and so is its autogroup (with
# autogroup scheduling, each session's processes share one weight against other sessions',
# whatever their nice values, so a nice -20 alone does not put them above a build started
# elsewhere). For the length of the sitting; nothing else is changed.
: "${PRIORITY:=0}"
AUTOGROUP_WAS=
# the autogroup outlives this script (it is the session's): give it back its nice value
restore_priority() { [ -z "$AUTOGROUP_WAS" ] || echo "$AUTOGROUP_WAS" >/proc/$$/autogroup; }
trap restore_priority EXIT
if [ "$PRIORITY" = 1 ]; then
	renice -n -20 -p $$ >/dev/null || exit 1
	if [ -w /proc/$$/autogroup ]; then
		AUTOGROUP_WAS=$(awk '{ print $3 }' /proc/$$/autogroup)
		echo -20 >/proc/$$/autogroup || exit 1
	fi
fi

[ -n "$OUT" ] || OUT=$(mktemp -d "${TMPDIR:-/tmp}/sb-relay.XXXXXX")
mkdir -p "$OUT"
RAW=$OUT/results.raw
: >"$RAW"
log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

if [ "$BUILD" = 1 ]; then
	(cd "$repo" && cargo build --release) || exit 1
fi
BIN=$SB_BIN
gcc -O2 -Wall -o "$OUT/rtpgen" "$HARNESS/rtpgen.c" || exit 1

ksoftirqd_pids() {
	local d c out=
	for d in /proc/[0-9]*; do
		read -r c <"$d/comm" 2>/dev/null || continue
		case $c in ksoftirqd/*) out+="${d#/proc/},"; esac
	done
	echo "${out%,}"
}
KP=$(ksoftirqd_pids)
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# CPU the machine spends, in cores, over the next 2 s (nothing of ours runs between steps)
busy_cores() {
	local a b
	a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
	sleep 2
	b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
	echo "$a $b" | awk -v n="$(nproc)" '{ printf "%.2f", n * ($3 - $1) / ($4 - $2) }'
}

# the machine is shared: wait for the other tenants to quieten before a step
wait_quiet() {
	local waited=0 b
	while [ "$waited" -lt "$QUIET_WAIT_S" ]; do
		b=$(busy_cores)
		awk -v b="$b" -v q="$QUIET_CORES" 'BEGIN { exit !(b < q) }' && return 0
		[ "$waited" = 0 ] && log "machine busy ($b cores); waiting up to ${QUIET_WAIT_S} s"
		sleep 3
		waited=$((waited + 5))
	done
}

SB_PID=
stop_sb() {
	[ -n "$SB_PID" ] || return 0
	kill -TERM "$SB_PID" 2>/dev/null
	local i
	for i in $(seq 1 50); do kill -0 "$SB_PID" 2>/dev/null || break; sleep 0.2; done
	kill -0 "$SB_PID" 2>/dev/null && kill -KILL "$SB_PID" 2>/dev/null
	wait "$SB_PID" 2>/dev/null
	SB_PID=
}
trap 'stop_sb; restore_priority' EXIT
trap 'exit 130' INT TERM

# start_sb CALLS PIN LOGFILE FLAGS...: the switch's media plane alone, until it says ready
start_sb() {
	local n=$1 pin=$2 logf=$3 i
	shift 3
	local pre=()
	[ "$pin" = 1 ] && pre=(taskset -c "$SERVER_CPUS")
	# shellcheck disable=SC2086
	"${pre[@]}" "$BIN" media relay --calls "$n" --relay-base "$RELAY_BASE" --peer-base "$GEN_BASE" \
		"$@" $SB_EXTRA >"$logf" 2>&1 &
	SB_PID=$!
	for i in $(seq 1 300); do
		grep -q '^ready' "$logf" && return 0
		kill -0 "$SB_PID" 2>/dev/null || break
		sleep 0.1
	done
	log "switchboard did not come up; see $logf"
	stop_sb
	return 1
}

# sb_step MODE CALLS RUN PIN FLAGS...: one measured step of the switch, a RESULT line in RAW
sb_step() {
	local mode=$1 n=$2 r=$3 pin=$4
	shift 4
	sleep "$SETTLE_S"
	wait_quiet
	local logf=$OUT/$mode-$n-$r.log load1
	load1=$(cut -d' ' -f1 /proc/loadavg)
	start_sb "$n" "$pin" "$logf" "$@" || return 0
	local gpre=()
	[ "$pin" = 1 ] && gpre=(taskset -c "$GEN_CPUS")
	log "step $mode N=$n run $r"
	local line
	line=$(nice -n "$GEN_NICE" "${gpre[@]}" "$OUT/rtpgen" --mode relay --calls "$n" \
		--gen-base "$GEN_BASE" --relay-base "$RELAY_BASE" --warmup "$WARMUP" --duration "$DURATION" \
		--drain "$DRAIN_MS" --tick-us "$TICK_US" --label "$mode-$n-$r" --kpids "$KP" \
		--late-ms "$LATE_MS" --pids "$SB_PID" 2>>"$OUT/rtpgen.log" | grep '^RESULT')
	local rss
	rss=$(rss_kib "$SB_PID")
	stop_sb
	[ -n "$line" ] || { log "no result for $mode N=$n"; return 0; }
	# the switch's own counts at exit: sessions received relayed sent dropped concealed ticks,
	# then per media thread its sessions and highest busy fraction
	local counts
	counts=$(awk '/^(sessions|threads) / { for (i = 1; i < NF; i += 2) printf " sb_%s=%s", $i, $(i + 1) }' "$logf")
	echo "$line xmode=$mode xcalls=$n xrun=$r pin=$pin rss_kib=${rss:-0} load1=$load1$counts" >>"$RAW"
}

# harness_step MODE CALLS RUN: one step of run.sh (relay.c or rtpengine), its RESULT line in RAW
harness_step() {
	local mode=$1 n=$2 r=$3 w=$OUT/harness-$1-$2-$3 load1 hmode=$1 connect=${RELAY_CONNECT:-0}
	# relay-connect: relay.c with connected sockets
	[ "$mode" = relay-connect ] && hmode=relay connect=1
	wait_quiet
	load1=$(cut -d' ' -f1 /proc/loadavg)
	NS=$n MODES=$hmode REPEAT=1 WORK=$w RELAY_CONNECT=$connect bash "$HARNESS/run.sh" >"$w.txt" 2>"$w.err"
	local line
	line=$(grep '^RESULT' "$w/results.raw" 2>/dev/null | tail -1)
	[ -n "$line" ] || { log "no result for $mode N=$n (see $w.err)"; return 0; }
	echo "$line xmode=$mode xcalls=$n xrun=$r pin=$PIN rss_kib=0 load1=$load1" >>"$RAW"
}

log "out $OUT; $(nproc) cores ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)); kernel $(uname -r);" \
	"rtpengine $(dpkg-query -W -f='${Version}' rtpengine-daemon 2>/dev/null || echo '?');" \
	"pin=$PIN sb_threads=$SB_THREADS warmup=$WARMUP duration=$DURATION priority=$PRIORITY"
START_UPTIME=$(uptime)

# CPU the machine's other tenants used during the step of RAW's last line, in cores
others_cores() {
	tail -1 "$RAW" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		printf "%.2f", v["machine_busy_cores"] - v["relay_cpu_cores"] - v["gen_cpu_cores"] }'
}

# a step whose ports were taken by someone else's socket for a moment is run again, and so is
# one during which the other tenants used more than BUSY_OTHERS cores (its last try is kept)
with_retry() { # mode calls run step-command...
	local before attempt o
	for attempt in $(seq 1 "$ATTEMPTS"); do
		before=$(wc -l <"$RAW")
		"${@:4}"
		if [ "$(wc -l <"$RAW")" -gt "$before" ]; then
			o=$(others_cores)
			awk -v o="$o" -v m="$BUSY_OTHERS" 'BEGIN { exit !(o > m) }' || return 0
			[ "$attempt" = "$ATTEMPTS" ] && return 0
			log "$1 N=$2 run $3: others used $o cores during the step; again"
			sed -i '$d' "$RAW"
		else
			log "$1 N=$2 run $3: no result (attempt $attempt)"
			sleep 10
		fi
	done
}

for n in $NS; do
	for r in $(seq 1 "$REPEAT"); do
		for mode in $MODES; do
			case $mode in
			switchboard) with_retry "$mode" "$n" "$r" sb_step switchboard "$n" "$r" "$PIN" --threads "$SB_THREADS" ;;
			switchboard-*)
				flags=SB_FLAGS_${mode#switchboard-}
				# shellcheck disable=SC2086
				with_retry "$mode" "$n" "$r" sb_step "$mode" "$n" "$r" "$PIN" --threads "$SB_THREADS" ${!flags:-}
				;;
			*) with_retry "$mode" "$n" "$r" harness_step "$mode" "$n" "$r" ;;
			esac
			tail -1 "$RAW" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
				printf "%s N=%s run=%s fwd=%s loss=%s%% late=%s%% cpu=%s cores %s us/pkt p99=%s us\n",
					v["xmode"], v["xcalls"], v["xrun"], v["fwd_pps"], v["loss_pct"], v["late_pct"],
					v["relay_cpu_cores"], v["relay_us_per_pkt"], v["lat_p99_us"] }' >&2
		done
	done
done

RSS0=0
if [ "$MEMORY" = 1 ] && [ -n "$NS" ]; then
	start_sb 0 "$PIN" "$OUT/switchboard-0.log" --threads "$SB_THREADS" && {
		sleep 3
		RSS0=$(rss_kib "$SB_PID")
		stop_sb
	}
	log "switchboard with no calls: VmRSS $RSS0 KiB"
fi

for n in $TRANSCODE_NS; do
	with_retry transcode "$n" 1 sb_step transcode "$n" 1 "$TRANSCODE_PIN" --threads 1 --transcode
	tail -1 "$RAW" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		printf "transcode N=%s cpu=%s cores late_ticks=%s/%s concealed=%s\n", v["xcalls"],
			v["relay_cpu_cores"], v["sb_late_ticks"], v["sb_ticks"], v["sb_concealed"] }' >&2
done

# ---------------------------------------------------------------- tables
{
	echo "Machine: $(nproc) cores ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)), kernel $(uname -r)," \
		"rtpengine-daemon $(dpkg-query -W -f='${Version}' rtpengine-daemon 2>/dev/null || echo '?')"
	echo "uptime at start: $START_UPTIME"
	echo "uptime at end:   $(uptime)"
	echo
	echo "Relayed G.711 calls; medians over $REPEAT runs (loss/late: the worst run); pin=$PIN," \
		"switchboard media threads=$SB_THREADS (0: one per core), window ${DURATION} s"
	echo
	echo "| calls | mode | fwd pkt/s | lost / late % | CPU cores | µs CPU per pkt | p50 / p99 / p99.9 µs | ctx sw per kpkt | RSS KiB | generator / others' cores | load avg | verdict |"
	echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
	awk -v lossmax="$LOSS_PCT" -v genmax="$GEN_MAX_CORES" '
	function med(list,   a, n, i, j, t) {
		n = split(list, a, " ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		if (n == 0) return ""
		return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{
		delete v
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		if (v["xmode"] == "transcode") next
		k = v["xcalls"] SUBSEP v["xmode"]
		if (!(k in seen)) { seen[k] = 1; keys[++nk] = k }
		us[k] = us[k] " " v["relay_us_per_pkt"]; cores[k] = cores[k] " " v["relay_cpu_cores"]
		fwd[k] = fwd[k] " " v["fwd_pps"]; p50[k] = p50[k] " " v["lat_p50_us"]
		p99[k] = p99[k] " " v["lat_p99_us"]; p999[k] = p999[k] " " v["lat_p999_us"]
		cs[k] = cs[k] " " v["relay_ctxsw_per_kpkt"]; rss[k] = rss[k] " " v["rss_kib"]
		gen[k] = gen[k] " " v["gen_cpu_cores"]; ld[k] = ld[k] " " v["load1"]
		oth[k] = oth[k] " " (v["machine_busy_cores"] - v["relay_cpu_cores"] - v["gen_cpu_cores"])
		if (v["loss_pct"] + 0 >= loss[k] + 0) loss[k] = v["loss_pct"]
		if (v["late_pct"] + 0 >= late[k] + 0) late[k] = v["late_pct"]
		bad = (v["loss_pct"] + v["late_pct"] > lossmax) ? "loss" : ""
		if (v["gen_cpu_cores"] + 0 > genmax) bad = bad (bad ? "+" : "") "generator-bound"
		if (bad != "") verdict[k] = bad; else if (!(k in verdict)) verdict[k] = "ok"
	}
	END {
		for (i = 1; i <= nk; i++) {
			k = keys[i]; split(k, p, SUBSEP)
			r = med(rss[k]); if (r == 0) r = "–"
			printf "| %s | %s | %.0f | %s / %s | %.3f | %.2f | %s / %s / %s | %.1f | %s | %.2f / %.2f | %.2f | %s |\n",
				p[1], p[2], med(fwd[k]), loss[k], late[k], med(cores[k]), med(us[k]),
				med(p50[k]), med(p99[k]), med(p999[k]), med(cs[k]), r, med(gen[k]), med(oth[k]),
				med(ld[k]), verdict[k]
			usm[p[1], p[2]] = med(us[k]); if (!(p[1] in ns)) { ns[p[1]] = 1; order[++nn] = p[1] }
		}
		print ""
		print "| calls | mode | / rtpengine (µs per pkt) | / relay.c |"
		print "|---:|---|---:|---:|"
		for (i = 1; i <= nn; i++) {
			n = order[i]; e = usm[n, "rtpengine"]; c = usm[n, "relay"]
			for (j = 1; j <= nk; j++) {
				split(keys[j], q, SUBSEP)
				if (q[1] != n || q[2] !~ /^(switchboard|relay-connect)/) continue
				s = usm[n, q[2]]
				printf "| %s | %s | %s | %s |\n", n, q[2], (s != "" && e > 0) ? sprintf("%.2f", s / e) : "–",
					(s != "" && c > 0) ? sprintf("%.2f", s / c) : "–"
			}
		}
	}' "$RAW"
	if [ "$RSS0" -gt 0 ] 2>/dev/null; then
		echo
		echo "Switchboard RSS with no calls: $RSS0 KiB. Per relayed call (RSS at the end of each step, after its traffic):"
		awk -v base="$RSS0" '{ delete v; for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			if (v["xmode"] == "switchboard" && v["rss_kib"] > 0)
				printf "- N=%s run %s: %s KiB, %.1f KiB per call\n", v["xcalls"], v["xrun"], v["rss_kib"],
					(v["rss_kib"] - base) / v["xcalls"] }' "$RAW"
	fi
	if [ -n "$TRANSCODE_NS" ]; then
		echo
		echo "Transcoded calls (PCMU caller, G.722 callee, both directions), one media thread, pin=$TRANSCODE_PIN"
		echo
		echo "| calls | CPU cores | ms CPU per call-second | frame packets sent | received by the legs | late ticks (> 20 ms) / ticks | concealed frames | relay socket drops | load avg |"
		echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		awk '{ delete v; for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			if (v["xmode"] != "transcode") next
			printf "| %s | %.3f | %.3f | %s | %s | %s / %s | %s | %s | %s |\n", v["xcalls"], v["relay_cpu_cores"],
				1000 * v["relay_cpu_cores"] / v["xcalls"], v["sb_sent"], v["bad"], v["sb_late_ticks"], v["sb_ticks"],
				v["sb_concealed"], v["relay_sock_drops"], v["load1"] }' "$RAW"
	fi
} >"$OUT/summary.md"
cat "$OUT/summary.md"
log "raw results: $RAW"
