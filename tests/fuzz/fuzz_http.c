// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer harness for what the exporter does with a request
 * (tf_export_serve: libmicrohttpd's parser, then tapflow's routing and
 * replies). A real exporter listens on 127.0.0.1 (port picked by the
 * kernel) over a stub source with one traced tap; each input goes to it
 * over a fresh connection, either as the path of "GET <path> HTTP/1.1" (first
 * byte even) or as raw bytes (odd), and whatever comes back must be an HTTP
 * response. Only loopback is ever contacted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tapflow.h"
#include "tf_export.h"
#include "fuzz.h"

static struct sockaddr_in srv;

static int stub_read(const char *name, struct tf_tap_stats **taps, size_t *n)
{
	struct tf_tap_stats *t = calloc(1, sizeof(*t));

	(void)name;
	if (!t)
		return -ENOMEM;
	snprintf(t->name, sizeof(t->name), "vm0");
	t->local = true;
	t->ifindex = 7;
	*taps = t;
	*n = 1;
	return 0;
}

static void stub_release(struct tf_tap_stats *taps, size_t n)
{
	(void)n;
	free(taps);
}

static const struct tf_export_source stub = { .read = stub_read, .release = stub_release };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct tf_exporter *e;
	const char *bound, *colon;

	(void)argc;
	(void)argv;
	if (tf_export_new(&stub, &e) || tf_export_serve(e, "127.0.0.1:0")) {
		fprintf(stderr, "fuzz_http: cannot start an exporter: %s\n", tf_errmsg());
		exit(1);
	}
	bound = tf_export_bound(e);
	colon = strrchr(bound, ':');
	srv.sin_family = AF_INET;
	srv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.sin_port = htons(atoi(colon + 1));
	return 0;	/* the exporter lives as long as the process */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char reply[256];
	size_t got = 0;
	int fd;

	if (!size || size > 8192)
		return 0;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FUZZ_CHECK(fd >= 0, "socket: %s", strerror(errno));
	FUZZ_CHECK(!connect(fd, (struct sockaddr *)&srv, sizeof(srv)), "connect: %s",
		   strerror(errno));
	if (data[0] % 2 == 0) {
		char *path = fuzz_str(data, size, 1);

		dprintf(fd, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
		free(path);
	} else {
		/* a whole request head: the server must answer it, not wait for more */
		if (write(fd, data + 1, size - 1) < 0 || write(fd, "\r\n\r\n", 4) < 0) {
			/* the server may have closed already: that is an answer too */
		}
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int ready = poll(&p, 1, data[0] % 2 ? 1000 : 5000);
		ssize_t r;

		/*
		 * A GET must be answered. A raw request may still be reading a
		 * body it announced (Content-Length, chunked): the exporter's own
		 * timeouts deal with those (test_export), not a finding here.
		 */
		FUZZ_CHECK(ready == 1 || data[0] % 2, "no answer to a GET in 5 s");
		if (ready != 1)
			break;
		r = read(fd, reply + got, sizeof(reply) - 1 - got);
		if (r <= 0)
			break;
		got += r;
		if (got == sizeof(reply) - 1)
			break;
	}
	reply[got] = '\0';
	if (got)
		FUZZ_CHECK(!strncmp(reply, "HTTP/1.", 7), "reply '%.40s'", reply);
	close(fd);
	return 0;
}
