/*
 * The floor of a UDP registrar: answers every request with a 200 OK built from its Via, From,
 * To, Call-ID and CSeq, one recvfrom and one sendto per request and nothing else (no parser,
 * no state, no store). What it costs per REGISTER is what any server on the socket API pays
 * in the kernel plus a few hundred instructions: the floor the side-by-side ratios stand on,
 * as relay.c is for the RTP relay.
 *
 *   gcc -O2 -o /tmp/sip_floor benches/scripts/sip_floor.c
 *   /tmp/sip_floor 127.0.0.1 5080 [THREADS]     (default 1 thread; each its own recvfrom loop)
 *
 * Driven by the shared harness like any external server:
 *   START_SERVER=0 TARGET=127.0.0.1:5080 SERVER_PIDS=$pid TESTS=register bash run.sh
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int sock;

/* Copies the header line starting with `name` (case as sent by SIPp) into out, returns the
 * new end; `tag` appends ";tag=f1" (the To of a final answer). */
static char *copy_line(const char *req, size_t n, const char *name, char *out, int tag)
{
	size_t len = strlen(name);
	const char *p = req;
	const char *end = req + n;
	while (p < end) {
		const char *eol = memchr(p, '\n', end - p);
		if (!eol)
			break;
		if ((size_t)(eol - p) > len && strncasecmp(p, name, len) == 0) {
			size_t l = eol - p;
			if (l && p[l - 1] == '\r')
				l--;
			memcpy(out, p, l);
			out += l;
			if (tag) {
				memcpy(out, ";tag=f1", 7);
				out += 7;
			}
			*out++ = '\r';
			*out++ = '\n';
			return out;
		}
		p = eol + 1;
	}
	return out;
}

static void *serve(void *arg)
{
	(void)arg;
	char req[65536];
	char res[8192];
	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(sock, req, sizeof req, 0, (struct sockaddr *)&from, &fl);
		if (n <= 0 || memcmp(req, "SIP/2.0", 7) == 0 || memcmp(req, "ACK ", 4) == 0)
			continue;
		char *o = res;
		memcpy(o, "SIP/2.0 200 OK\r\n", 16);
		o += 16;
		o = copy_line(req, n, "Via:", o, 0);
		o = copy_line(req, n, "From:", o, 0);
		o = copy_line(req, n, "To:", o, 1);
		o = copy_line(req, n, "Call-ID:", o, 0);
		o = copy_line(req, n, "CSeq:", o, 0);
		o = copy_line(req, n, "Contact:", o, 0);
		memcpy(o, "Content-Length: 0\r\n\r\n", 21);
		o += 21;
		sendto(sock, res, o - res, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: sip_floor ADDR PORT [THREADS]\n");
		return 2;
	}
	int threads = argc > 3 ? atoi(argv[3]) : 1;
	sock = socket(AF_INET, SOCK_DGRAM, 0);
	int buf = 4 << 20;
	setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
	inet_pton(AF_INET, argv[1], &a.sin_addr);
	if (bind(sock, (struct sockaddr *)&a, sizeof a) != 0) {
		perror("bind");
		return 1;
	}
	for (int i = 1; i < threads; i++) {
		pthread_t t;
		pthread_create(&t, NULL, serve, NULL);
	}
	serve(NULL);
	return 0;
}
