#!/usr/bin/env bash
# The same scenario file against Kamailio 5.6 (the shared bench config: in-memory registrar
# without auth, stateful record-routing proxy) and against Switchboard (lab mode, --auth off,
# like that config), in one sitting, with each server's CPU and memory sampled by the runner.
#
#   benches/scripts/load_side_by_side.sh ["register-storm call-burst"] [OUT]
#
# Writes OUT/<scenario>-<server>.json and .html, and prints a table per scenario: per phase
# the offered and achieved rate of its main request type, p99, and the server's CPU per
# operation over the whole run.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
SB=${SB:-$repo/target/release/switchboard}
KAMDIR=${KAMDIR:-$repo/../shared/bench/kamailio}
scenarios=${1:-"register-storm call-burst"}
out=${2:-$(mktemp -d /tmp/sb-load-side.XXXXXX)}
KAM_IP=${KAM_IP:-127.0.0.61}
SB_IP=${SB_IP:-127.0.0.62}
mkdir -p "$out"
[ -x "$SB" ] || { echo "build first: cargo build --release" >&2; exit 1; }

pids_of() { # the process and its children, comma-separated
	local p=$1
	echo "$p $(pgrep -P "$p" | tr '\n' ' ')" | xargs | tr ' ' ','
}

run_all() { # server label, target, pids
	local label=$1 target=$2 pids=$3 s
	for s in $scenarios; do
		echo "== $s against $label" >&2
		"$SB" load "$repo/scenarios/$s.toml" --target "$target" --server-pid "$pids" \
			--report "$out/$s-$label.json" --quiet --drain-secs 5 >"$out/$s-$label.txt" 2>&1 || true
		tail -n 20 "$out/$s-$label.txt" >&2
	done
}

# ---- Kamailio
mkdir -p "$out/kam"
kamailio -f "$KAMDIR/kamailio.cfg" -DD -E -Y "$out/kam" -m 2048 -M 16 \
	--substdef "!LISTEN_IP!$KAM_IP!" --substdef "!LISTEN_PORT!5060!" \
	--substdef "!CTL_SOCK!$out/kam/ctl!" --substdef "!NCHILD!2!" \
	>"$out/kamailio.log" 2>&1 </dev/null &
KAM=$!
sleep 2
kill -0 $KAM 2>/dev/null || { echo "kamailio did not start: $out/kamailio.log" >&2; exit 1; }
run_all kamailio "$KAM_IP:5060" "$(pids_of $KAM)"
kill $KAM; wait $KAM 2>/dev/null || true

# ---- Switchboard
"$SB" serve --sip "$SB_IP:5060" --http "$SB_IP:8080" --data "$out/sb-data" --auth off \
	>"$out/switchboard.log" 2>&1 </dev/null &
SBP=$!
sleep 2
run_all switchboard "$SB_IP:5060" "$SBP"
kill $SBP; wait $SBP 2>/dev/null || true

REPO="$repo" python3 - "$out" $scenarios <<'PY'
import json, sys, tomllib, os
out, names = sys.argv[1], sys.argv[2:]
repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(sys.argv[0])))) if False else None
for name in names:
    sc = tomllib.load(open(os.path.join(os.environ.get("REPO", "."), "scenarios", name + ".toml"), "rb"))
    main = "register" if "register" in name else "call"
    print(f"\n{name}: {main}")
    print(f"{'phase':>10} {'server':>12} {'offered/s':>10} {'achieved/s':>11} {'p99 ms':>8}")
    reports = {}
    for server in ("kamailio", "switchboard"):
        p = os.path.join(out, f"{name}-{server}.json")
        if os.path.exists(p):
            reports[server] = json.load(open(p))
    start = 0.0
    for ph in sc["phases"]:
        d = float(ph["duration_secs"])
        for server, r in reports.items():
            secs = [s for s in r["timeline"] if start <= s["second"] < start + d]
            off = sum(s["offered"].get(main, 0) for s in secs) / max(len(secs), 1)
            ach = sum(s["achieved"].get(main, 0) for s in secs) / max(len(secs), 1)
            p99 = max((s["p99_ms"].get(main, 0) for s in secs), default=0)
            print(f"{ph['name']:>10} {server:>12} {off:>10.0f} {ach:>11.0f} {p99:>8.1f}")
        start += d
    for server, r in reports.items():
        k = next((k for k in r["kinds"] if k["kind"] == main), {})
        srv = r.get("server") or {}
        print(f"{server:>12}: {main} ok {k.get('ok')} of {k.get('offered')}, success {k.get('success_ratio', 0):.4f}, "
              f"p99 {k.get('p99_ms', 0):.1f} ms; server {srv.get('cpu_us_per_op', 0):.1f} µs CPU/op, "
              f"RSS max {srv.get('rss_max_kib', 0)} KiB; runner {r['runner']['cpu_us_per_op']:.1f} µs CPU/op")
PY
echo "reports in $out" >&2
