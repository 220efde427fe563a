// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tapflow export over HTTP: GET /metrics served by libmicrohttpd from the
 * exporter's shared snapshots (export.c), the listen-address parser, and
 * the listening socket (bound by us, so errors name the address). With a
 * --web.config.file, TLS through libmicrohttpd's GnuTLS (client
 * certificates checked during the handshake, so an untrusted one fails it)
 * and basic auth (export_auth.c); always, the connection guard against slow
 * clients (export_guard.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <microhttpd.h>
#include <gnutls/gnutls.h>

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

static enum MHD_Result reply_401(struct MHD_Connection *c)
{
	static const char text[] = "unauthorized\n";
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(sizeof(text) - 1, (void *)text,
					    MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	ret = MHD_queue_basic_auth_fail_response(c, "tapflow", r);
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
	tfx_guard_head_done(c);
	if (e->auth) {
		switch (tfx_auth_check(e->auth, c, req_cls)) {
		case TFX_AUTH_OK:
			break;
		case TFX_AUTH_PENDING:
			return MHD_YES;		/* suspended until the password is checked */
		case TFX_AUTH_BUSY:
			return reply_text(c, MHD_HTTP_TOO_MANY_REQUESTS,
					  "too many password checks queued: try again\n", NULL);
		case TFX_AUTH_DENIED:
		default:
			return reply_401(c);
		}
	}
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

/*
 * Called by GnuTLS inside the handshake once the client's certificate is
 * in: non-zero fails the handshake. Verified against the client CA (the
 * credentials' trust list, MHD_OPTION_HTTPS_MEM_TRUST).
 */
static int verify_peer(gnutls_session_t s, bool required)
{
	unsigned int n = 0, status = 0;

	if (!gnutls_certificate_get_peers(s, &n) || !n)
		return required ? GNUTLS_E_NO_CERTIFICATE_FOUND : 0;
	if (gnutls_certificate_verify_peers2(s, &status) < 0 || status)
		return GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
	return 0;
}

static int verify_if_given(gnutls_session_t s) { return verify_peer(s, false); }
static int verify_required(gnutls_session_t s) { return verify_peer(s, true); }

/*
 * Per TLS session, before its handshake: libmicrohttpd only ever *requests*
 * a client certificate (when given a trust list) and never checks it, so
 * the exporter-toolkit policy is set here, and a verify function makes
 * the handshake itself fail on a certificate the client CA did not sign,
 * as Go's tls.RequireAndVerifyClientCert does.
 */
static void tls_session_setup(const struct tf_webcfg *w, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t s;

	if (!ci || !ci->tls_session)
		return;
	s = ci->tls_session;
	switch (w->client_auth) {
	case TF_CLIENT_AUTH_NONE:
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_IGNORE);
		break;
	case TF_CLIENT_AUTH_REQUEST:
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUEST);
		break;
	case TF_CLIENT_AUTH_REQUIRE_ANY:
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
		break;
	case TF_CLIENT_AUTH_VERIFY_IF_GIVEN:
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUEST);
		gnutls_session_set_verify_function(s, verify_if_given);
		break;
	case TF_CLIENT_AUTH_REQUIRE_VERIFY:
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
		gnutls_session_set_verify_function(s, verify_required);
		break;
	}
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct tf_exporter *e = cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED && e->web && e->web->tls)
		tls_session_setup(e->web, c);
	tfx_guard_notify(e->guard, c, socket_context, toe == MHD_CONNECTION_NOTIFY_STARTED);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)toe;
	tfx_auth_done(*req_cls);
	*req_cls = NULL;
	tfx_guard_request_done(c);
}

int tf_export_web_config(struct tf_exporter *e, const char *path)
{
	int err;

	if (e->mhd)
		return tf_err(-EBUSY, "export: --web.config.file must come before serving");
	if (e->web)
		return tf_err(-EBUSY, "export: a web config is already set");
	err = tf_webcfg_load(path, &e->web);
	if (err)
		return err;
	if (e->web->nusers) {
		err = tfx_auth_new(e->web, &e->auth);
		if (err) {
			tf_webcfg_free(e->web);
			e->web = NULL;
			return err;
		}
	}
	return 0;
}

const char *tf_export_scheme(const struct tf_exporter *e)
{
	return e->web && e->web->tls ? "https" : "http";
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
	struct MHD_OptionItem opt[8];
	struct sockaddr_storage ss;
	unsigned int flags, n = 0;
	socklen_t len;
	int err;

	if (e->mhd)
		return tf_err(-EBUSY, "export: already serving on %s", e->bound);
	if (!listen_addr)
		listen_addr = TF_EXPORT_DEFAULT_LISTEN;
	err = tf_export_parse_listen(listen_addr, &ss, &len);
	if (err)
		return err;
	err = tfx_export_probe(e);
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
	err = tfx_guard_new(&e->guard);
	if (err) {
		close(e->lfd);
		e->lfd = -1;
		return err;
	}
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	if (e->auth)
		flags |= MHD_ALLOW_SUSPEND_RESUME;
	if (e->web && e->web->tls) {
		flags |= MHD_USE_TLS;
		opt[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, e->web->cert_pem };
		opt[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, e->web->key_pem };
		opt[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0, e->web->priorities };
		if (e->web->ca_pem)
			opt[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0, e->web->ca_pem };
	}
	opt[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };

	/*
	 * Internal epoll threads: a slow or stuck client holds a connection
	 * slot, never a thread, so it cannot stall other scrapes.
	 */
	e->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, e,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				  MHD_OPTION_LISTEN_SOCKET, (MHD_socket)e->lfd,
				  MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)HTTP_THREADS,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_CONN_LIMIT,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_TIMEOUT_S,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEM,
				  MHD_OPTION_NOTIFY_CONNECTION, on_connection, e,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, e,
				  MHD_OPTION_ARRAY, opt,
				  MHD_OPTION_END);
	if (!e->mhd) {
		close(e->lfd);
		e->lfd = -1;
		tfx_guard_free(e->guard);
		e->guard = NULL;
		return tf_err(-EIO, "export: could not start the HTTP server on %s (run with -v for libmicrohttpd's reason)",
			      e->bound);
	}
	return 0;
}

const char *tf_export_bound(const struct tf_exporter *e)
{
	return e->bound;
}
