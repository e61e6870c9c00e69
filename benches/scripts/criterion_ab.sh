#!/usr/bin/env bash
# Criterion benches of two commits in turns, in one sitting: the ratio after/before is what
# survives a shared, noisy machine.
#
#   benches/scripts/criterion_ab.sh BEFORE AFTER "conference_mix media_codec" [ROUNDS] [FILTER]
#
# Builds each commit's bench binaries in a worktree under ${WORK:-/tmp/criterion_ab}, then runs
# BEFORE, AFTER, BEFORE, AFTER ... ROUNDS times (default 3) and prints, per bench, the median of
# the rounds' medians for each side and their ratio.
set -euo pipefail
before=$1 after=$2 benches=$3 rounds=${4:-3} filter=${5:-}
work=${WORK:-/tmp/criterion_ab}
repo=$(git rev-parse --show-toplevel)
mkdir -p "$work"
declare -A bin
for side in before after; do
    rev=${!side}
    tree=$work/$side
    [ -d "$tree" ] || git -C "$repo" worktree add -q --detach "$tree" "$rev"
    git -C "$tree" checkout -q --detach "$rev"
    for b in $benches; do
        exe=$(cd "$tree" && cargo bench --bench "$b" --no-run --message-format=json 2>/dev/null |
            python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable") and m["target"]["kind"]==["bench"]:
        print(m["executable"])' | tail -1)
        bin[$side.$b]=$exe
    done
done
out=$work/runs.txt
: > "$out"
for r in $(seq "$rounds"); do
    for side in before after; do
        echo "== round $r $side load $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out"
        for b in $benches; do
            "${bin[$side.$b]}" --bench --warm-up-time 1 --measurement-time 3 --noplot $filter 2>&1 |
                grep -E '^[a-z_0-9]+/|time:' | grep -v '%' >> "$out"
        done
    done
done
python3 - "$out" <<'PY'
import re, statistics, sys
cur = side = None
data = {}
for line in open(sys.argv[1]):
    m = re.match(r'== round \d+ (\w+)', line)
    if m:
        side = m.group(1); continue
    if re.match(r'^[a-z_0-9]+/', line):
        cur = line.split()[0].split('/')[1]
        rest = line[len(line.split()[0]):]
        if 'time:' not in rest:
            continue
        line = rest
    m = re.search(r'time:\s+\[\S+ \S+ (\S+) (\S+)', line)
    if m and cur:
        v = float(m.group(1)) * {'ns': 1e-3, 'µs': 1, 'us': 1, 'ms': 1e3}[m.group(2)]
        data.setdefault(cur, {}).setdefault(side, []).append(v)
        cur = None
print(f"{'bench':60s} {'before µs':>10s} {'after µs':>10s} {'ratio':>6s}")
for k, d in data.items():
    b = statistics.median(d['before']); a = statistics.median(d['after'])
    print(f"{k:60s} {b:10.2f} {a:10.2f} {a / b:6.2f}")
PY
