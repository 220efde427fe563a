// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tapflow export over HTTP: GET /metrics served by libmicrohttpd from the
 * exporter's shared snapshots (export.c), the listen-address parser, and
 * the listening socket (bound by us, so errors name the address).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <microhttpd.h>

#include "tapflow.h"
#include "export_priv.h"
#include "export_text.h"
#include "log.h"


static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned int status,
				  const char *text, const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(text), (void *)text,
					    MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct tf_exporter *e = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	uint64_t t_req;
	struct snap *s;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)req_cls;
	/*
	 * Answer on the first call (headers complete): no request here has a
	 * body worth reading, and MHD closes a connection whose body is left
	 * unread instead of parsing it.
	 */
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
				  "only GET and HEAD are served\n", "GET, HEAD");
	if (!strcmp(url, "/"))
		return reply_text(c, MHD_HTTP_OK,
				  "tapflow exporter: Prometheus metrics are at /metrics\n", NULL);
	if (strcmp(url, "/metrics"))
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n", NULL);

	t_req = clock_ns(CLOCK_MONOTONIC);
	pthread_mutex_lock(&e->lock);
	s = tfx_snap_get(e, t_req);
	pthread_mutex_unlock(&e->lock);

	r = MHD_create_response_from_buffer_with_free_callback_cls(s->b.len, s->b.data,
								   tfx_snap_put, s);
	if (!r) {
		tfx_snap_put(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				s->status == MHD_HTTP_OK ? TF_EXPORT_CONTENT_TYPE
							 : "text/plain; charset=utf-8");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(c, s->status, r);
	MHD_destroy_response(r);	/* the connection keeps its own reference */
	return ret;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Client misbehaviour lands here too: not worth a warning. */
	tf_log(TF_LOG_DEBUG, "export: http: %s", msg);
}

/* ---- listening -------------------------------------------------------- */

int tf_export_parse_listen(const char *s, struct sockaddr_storage *ss,
			   socklen_t *len)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *port;
	unsigned long p;
	size_t hl;
	int err;

	memset(ss, 0, sizeof(*ss));
	if (!s || !*s)
		return tf_err(-EINVAL, "--listen: empty address (want ADDR:PORT, [V6ADDR]:PORT or :PORT)");
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return tf_err(-EINVAL, "--listen '%s': want [V6ADDR]:PORT", s);
		hl = close - s - 1;
		port = close + 2;
		if (hl >= sizeof(host))
			return tf_err(-EINVAL, "--listen '%s': address too long", s);
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return tf_err(-EINVAL, "--listen '%s': '%s' is not an IPv6 address", s, host);
		s6->sin6_family = AF_INET6;
		*len = sizeof(*s6);
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return tf_err(-EINVAL, "--listen '%s': no port (want ADDR:PORT, [V6ADDR]:PORT or :PORT)", s);
		hl = colon - s;
		port = colon + 1;
		if (memchr(s, ':', hl))
			return tf_err(-EINVAL, "--listen '%s': put an IPv6 address in brackets, e.g. [::1]:%d",
				      s, TF_EXPORT_DEFAULT_PORT);
		if (hl == 0) {
			/* ":PORT" is every address: v6 any, which takes v4 too. */
			s6->sin6_family = AF_INET6;
			s6->sin6_addr = in6addr_any;
			*len = sizeof(*s6);
		} else {
			if (hl >= sizeof(host))
				return tf_err(-EINVAL, "--listen '%s': address too long", s);
			memcpy(host, s, hl);
			host[hl] = '\0';
			if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
				return tf_err(-EINVAL, "--listen '%s': '%s' is not an IPv4 address (names are not resolved)",
					      s, host);
			s4->sin_family = AF_INET;
			*len = sizeof(*s4);
		}
	}
	err = tf_parse_uint(port, "--listen port", 0, 65535, &p);
	if (err)
		return err;
	if (ss->ss_family == AF_INET6)
		s6->sin6_port = htons(p);
	else
		s4->sin_port = htons(p);
	return 0;
}

static void addr_str(const struct sockaddr_storage *ss, char *out, size_t n)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(out, n, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(out, n, "%s:%u", a, ntohs(s4->sin_port));
	}
}

static int open_listener(struct sockaddr_storage *ss, socklen_t len, const char *what)
{
	bool any6 = ss->ss_family == AF_INET6 &&
		    IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)ss)->sin6_addr);
	int one = 1, zero = 0, fd, err;
	char a[INET6_ADDRSTRLEN + 8];

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 && any6 && errno == EAFNOSUPPORT) {
		/* No IPv6 in this kernel: "every address" is every v4 one. */
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		in_port_t port = ((struct sockaddr_in6 *)ss)->sin6_port;

		memset(ss, 0, sizeof(*ss));
		s4->sin_family = AF_INET;
		s4->sin_port = port;
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
		len = sizeof(*s4);
		any6 = false;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	}
	if (fd < 0)
		return tf_err(-errno, "export: socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (any6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)ss, len) < 0) {
		err = -errno;
		addr_str(ss, a, sizeof(a));
		close(fd);
		if (err == -EADDRINUSE)
			return tf_err(err, "export: %s is in use (another exporter? choose one with --listen)", a);
		if (err == -EADDRNOTAVAIL)
			return tf_err(err, "export: %s is not an address of this host (%s)", a, what);
		return tf_err(err, "export: bind %s: %s", a, strerror(-err));
	}
	if (listen(fd, 1024) < 0) {
		err = -errno;
		close(fd);
		return tf_err(err, "export: listen: %s", strerror(-err));
	}
	return fd;
}

int tf_export_serve(struct tf_exporter *e, const char *listen_addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int err;

	if (e->mhd)
		return tf_err(-EBUSY, "export: already serving on %s", e->bound);
	if (!listen_addr)
		listen_addr = TF_EXPORT_DEFAULT_LISTEN;
	err = tf_export_parse_listen(listen_addr, &ss, &len);
	if (err)
		return err;
	err = open_listener(&ss, len, listen_addr);
	if (err < 0)
		return err;
	e->lfd = err;
	len = sizeof(ss);
	if (getsockname(e->lfd, (struct sockaddr *)&ss, &len) == 0)
		addr_str(&ss, e->bound, sizeof(e->bound));

	/*
	 * Internal epoll threads: a slow or stuck client holds a connection
	 * slot, never a thread, so it cannot stall other scrapes.
	 */
	e->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
				  MHD_USE_ERROR_LOG,
				  0, NULL, NULL, on_request, e,
				  MHD_OPTION_LISTEN_SOCKET, (MHD_socket)e->lfd,
				  MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)HTTP_THREADS,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_CONN_LIMIT,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_TIMEOUT_S,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEM,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				  MHD_OPTION_END);
	if (!e->mhd) {
		close(e->lfd);
		e->lfd = -1;
		return tf_err(-EIO, "export: could not start the HTTP server on %s (run with -v for libmicrohttpd's reason)",
			      e->bound);
	}
	return 0;
}

const char *tf_export_bound(const struct tf_exporter *e)
{
	return e->bound;
}
