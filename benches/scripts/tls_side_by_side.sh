#!/usr/bin/env bash
# SIP over TLS side by side: Switchboard and Kamailio 5.6 with its tls module (OpenSSL), on this
# machine, in one sitting. Debian's SIPp is built without TLS, so the load comes from
# tls_load.py (Python asyncio + ssl, one process, certificate not verified).
#
#   benches/scripts/tls_side_by_side.sh [ROUNDS]
#
# Per round and server: HS handshakes (new connection, one OPTIONS, close; CONNS at a time),
# REG REGISTERs (no auth, distinct users) over CONNS connections, CALLS calls (INVITE, 180,
# 200, ACK, BYE through the server; CONNS caller/callee pairs on reused connections). Both
# servers: no authentication, 2 workers, the same ECDSA P-256 certificate (Switchboard's lab
# certificate), TLS 1.2+ (both negotiate TLS 1.3 with this client). Prints one line per
# figure and the medians over rounds: rate (per second, what the one-process client reached)
# and server CPU per operation (utime + stime of every server process, in microseconds).
# Needs: kamailio, kamailio-tls-modules, python3; BIN (default target/release/switchboard).
set -euo pipefail
rounds=${1:-3}
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BIN:-$here/target/release/switchboard}
kcfg=${KAMAILIO_CFG:-$here/../shared/bench/kamailio/kamailio.cfg}
[ -r "$kcfg" ] || kcfg=$here/../../shared/bench/kamailio/kamailio.cfg
load="python3 $here/benches/scripts/tls_load.py"
: "${HS:=2000}" "${REG:=20000}" "${CALLS:=3000}" "${CONNS:=20}"
work=$(mktemp -d /tmp/sb-tls-side.XXXXXX)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	sleep 0.5
}
trap 'cleanup; echo "work files: $work"' EXIT
hz=$(getconf CLK_TCK)
ticks() { # sum of utime + stime over the given pids
	local t=0 p
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo "$t"
}
wait_port() { # host port: until something accepts there (20 s at most)
	for _ in $(seq 1 100); do
		python3 -c "import socket; socket.create_connection(('$1', $2), 0.2).close()" 2>/dev/null &&
			return 0
		sleep 0.2
	done
	return 1
}
measure() { # server round mode count conns pids...
	local server=$1 round=$2 mode=$3 count=$4 conns=$5 target=$6
	shift 6
	local a b out ok
	a=$(ticks "$@")
	out=$($load "$mode" "$target" "$count" "$conns")
	b=$(ticks "$@")
	ok=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<<"$out")
	rate=$(sed -n 's/.*per_second=\([0-9]*\).*/\1/p' <<<"$out")
	us=$(awk -v t=$((b - a)) -v hz="$hz" -v n="$ok" 'BEGIN { printf "%.1f", n ? t * 1e6 / hz / n : 0 }')
	printf "%s\t%s\t%s\t%s\t%s\t%s\n" "$server" "$round" "$mode" "$ok/$count" "$rate" "$us" |
		tee -a "$work/results.tsv"
}

echo "# $(uptime)"
echo "# $(nproc) cores; $("$bin" --version 2>/dev/null || echo switchboard); $(kamailio -v | head -1)"
printf "server\tround\tmode\tok\tper_second\tserver_us_per_op\n"
for round in $(seq 1 "$rounds"); do
	# ------------------------------------------------------------ Switchboard
	rm -rf "$work/sb"
	"$bin" serve --sip 127.0.0.1:5196 --http 127.0.0.1:8196 --auth off --workers 2 \
		--data "$work/sb" >"$work/switchboard-$round.log" 2>&1 &
	sb=$!
	pids="$sb"
	wait_port 127.0.0.1 5197
	sleep 0.5
	for mode in handshake register call; do
		case $mode in handshake) n=$HS ;; register) n=$REG ;; call) n=$CALLS ;; esac
		measure switchboard "$round" "$mode" "$n" "$CONNS" 127.0.0.1:5197 "$sb"
	done
	cp "$work/sb/tls/lab-cert.pem" "$work/cert.pem"
	cp "$work/sb/tls/lab-key.pem" "$work/key.pem"
	kill "$sb"
	wait "$sb" 2>/dev/null || true

	# ------------------------------------------------------------ Kamailio + tls
	cat >"$work/tls.cfg" <<EOF
[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
private_key = $work/key.pem
certificate = $work/cert.pem

[client:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
EOF
	sed -e 's/^disable_tls=yes/disable_tls=no/' \
		-e 's/^listen=tcp:LISTEN_IP:LISTEN_PORT/&\nlisten=tls:LISTEN_IP:5199/' \
		-e "s|^loadmodule \"kex.so\"|loadmodule \"tls.so\"\nmodparam(\"tls\", \"config\", \"$work/tls.cfg\")\n&|" \
		"$kcfg" >"$work/kamailio-tls.cfg"
	rm -rf "$work/kam" && mkdir -p "$work/kam"
	kamailio -f "$work/kamailio-tls.cfg" -DD -E -Y "$work/kam" -m 1024 -M 16 \
		--substdef '!LISTEN_IP!127.0.0.1!' --substdef '!LISTEN_PORT!5198!' \
		--substdef "!CTL_SOCK!$work/kam/ctl!" >"$work/kamailio-$round.log" 2>&1 </dev/null &
	kam=$!
	wait_port 127.0.0.1 5199 || true
	sleep 0.5
	if ! kill -0 "$kam" 2>/dev/null; then
		echo "kamailio did not start; see $work/kamailio-$round.log" >&2
		exit 1
	fi
	kpids="$kam $(pgrep -P "$kam" | tr '\n' ' ')"
	pids="$kpids"
	for mode in handshake register call; do
		case $mode in handshake) n=$HS ;; register) n=$REG ;; call) n=$CALLS ;; esac
		# shellcheck disable=SC2086
		measure kamailio "$round" "$mode" "$n" "$CONNS" 127.0.0.1:5199 $kpids
	done
	kill "$kam"
	wait "$kam" 2>/dev/null || true
	pids=""
done

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo "# medians over $rounds rounds; ratio = switchboard / kamailio (CPU: below 1 is cheaper)"
printf "mode\tsb_per_second\tkam_per_second\tsb_us_per_op\tkam_us_per_op\tcpu_ratio\n"
for mode in handshake register call; do
	col() { awk -F'\t' -v s="$1" -v m="$mode" -v c="$2" '$1 == s && $3 == m { print $c }' "$work/results.tsv" | median; }
	sr=$(col switchboard 5) kr=$(col kamailio 5) su=$(col switchboard 6) ku=$(col kamailio 6)
	printf "%s\t%s\t%s\t%s\t%s\t%s\n" "$mode" "$sr" "$kr" "$su" "$ku" \
		"$(awk -v a="$su" -v b="$ku" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
done | tee "$work/medians.tsv"
