#!/usr/bin/env bash
# Instructions per conference mixer tick, counted by callgrind: an A/B that does not move with
# the machine's load.
#
#   benches/scripts/conference_mix_instructions.sh BENCH_BINARY [NAME...]
#
# BENCH_BINARY is the conference_mix bench (`cargo bench --bench conference_mix --no-run`
# prints its path); NAMEs are its benches (default: all five). For each, the binary runs twice
# under callgrind with CONFERENCE_MIX_TICKS=SMALL and LARGE (default 200 and 1200): the rooms
# are set up, then ticked that many times, without criterion. Instructions per tick =
# (total(LARGE) - total(SMALL)) / (LARGE - SMALL): the set-up cancels out. Per participant-
# second: per tick x 50 / participants. The LARGE run's profile stays in OUT (default
# /tmp/sb-mix-instr) as NAME.callgrind, for `callgrind_annotate --inclusive=yes`.
set -euo pipefail
bin=$1
shift
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	names=(conference_mix_10_rooms_x10_pcmu_3_talkers_tick
		conference_mix_1_room_x100_pcmu_3_talkers_tick
		conference_mix_mixed_rate_12_3_talkers_tick
		conference_mix_mixed_rate_20_pcmu_g722_3_talkers_tick
		conference_mix_mixed_rate_100_pcmu_g722_3_talkers_tick)
fi
small=${SMALL:-200}
large=${LARGE:-1200}
out=${OUT:-/tmp/sb-mix-instr}
mkdir -p "$out"
total() {
	CONFERENCE_MIX_TICKS=$2 valgrind --tool=callgrind --callgrind-out-file="$3" "$bin" "$1" \
		>/dev/null 2>"$3.log"
	awk '/^summary:/ {print $2}' "$3"
}
printf "%-58s %14s %12s\n" bench instr/tick "instr/p-s"
for name in "${names[@]}"; do
	a=$(total "$name" "$small" "$out/$name.small")
	b=$(total "$name" "$large" "$out/$name.callgrind")
	case $name in
	*x10_pcmu* | *x100_pcmu* | *_100_*) n=100 ;;
	*_12_*) n=12 ;;
	*_20_*) n=20 ;;
	*) n=1 ;;
	esac
	awk -v a="$a" -v b="$b" -v s="$small" -v l="$large" -v n="$n" -v name="$name" \
		'BEGIN { t = (b - a) / (l - s); printf "%-58s %14.0f %12.0f\n", name, t, t * 50 / n }'
done
