#!/usr/bin/env bash
# The load runner's own cost against SIPp's, in one sitting, driving the same switch (release,
# lab mode --auth off) with the same work:
#   - REGISTER at RATE/s for SECS s (10,000 users): client CPU per REGISTER
#   - calls INVITE/180/200/ACK, hold 1 s, caller's BYE at CPS/s for SECS s: client CPU per
#     call (SIPp: its UAC and UAS processes together; the runner plays both sides)
#   - the highest REGISTER rate each offers when asked for MAX/s (one SIPp process; the
#     runner with its default shards)
#
#   benches/scripts/runner_vs_sipp.sh [OUT]
#
# Environment: IP (the switch), CLI (SIPp's address), RATE, CPS, SECS, MAX, SB (the binary),
# SCN (SIPp's scenario files), SIP_PORT/HTTP_PORT (the switch's, 5060/8080), SIPP_PORT (SIPp's
# first port, 5070; it uses four from there), UAS_PORT (SIPp's UAS, 5080), SHARDS (the
# runner's --shards; default: its own choice), ONLY=register (the REGISTER comparison alone).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
SB=${SB:-$repo/target/release/switchboard}
scn=${SCN:-$repo/../shared/bench/kamailio/scenarios}
out=${1:-$(mktemp -d /tmp/sb-runner-sipp.XXXXXX)}
RATE=${RATE:-5000} CPS=${CPS:-200} SECS=${SECS:-20} MAX=${MAX:-40000}
IP=${IP:-127.0.0.63} CLI=${CLI:-127.0.0.64}
SIP_PORT=${SIP_PORT:-5060} HTTP_PORT=${HTTP_PORT:-8080} SIPP_PORT=${SIPP_PORT:-5070}
UAS_PORT=${UAS_PORT:-5080} ONLY=${ONLY:-}
shards=()
[ -n "${SHARDS:-}" ] && shards=(--shards "$SHARDS")
mkdir -p "$out"

# loopback trusted: no flood ban of either load generator's one address
printf '[security]\ntrusted = ["127.0.0.0/8"]\n' >"$out/switch.toml"
"$SB" serve --config "$out/switch.toml" --sip "$IP:$SIP_PORT" --http "$IP:$HTTP_PORT" --data "$out/sb-data" --auth off \
	>"$out/switchboard.log" 2>&1 </dev/null &
SBP=$!
# waited for: a switch still closing its listeners would refuse the next run's
trap 'kill $SBP 2>/dev/null || true; wait $SBP 2>/dev/null || true' EXIT
sleep 2

# ---- SIPp: REGISTER
{ echo SEQUENTIAL; for i in $(seq 400000 409999); do echo "$i;"; done; } >"$out/users.csv"
n=$((RATE * SECS))
/usr/bin/time -f "%U %S" -o "$out/sipp-reg.time" sipp "$IP:$SIP_PORT" -sf "$scn/register.xml" \
	-inf "$out/users.csv" -key contact_host "$CLI" -key contact_port 5999 -key expires 3600 \
	-r "$RATE" -rp 1000 -m "$n" -i "$CLI" -p "$SIPP_PORT" -nostdin -timeout $((SECS + 30))s \
	>"$out/sipp-reg.out" 2>&1 || true
sipp_reg_ok=$(grep -E "Successful call" "$out/sipp-reg.out" | awk '{print $(NF)}' | tail -1)

# ---- the runner: REGISTER
cat >"$out/reg.toml" <<TOML
name = "register-steady"
seed = 1
[population]
count = 10000
first = "500000"
password = "pw-{n}"
register_first = false
[behaviours.register]
rate = $RATE
[[phases]]
name = "steady"
duration_secs = $SECS
TOML
"$SB" load "$out/reg.toml" --target "$IP:$SIP_PORT" --report "$out/runner-reg.json" --quiet "${shards[@]}" \
	>"$out/runner-reg.out" 2>&1 || true

if [ "$ONLY" = register ]; then
	python3 - "$out" "$sipp_reg_ok" <<'PY'
import json, sys
out, reg_ok = sys.argv[1], int(sys.argv[2] or 0)
t = sum(float(x) for x in open(f"{out}/sipp-reg.time").read().splitlines()[-1].split()[:2])
r = json.load(open(f"{out}/runner-reg.json"))
k = next(k for k in r["kinds"] if k["kind"] == "register")
print(f"REGISTER: SIPp {t/max(reg_ok,1)*1e6:.1f} µs CPU each ({reg_ok} ok); "
      f"runner {r['runner']['cpu_secs']/max(k['ok'],1)*1e6:.1f} µs ({k['ok']} ok)")
PY
	echo "work files in $out" >&2
	exit 0
fi

# ---- SIPp: calls (UAS registered as 1,000 callees, UAC calling them)
{ echo SEQUENTIAL; for i in $(seq 600000 600999); do echo "$i;"; done; } >"$out/callees.csv"
/usr/bin/time -f "%U %S" -o "$out/sipp-uas.time" sipp -sf "$scn/uas_call.xml" -i "$CLI" -p "$UAS_PORT" \
	-nostdin -timeout $((SECS + 60))s >"$out/sipp-uas.out" 2>&1 &
UAS=$!
sipp "$IP:$SIP_PORT" -sf "$scn/register.xml" -inf "$out/callees.csv" -key contact_host "$CLI" \
	-key contact_port "$UAS_PORT" -key expires 3600 -r 500 -m 1000 -i "$CLI" -p $((SIPP_PORT + 1)) -nostdin \
	-timeout 30s >/dev/null 2>&1 || true
n=$((CPS * SECS))
/usr/bin/time -f "%U %S" -o "$out/sipp-uac.time" sipp "$IP:$SIP_PORT" -sf "$scn/uac_call.xml" \
	-inf "$out/callees.csv" -r "$CPS" -rp 1000 -m "$n" -d 1000 -i "$CLI" -p $((SIPP_PORT + 2)) -nostdin \
	-timeout $((SECS + 40))s >"$out/sipp-uac.out" 2>&1 || true
kill -INT $UAS 2>/dev/null || true
wait $UAS 2>/dev/null || true
sipp_calls_ok=$(grep -E "Successful call" "$out/sipp-uac.out" | awk '{print $(NF)}' | tail -1)

# ---- the runner: calls
cat >"$out/calls.toml" <<TOML
name = "calls-steady"
seed = 2
[population]
count = 2000
first = "700000"
password = "pw-{n}"
[behaviours.call]
rate = $CPS
answer = 1
busy = 0
no_answer = 0
ring_ms = [0, 0]
hold_ms = [1000, 1000]
callee_hangs_up = 0
rtp = false
[[phases]]
name = "steady"
duration_secs = $SECS
TOML
"$SB" load "$out/calls.toml" --target "$IP:$SIP_PORT" --report "$out/runner-calls.json" --quiet "${shards[@]}" \
	>"$out/runner-calls.out" 2>&1 || true

# ---- the highest offered REGISTER rate
/usr/bin/time -f "%U %S %e" -o "$out/sipp-max.time" sipp "$IP:$SIP_PORT" -sf "$scn/register.xml" \
	-inf "$out/users.csv" -key contact_host "$CLI" -key contact_port 5999 -key expires 3600 \
	-r "$MAX" -rp 1000 -m $((MAX * 10)) -i "$CLI" -p $((SIPP_PORT + 3)) -nostdin -timeout 40s \
	>"$out/sipp-max.out" 2>&1 || true
sed -i "s/rate = $RATE/rate = $MAX/; s/duration_secs = $SECS/duration_secs = 10/" "$out/reg.toml"
"$SB" load "$out/reg.toml" --target "$IP:$SIP_PORT" --report "$out/runner-max.json" --quiet "${shards[@]}" \
	>"$out/runner-max.out" 2>&1 || true

python3 - "$out" "$sipp_reg_ok" "$sipp_calls_ok" <<'PY'
import json, sys
out, reg_ok, calls_ok = sys.argv[1], int(sys.argv[2] or 0), int(sys.argv[3] or 0)
t = lambda f: sum(float(x) for x in open(f"{out}/{f}").read().splitlines()[-1].split()[:2])
def runner(name, kind):
    r = json.load(open(f"{out}/{name}.json"))
    k = next(k for k in r["kinds"] if k["kind"] == kind)
    return r, k
r, k = runner("runner-reg", "register")
print(f"REGISTER: SIPp {t('sipp-reg.time')/max(reg_ok,1)*1e6:.1f} µs CPU each ({reg_ok} ok); "
      f"runner {r['runner']['cpu_secs']/max(k['ok'],1)*1e6:.1f} µs ({k['ok']} ok)")
r, k = runner("runner-calls", "call")
sipp = (t('sipp-uac.time') + t('sipp-uas.time')) / max(calls_ok, 1) * 1e6
print(f"calls: SIPp UAC+UAS {sipp:.1f} µs CPU per call ({calls_ok} ok); "
      f"runner {r['runner']['cpu_secs']/max(k['ok'],1)*1e6:.1f} µs per call, both sides ({k['ok']} ok)")
secs = float(open(f"{out}/sipp-max.time").read().splitlines()[-1].split()[2])
so = open(f"{out}/sipp-max.out").read()
tot = [l for l in so.splitlines() if "Successful call" in l]
sipp_max = int(tot[-1].split()[-1]) / secs if tot and secs else 0
r, k = runner("runner-max", "register")
print(f"highest REGISTER rate asked {r['kinds'][0]['offered']/max(r['duration_secs'],1):.0f}/s offered by the runner, "
      f"{k['ok']/max(r['duration_secs'],1):.0f}/s answered; SIPp: {sipp_max:.0f}/s answered over its run")
PY
echo "work files in $out" >&2
