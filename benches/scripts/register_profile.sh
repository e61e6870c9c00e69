#!/usr/bin/env bash
# Where the switch spends its CPU under a REGISTER storm: perf profile and flame graph.
#
#   benches/scripts/register_profile.sh [RATE] [SECONDS] [OUT.svg]
#                                          (defaults 20000 30 /tmp/register-profile.svg)
#
# Starts the release binary (BIN= another) with --auth off (auth=on: AUTH=on, accounts are not
# made, so only the 401 path is seen), sends the shared harness's REGISTER scenario from SIPp
# (10,000 users, then refreshes) at RATE for SECONDS, and records the switch's threads with
# `perf record --call-graph dwarf` at 499 Hz for 10 s in the middle of the run. Writes the
# flame graph (inferno) and prints the functions with the most inclusive and the most self
# time, in percent of the switch's samples. Needs perf and inferno (cargo install inferno).
set -uo pipefail
rate=${1:-20000}
secs=${2:-30}
svg=${3:-/tmp/register-profile.svg}
repo=$(cd "$(dirname "$0")/../.." && pwd)
main=$(cd "$(git -C "$repo" rev-parse --git-common-dir)/.." && pwd)
KAMDIR=${KAMDIR:-$main/../shared/bench/kamailio}
bin=${BIN:-$repo/target/release/switchboard}
ip=${PROFILE_IP:-127.0.0.78}
work=$(mktemp -d /tmp/sb-profile.XXXXXX)
printf '[security]\ntrusted = ["127.0.0.0/8"]\n' >"$work/sb.toml"
"$bin" serve --config "$work/sb.toml" --sip $ip:5366 --http $ip:8366 --auth "${AUTH:-off}" \
	--data "$work/data" >"$work/switch.log" 2>&1 </dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
sleep 2
{ echo SEQUENTIAL; awk 'BEGIN { for (i = 1; i <= 10000; i++) printf "u%06d;\n", i }'; } >"$work/users.csv"
(cd "$work" && exec sipp $ip:5366 -t u1 -i 127.0.0.79 -p 5367 -nostdin -buff_size 4194304 \
	-sf "$KAMDIR/scenarios/register.xml" -inf "$work/users.csv" -key contact_host 127.0.0.1 \
	-key contact_port 5999 -key expires 3600 -r "$rate" -rp 1000 -m $((rate * secs)) \
	-recv_timeout 8000 -timeout $((secs + 30))s >"$work/sipp.log" 2>&1) &
sp=$!
sleep $(((secs - 10) / 2))
perf record -F 499 --call-graph dwarf,16384 -p $pid -o "$work/perf.data" -- sleep 10 \
	>"$work/perf.log" 2>&1
wait $sp
folded=${svg%.svg}.folded
perf script -i "$work/perf.data" 2>/dev/null | inferno-collapse-perf >"$folded"
inferno-flamegraph --title "switchboard, REGISTER at $rate/s (auth ${AUTH:-off})" <"$folded" >"$svg"
echo "flame graph: $svg, stacks: $folded ($(awk '{ n += 1 } END { print n }' "$folded") stacks)"
# inclusive: every function once per stack (the runtime's frames above 90 % left out); self:
# the leaf
awk '{ n = $NF; $NF = ""; t += n; k = split($0, f, ";"); delete seen
	for (i = 1; i <= k; i++) { g = f[i]; sub(/ +$/, "", g); if (!(g in seen)) { inc[g] += n; seen[g] = 1 } }
	g = f[k]; sub(/ +$/, "", g); self[g] += n }
	END { for (g in inc) if (inc[g] < 0.9 * t) printf "incl %5.1f%% %s\n", 100 * inc[g] / t, g
		for (g in self) printf "self %5.1f%% %s\n", 100 * self[g] / t, g }' "$folded" |
	sort -k1,1 -k2,2nr | awk '$1 != p { c = 0; p = $1 } c++ < 40'
