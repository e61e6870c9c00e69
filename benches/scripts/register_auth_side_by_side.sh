#!/usr/bin/env bash
# REGISTER with digest authentication, side by side with Kamailio 5.6 in one sitting: the
# shared harness's REGISTER ladder (../shared/bench/kamailio/run.sh, its step rules and CPU
# accounting) against Kamailio with auth_db over SQLite (benches/kamailio-auth/kamailio.cfg)
# and against Switchboard with digest authentication on (its default), both holding the same
# 10,000 accounts (user u000001.., password pw-u000001..).
#
#   benches/scripts/register_auth_side_by_side.sh [RATES] [OUT]   RATES default "2000 5000"
#
# Each SIPp "call" is one registration made of two transactions: REGISTER -> 401 with a
# challenge (qop=auth, MD5), REGISTER with Authorization -> 200
# (benches/kamailio-auth/scenarios/register.xml). server_us_per_op is server CPU (user +
# system, every process or thread) over the whole step divided by the successful
# registrations, so it counts both transactions, the same way for both servers.
#
# The harness is run from a work directory holding a link to run.sh beside this repository's
# Kamailio config, scenario and user list (run.sh takes them from its own directory), so the
# shared folder is used as it is. BIN= another switch binary; KAMDIR= the shared harness;
# KAM_TARGET, SB_TARGET, LOCAL_IP (SIPp) and UAC_PORT: addresses of their own on loopback, so
# that tests of other checkouts on port 5060 do not collide with these.
# Writes OUT/kamailio.txt, OUT/switchboard.txt (figures) and each server's results.tsv.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
rates=${1:-2000 5000}
out=${2:-/tmp/sb-register-auth}
# the shared harness beside the main checkout (also from a git worktree of it)
main=$(cd "$(git -C "$repo" rev-parse --git-common-dir)/.." && pwd)
KAMDIR=${KAMDIR:-$main/../shared/bench/kamailio}
bin=${BIN:-$repo/target/release/switchboard}
users=10000
KAM_TARGET=${KAM_TARGET:-127.0.0.71:5360}
SB_TARGET=${SB_TARGET:-127.0.0.72:5380}
export LOCAL_IP=${LOCAL_IP:-127.0.0.73} UAC_PORT=${UAC_PORT:-5371}
[ -x "$bin" ] || (cd "$repo" && cargo build --release) || exit 1
command -v sqlite3 >/dev/null || { echo "sqlite3 missing (apt-get install sqlite3)" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out/harness/scenarios"
h=$out/harness

# ---- the harness with this repository's config, scenario and users
ln -s "$KAMDIR/run.sh" "$h/run.sh"
cp "$repo/benches/kamailio-auth/scenarios/register.xml" "$h/scenarios/register.xml"
cat >"$h/gen_users.sh" <<'SH'
#!/usr/bin/env bash
# gen_users.sh COUNT [PREFIX]: SIPp injection file, field0 = user, field1 = password,
# field2 = SIPp's authentication keyword for them
n=$1 p=${2:-u}
echo SEQUENTIAL
awk -v n="$n" -v p="$p" 'BEGIN { for (i = 1; i <= n; i++) {
	u = sprintf("%s%06d", p, i)
	printf "%s;pw-%s;[authentication username=%s password=pw-%s];\n", u, u, u, u } }'
SH
chmod +x "$h/gen_users.sh"
db=$out/subscriber.sqlite
sed "s!sqlite:///tmp/kamailio-auth/subscriber.sqlite!sqlite://$db!" \
	"$repo/benches/kamailio-auth/kamailio.cfg" >"$h/kamailio.cfg"

# ---- Kamailio's subscriber table: ha1 = MD5(user:realm:password), realm = the To domain
# (the scenario's [remote_ip], Kamailio's address)
sqlite3 "$db" <"$repo/benches/kamailio-auth/subscriber-sqlite.sql" || exit 1
python3 - "$users" "$db" "${KAM_TARGET%:*}" <<'PY'
import hashlib, sqlite3, sys
n, path, realm = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rows = []
for i in range(1, n + 1):
    u = "u%06d" % i
    pw = "pw-" + u
    rows.append((u, realm, hashlib.md5(f"{u}:{realm}:{pw}".encode()).hexdigest()))
c = sqlite3.connect(path)
c.executemany("INSERT INTO subscriber (username, domain, ha1) VALUES (?, ?, ?)", rows)
c.commit()
print(f"kamailio subscribers: {c.execute('select count(*) from subscriber').fetchone()[0]}")
PY

common=(TESTS=register "REG_RATES=$rates" "QUIET_WAIT_S=${QUIET_WAIT_S:-60}" "USERS=$users")

# ---- Kamailio with auth_db
echo "== kamailio (auth_db, sqlite)" >&2
env "${common[@]}" TARGET="$KAM_TARGET" WORK="$out/kamailio" bash "$h/run.sh" >"$out/kamailio.txt"

# ---- Switchboard with digest auth and the same accounts
echo "== switchboard (digest auth on)" >&2
cat >"$out/sb.toml" <<'TOML'
# SIPp sends thousands a second from loopback: no flood ban
[security]
trusted = ["127.0.0.0/8"]
# SIPp 3.6 reads only the first challenge, and Kamailio offers MD5
[auth]
algorithms = ["MD5"]
TOML
"$bin" serve --config "$out/sb.toml" --sip "$SB_TARGET" --http "${SB_TARGET%:*}:8380" --auth on \
	--data "$out/sb-data" >"$out/switchboard.log" 2>&1 </dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
sleep 2
# accounts through the HTTP API (the operator's POST /v1/accounts; loopback is the operator),
# one keep-alive connection
python3 - "$users" "${SB_TARGET%:*}" <<'PY' || exit 1
import http.client, json, sys
n = int(sys.argv[1])
c = http.client.HTTPConnection(sys.argv[2], 8380, timeout=30)
made = 0
for i in range(1, n + 1):
    u = "u%06d" % i
    c.request("POST", "/v1/accounts", json.dumps({"number": u, "password": "pw-" + u}),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    if r.status not in (201, 409):
        sys.exit(f"POST /v1/accounts {u}: {r.status}")
    made += 1
print(f"switchboard accounts: {made}")
PY
env "${common[@]}" START_SERVER=0 TARGET="$SB_TARGET" SERVER_PIDS=$pid WORK="$out/switchboard" \
	bash "$h/run.sh" >"$out/switchboard.txt"
kill -TERM $pid
wait $pid 2>/dev/null
trap - EXIT

for s in kamailio switchboard; do
	echo "# $s"
	grep -E '_per_s=' "$out/$s.txt"
	awk -F'\t' 'NR > 1 { printf "  offered=%s achieved=%s ok=%s/%s fail_pct=%s retrans=%s p99_ms=%s server_cpu_pct=%s server_us_per_op=%s %s\n", $2, $3, $5, $4, $8, $9, $13, $15, $19, $21 }' \
		"$out/$s/results.tsv" 2>/dev/null
done
