// rtpbatch: a batching G.711 RTP load generator for relay capacity runs.
//
// Drives a relay with the port layout of `switchboard media relay` (call i's caller leg on
// RELAY_BASE+4i, its callee leg on RELAY_BASE+4i+2, each latching onto the source of its first
// packet) and measures what comes back: loss, lateness, the delay the relay adds and its
// variation, and the CPU of the relay's processes and of the generator per delivered packet.
//
// Why not one socket per leg (as the shared harness's rtpgen does): at 200,000 packets/s a
// generator with one sendto and one recvmsg per packet needs about 1.4 cores of the two by
// itself, so it cannot drive 2,000 calls beside a relay on a two-core machine. Here the legs
// share S sockets (leg k sends and receives on socket k % S), sends leave in sendmmsg batches
// and receives arrive in recvmmsg batches, so the generator's cost per packet is the kernel's
// delivery work, not system-call entries. Every relay port still sees its own leg's packets
// from one source address and latches to it; several relay ports latch to the same source.
//
// Each leg sends a 172-byte packet (12-byte RTP header, 160 bytes of PCMU) every 20 ms; the
// legs' phases are spread evenly over the 20 ms. The payload carries the leg number, a
// sequence number and the send time (CLOCK_REALTIME, taken just before the sendmmsg that
// carries it); the arrival time is the kernel's receive timestamp (SO_TIMESTAMPNS), so the
// generator's own polling adds nothing to the delay. `--mode direct` sends each leg's packets
// straight to the socket of its peer leg: the generator's own cost and delay floor.
//
// Output: one `RESULT key=value ...` line on stdout (see the end of main for the keys).
//
//   gcc -O2 -Wall -o rtpbatch rtpbatch.c
//   ./rtpbatch --calls 2000 --relay-base 20000 --pids PID --warmup 5 --duration 20

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PKT 172
#define FRAME_NS 20000000LL
#define MAXS 256
#define BATCH 64
#define RX_ROUNDS 8
#define SKIP_NS 40000000LL // a send this late is skipped
#define HBUCKET_US 5
#define HBUCKETS 40000 // 5 us buckets up to 200 ms

static int calls = 1000, nsock = 16, relay_base = 20000, gen_base = 10000, direct = 0;
static int warmup = 5, duration = 20, drain_ms = 500, tick_us = 1000, late_ms = 50, batch = 32;
static int cpu = -1;
static const char *addr = "127.0.0.1", *pids = "", *label = "";

static void die(const char *m) {
	perror(m);
	exit(2);
}

static int64_t now_ns(clockid_t c) {
	struct timespec t;
	clock_gettime(c, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

// utime + stime, in clock ticks, of every pid in the comma-separated list (0 = ourselves)
static long long cpu_ticks(const char *list) {
	long long sum = 0;
	char buf[4096], path[64];
	const char *p = list;
	while (*p) {
		int pid = atoi(p);
		snprintf(path, sizeof path, pid ? "/proc/%d/stat" : "/proc/self/stat", pid);
		FILE *f = fopen(path, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof buf - 1, f);
			buf[n] = 0;
			fclose(f);
			char *q = strrchr(buf, ')');
			unsigned long long ut = 0, st = 0;
			// after ")": state(3) ... utime is field 14, stime 15
			if (q && sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
				sum += (long long)(ut + st);
		}
		while (*p && *p != ',') p++;
		if (*p == ',') p++;
	}
	return sum;
}

// receive-queue drops of the UDP sockets whose local port is in [lo, hi] (/proc/net/udp)
static long long udp_drops(int lo, int hi) {
	FILE *f = fopen("/proc/net/udp", "r");
	if (!f) return -1;
	char line[512];
	long long d = 0;
	fgets(line, sizeof line, f);
	while (fgets(line, sizeof line, f)) {
		unsigned a, port;
		unsigned long long drops = 0;
		char *last = strrchr(line, ' ');
		if (sscanf(line, " %*d: %x:%x", &a, &port) != 2 || !last) continue;
		drops = strtoull(last + 1, NULL, 10);
		if ((int)port >= lo && (int)port <= hi) d += (long long)drops;
	}
	fclose(f);
	return d;
}

struct hist {
	long long n, over, b[HBUCKETS];
	int64_t max;
};
static struct hist lat, jit, turn, wake;

static void hist_add(struct hist *h, int64_t ns) {
	if (ns < 0) ns = 0;
	int64_t us = ns / 1000;
	h->n++;
	if (ns > h->max) h->max = ns;
	if (us / HBUCKET_US >= HBUCKETS) h->over++;
	else h->b[us / HBUCKET_US]++;
}

static double hist_q(const struct hist *h, double q) {
	long long want = (long long)(q * (double)h->n), seen = 0;
	for (int i = 0; i < HBUCKETS; i++) {
		seen += h->b[i];
		if (seen > want) return (double)(i * HBUCKET_US) + HBUCKET_US / 2.0;
	}
	return (double)h->max / 1000.0;
}

// send a socket's batch, stamped with the time just before the call; a packet whose stamp
// falls in the window counts against its leg
static void flush(int fd, struct mmsghdr *m, unsigned char (*buf)[PKT], const int *leg, int n,
		  long long *tx_win, int64_t lo, int64_t hi, long long *send_err) {
	int64_t t = now_ns(CLOCK_REALTIME);
	for (int i = 0; i < n; i++) memcpy(buf[i] + 20, &t, 8);
	int r = sendmmsg(fd, m, (unsigned)n, 0);
	if (r < 0) r = 0;
	if (r < n) *send_err += n - r;
	if (t >= lo && t < hi)
		for (int i = 0; i < r; i++) tx_win[leg[i]]++;
}

int main(int argc, char **argv) {
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
#define ARG (i + 1 < argc ? argv[++i] : (fprintf(stderr, "%s needs a value\n", a), exit(2), ""))
		if (!strcmp(a, "--calls")) calls = atoi(ARG);
		else if (!strcmp(a, "--sockets")) nsock = atoi(ARG);
		else if (!strcmp(a, "--relay-base")) relay_base = atoi(ARG);
		else if (!strcmp(a, "--gen-base")) gen_base = atoi(ARG);
		else if (!strcmp(a, "--mode")) direct = !strcmp(ARG, "direct");
		else if (!strcmp(a, "--warmup")) warmup = atoi(ARG);
		else if (!strcmp(a, "--duration")) duration = atoi(ARG);
		else if (!strcmp(a, "--drain-ms")) drain_ms = atoi(ARG);
		else if (!strcmp(a, "--tick-us")) tick_us = atoi(ARG);
		else if (!strcmp(a, "--late-ms")) late_ms = atoi(ARG);
		else if (!strcmp(a, "--batch")) batch = atoi(ARG);
		else if (!strcmp(a, "--cpu")) cpu = atoi(ARG);
		else if (!strcmp(a, "--address")) addr = ARG;
		else if (!strcmp(a, "--pids")) pids = ARG;
		else if (!strcmp(a, "--label")) label = ARG;
		else {
			fprintf(stderr,
				"usage: rtpbatch [--calls N] [--mode relay|direct] [--relay-base P] [--gen-base P]\n"
				"                [--sockets S] [--batch B] [--tick-us T] [--warmup S] [--duration S]\n"
				"                [--drain-ms MS] [--late-ms MS] [--cpu C] [--pids P,P] [--label L]\n");
			return 2;
		}
	}
	if (nsock < 1 || nsock > MAXS || batch < 1 || batch > BATCH || calls < 1) {
		fprintf(stderr, "rtpbatch: bad --sockets/--batch/--calls\n");
		return 2;
	}
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set)) die("sched_setaffinity");
	}
	int legs = 2 * calls;
	int fds[MAXS];
	struct sockaddr_in local[MAXS];
	for (int s = 0; s < nsock; s++) {
		fds[s] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (fds[s] < 0) die("socket");
		int big = 16 << 20, on = 1;
		if (setsockopt(fds[s], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big))
			setsockopt(fds[s], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
		if (setsockopt(fds[s], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big))
			setsockopt(fds[s], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
		if (setsockopt(fds[s], SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on)) die("SO_TIMESTAMPNS");
		memset(&local[s], 0, sizeof local[s]);
		local[s].sin_family = AF_INET;
		local[s].sin_port = htons((uint16_t)(gen_base + s));
		if (inet_pton(AF_INET, addr, &local[s].sin_addr) != 1) die("address");
		if (bind(fds[s], (struct sockaddr *)&local[s], sizeof local[s])) die("bind");
	}
	// where each leg sends: its relay port, or (direct) its peer leg's socket
	struct sockaddr_in *dst = calloc((size_t)legs, sizeof *dst);
	uint32_t *seq = calloc((size_t)legs, sizeof *seq);
	long long *tx_win = calloc((size_t)legs, sizeof *tx_win), *rx_win = calloc((size_t)legs, sizeof *rx_win);
	int64_t *last_transit = calloc((size_t)legs, sizeof *last_transit);
	double *rfc_j = calloc((size_t)legs, sizeof *rfc_j);
	if (!dst || !seq || !tx_win || !rx_win || !last_transit || !rfc_j) die("calloc");
	for (int k = 0; k < legs; k++) {
		if (direct) dst[k] = local[(k ^ 1) % nsock];
		else {
			dst[k] = local[0];
			dst[k].sin_port = htons((uint16_t)(relay_base + 4 * (k / 2) + 2 * (k & 1)));
		}
	}
	// the send schedule: leg k sends at start + phase(k) + j * 20 ms; order legs by phase
	int64_t start = now_ns(CLOCK_MONOTONIC) + 100000000LL;
	int64_t win_lo_rt, win_hi_rt; // the window, in CLOCK_REALTIME send times
	int64_t rt_off = now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC);
	win_lo_rt = start + rt_off + (int64_t)warmup * 1000000000LL;
	win_hi_rt = win_lo_rt + (int64_t)duration * 1000000000LL;
	int64_t send_end = start + (int64_t)(warmup + duration) * 1000000000LL;
	int64_t stop = send_end + (int64_t)drain_ms * 1000000LL;

	static unsigned char txbuf[MAXS][BATCH][PKT];
	static struct mmsghdr txm[MAXS][BATCH];
	static struct iovec txv[MAXS][BATCH];
	int txn[MAXS];
	static int txleg[MAXS][BATCH];
	static unsigned char rxbuf[BATCH][PKT + 64];
	static char rxctl[BATCH][64];
	static struct mmsghdr rxm[BATCH];
	static struct iovec rxv[BATCH];
	for (int i = 0; i < BATCH; i++) {
		rxv[i].iov_base = rxbuf[i];
		rxv[i].iov_len = sizeof rxbuf[i];
	}

	long long cpu0_r = 0, cpu0_g = 0, cpu1_r = 0, cpu1_g = 0;
	long long drops_gen0 = udp_drops(gen_base, gen_base + nsock - 1);
	long long drops_relay0 = direct ? 0 : udp_drops(relay_base, relay_base + 4 * calls - 1);
	int measuring = 0, measured = 0;
	int64_t win_cpu_lo = 0, win_cpu_hi = 0;
	long long late_ticks = 0, ticks = 0, bad = 0, send_err = 0, rx_total = 0, late = 0, dup_or_old = 0;
	long long skipped = 0;
	int64_t work_max = 0, late_max = 0; // the longest turn, and the latest wake-up
	int next_leg = 0;     // the next leg (in phase order) to send
	int64_t round_start = start;
	int64_t tick = start;
	long long clk = sysconf(_SC_CLK_TCK);
	memset(txbuf, 0xff, sizeof txbuf); // PCMU silence

	for (;;) {
		struct timespec ts = {.tv_sec = tick / 1000000000LL, .tv_nsec = tick % 1000000000LL};
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
		int64_t now = now_ns(CLOCK_MONOTONIC);
		ticks++;
		if (measuring && !measured && now - tick > 2000000LL + (int64_t)tick_us * 1000) late_ticks++;
		if (!measuring && now + rt_off >= win_lo_rt) {
			measuring = 1;
			win_cpu_lo = now;
			cpu0_r = cpu_ticks(pids);
			cpu0_g = cpu_ticks("0");
		}
		if (measuring && !measured && now + rt_off >= win_hi_rt) {
			measured = 1;
			win_cpu_hi = now;
			cpu1_r = cpu_ticks(pids);
			cpu1_g = cpu_ticks("0");
		}
		// sends due by now: legs in phase order, leg k due at round_start + k * 20 ms / legs
		if (now < send_end) {
			for (int s = 0; s < nsock; s++) txn[s] = 0;
			for (;;) {
				int64_t due = round_start + FRAME_NS * next_leg / legs;
				if (due > now) break;
				int k = next_leg, s = k % nsock;
				if (now - due > SKIP_NS) {
					// the generator fell this far behind (its core taken by others): the
					// packet is not sent rather than sent in a burst; the run is
					// generator-bound and says so (gen_skipped)
					if (now + rt_off >= win_lo_rt && now + rt_off < win_hi_rt) skipped++;
					seq[k]++;
					if (++next_leg == legs) {
						next_leg = 0;
						round_start += FRAME_NS;
					}
					continue;
				}
				if (txn[s] == batch) {
					flush(fds[s], txm[s], txbuf[s], txleg[s], txn[s], tx_win, win_lo_rt, win_hi_rt, &send_err);
					txn[s] = 0;
				}
				unsigned char *p = txbuf[s][txn[s]];
				uint32_t q = seq[k]++;
				p[0] = 0x80;
				p[1] = 0; // PCMU
				p[2] = (unsigned char)(q >> 8);
				p[3] = (unsigned char)q;
				uint32_t tsr = q * 160, ssrc = 0x5b000000u + (uint32_t)k;
				p[4] = tsr >> 24, p[5] = tsr >> 16, p[6] = tsr >> 8, p[7] = tsr;
				p[8] = ssrc >> 24, p[9] = ssrc >> 16, p[10] = ssrc >> 8, p[11] = ssrc;
				uint32_t leg = (uint32_t)k;
				memcpy(p + 12, &leg, 4);
				memcpy(p + 16, &q, 4);
				txleg[s][txn[s]] = k;
				txv[s][txn[s]].iov_base = p;
				txv[s][txn[s]].iov_len = PKT;
				memset(&txm[s][txn[s]].msg_hdr, 0, sizeof txm[s][txn[s]].msg_hdr);
				txm[s][txn[s]].msg_hdr.msg_iov = &txv[s][txn[s]];
				txm[s][txn[s]].msg_hdr.msg_iovlen = 1;
				txm[s][txn[s]].msg_hdr.msg_name = &dst[k];
				txm[s][txn[s]].msg_hdr.msg_namelen = sizeof dst[k];
				txn[s]++;
				if (++next_leg == legs) {
					next_leg = 0;
					round_start += FRAME_NS;
				}
			}
			for (int s = 0; s < nsock; s++) {
				if (!txn[s]) continue;
				flush(fds[s], txm[s], txbuf[s], txleg[s], txn[s], tx_win, win_lo_rt, win_hi_rt, &send_err);
			}
		}
		// receive everything waiting on every socket
		// at most RX_ROUNDS batches a socket a turn, so that a generator that fell behind
		// still sends on time rather than draining for as long as packets keep coming
		for (int s = 0; s < nsock; s++) {
			for (int round = 0; round < RX_ROUNDS; round++) {
				for (int i = 0; i < BATCH; i++) {
					memset(&rxm[i].msg_hdr, 0, sizeof rxm[i].msg_hdr);
					rxm[i].msg_hdr.msg_iov = &rxv[i];
					rxm[i].msg_hdr.msg_iovlen = 1;
					rxm[i].msg_hdr.msg_control = rxctl[i];
					rxm[i].msg_hdr.msg_controllen = sizeof rxctl[i];
				}
				int r = recvmmsg(fds[s], rxm, BATCH, MSG_DONTWAIT, NULL);
				if (r <= 0) break;
				for (int i = 0; i < r; i++) {
					unsigned char *p = rxbuf[i];
					if (rxm[i].msg_len != PKT || (p[0] & 0xc0) != 0x80) {
						bad++;
						continue;
					}
					uint32_t leg, q;
					int64_t sent;
					memcpy(&leg, p + 12, 4);
					memcpy(&q, p + 16, 4);
					memcpy(&sent, p + 20, 8);
					if (leg >= (uint32_t)legs) {
						bad++;
						continue;
					}
					int64_t arr = 0;
					for (struct cmsghdr *c = CMSG_FIRSTHDR(&rxm[i].msg_hdr); c; c = CMSG_NXTHDR(&rxm[i].msg_hdr, c))
						if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
							struct timespec k;
							memcpy(&k, CMSG_DATA(c), sizeof k);
							arr = (int64_t)k.tv_sec * 1000000000LL + k.tv_nsec;
						}
					if (!arr) arr = now_ns(CLOCK_REALTIME);
					rx_total++;
					// the packet of leg `leg` arrives at its peer: count it against the sender
					if (sent < win_lo_rt || sent >= win_hi_rt) continue;
					rx_win[leg]++;
					int64_t transit = arr - sent;
					hist_add(&lat, transit);
					if (transit > (int64_t)late_ms * 1000000LL) late++;
					if (last_transit[leg]) {
						int64_t d = transit - last_transit[leg];
						if (d < 0) d = -d;
						hist_add(&jit, d);
						rfc_j[leg] += ((double)d - rfc_j[leg]) / 16.0;
					}
					last_transit[leg] = transit;
					(void)q;
				}
			}
		}
		int64_t end = now_ns(CLOCK_MONOTONIC);
		if (measuring && !measured) {
			if (end - now > work_max) work_max = end - now;
			if (now - tick > late_max) late_max = now - tick;
			hist_add(&turn, end - now);
			hist_add(&wake, now - tick);
		}
		if (now >= stop) break;
		tick += (int64_t)tick_us * 1000;
		if (tick < now - 1000000000LL) tick = now; // a stall of over a second: do not burst
	}
	long long drops_gen = udp_drops(gen_base, gen_base + nsock - 1) - drops_gen0;
	long long drops_relay = direct ? 0 : udp_drops(relay_base, relay_base + 4 * calls - 1) - drops_relay0;
	long long txw = 0, rxw = 0;
	int lossy = 0, dead = 0;
	double jsum = 0, jmax = 0;
	for (int k = 0; k < legs; k++) {
		txw += tx_win[k];
		rxw += rx_win[k] < tx_win[k] ? rx_win[k] : tx_win[k];
		if (rx_win[k] < tx_win[k]) lossy++;
		if (!rx_win[k]) dead++;
		jsum += rfc_j[k];
		if (rfc_j[k] > jmax) jmax = rfc_j[k];
	}
	double win_s = (double)(win_cpu_hi - win_cpu_lo) / 1e9;
	if (win_s <= 0) win_s = duration;
	double rcores = (double)(cpu1_r - cpu0_r) / (double)clk / win_s;
	double gcores = (double)(cpu1_g - cpu0_g) / (double)clk / win_s;
	double pps = (double)rxw / (double)duration;
	double loss = txw ? 100.0 * (double)(txw - rxw) / (double)txw : 0;
	double latep = lat.n ? 100.0 * (double)late / (double)lat.n : 0;
	printf("RESULT label=%s mode=%s calls=%d sockets=%d batch=%d sent=%lld received=%lld fwd_pps=%.0f "
	       "loss_pct=%.4f late_pct=%.4f late_ms=%d lossy_streams=%d dead_streams=%d bad=%lld send_err=%lld "
	       "lat_p50_us=%.0f lat_p99_us=%.0f lat_p999_us=%.0f lat_max_us=%.0f "
	       "jit_p50_us=%.0f jit_p99_us=%.0f jit_p999_us=%.0f jit_max_us=%.0f rfc_jitter_mean_us=%.1f "
	       "rfc_jitter_max_us=%.1f relay_cpu_cores=%.3f relay_us_per_pkt=%.3f gen_cpu_cores=%.3f "
	       "gen_us_per_pkt=%.3f gen_late_ticks=%lld gen_skipped=%lld ticks=%lld gen_turn_p99_us=%.0f gen_turn_max_us=%.0f gen_wake_late_p99_us=%.0f gen_wake_late_max_us=%.0f gen_sock_drops=%lld relay_sock_drops=%lld\n",
	       label, direct ? "direct" : "relay", calls, nsock, batch, txw, rxw, pps, loss, latep, late_ms, lossy,
	       dead, bad, send_err, hist_q(&lat, 0.5), hist_q(&lat, 0.99), hist_q(&lat, 0.999),
	       (double)lat.max / 1000.0, hist_q(&jit, 0.5), hist_q(&jit, 0.99), hist_q(&jit, 0.999),
	       (double)jit.max / 1000.0, jsum / legs / 1000.0, jmax / 1000.0, rcores,
	       pps > 0 ? rcores * 1e6 / pps : 0, gcores, pps > 0 ? gcores * 1e6 / pps : 0, late_ticks, skipped, ticks,
	       hist_q(&turn, 0.99), (double)work_max / 1000.0, hist_q(&wake, 0.99), (double)late_max / 1000.0,
	       drops_gen, drops_relay);
	(void)rx_total;
	(void)dup_or_old;
	return 0;
}
