// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tapflow export --web.config.file: the web configuration file every
 * Prometheus exporter built on exporter-toolkit understands, parsed with
 * libyaml into a struct tf_webcfg that export_http.c (TLS) and
 * export_auth.c (basic auth) apply. Everything is read and checked here, at
 * start: the certificate, key and client CA files are loaded into memory
 * (libmicrohttpd takes PEM text), every bcrypt hash is tried once, and a
 * key tapflow does not implement is refused by name rather than ignored, so
 * a config that would be weaker than it reads never starts serving.
 *
 * As in exporter-toolkit: relative paths are taken from the config file's
 * directory; an empty file means plain HTTP without auth; a client CA needs
 * a client_auth_type other than NoClientCert. Unlike it, the file is read
 * once (restart the exporter to pick up a new certificate).
 */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>
#include <gnutls/gnutls.h>

#include "tapflow.h"
#include "export_priv.h"
#include "log.h"

#define PEM_MAX		(1024 * 1024)	/* a certificate chain is a few KB */
#define USERS_MAX	1024

static const struct {
	const char *name;
	enum tf_client_auth v;
} client_auths[] = {
	{ "NoClientCert", TF_CLIENT_AUTH_NONE },
	{ "RequestClientCert", TF_CLIENT_AUTH_REQUEST },
	{ "RequireAnyClientCert", TF_CLIENT_AUTH_REQUIRE_ANY },
	{ "RequireClientCert", TF_CLIENT_AUTH_REQUIRE_ANY },	/* the old spelling */
	{ "VerifyClientCertIfGiven", TF_CLIENT_AUTH_VERIFY_IF_GIVEN },
	{ "RequireAndVerifyClientCert", TF_CLIENT_AUTH_REQUIRE_VERIFY },
};

/* GnuTLS priority pieces for exporter-toolkit's min_version/max_version. */
static const struct {
	const char *name, *prio;
} tls_versions[] = {
	{ "TLS10", "+VERS-TLS1.0" },
	{ "TLS11", "+VERS-TLS1.1" },
	{ "TLS12", "+VERS-TLS1.2" },
	{ "TLS13", "+VERS-TLS1.3" },
};

struct parse {
	const char *path;
	char dir[PATH_MAX];
	yaml_document_t doc;
};

static int bad(const struct parse *p, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(const struct parse *p, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n)
		return tf_err(-EINVAL, "--web.config.file %s, line %zu: %s", p->path,
			      (size_t)n->start_mark.line + 1, msg);
	return tf_err(-EINVAL, "--web.config.file %s: %s", p->path, msg);
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int want_scalar(const struct parse *p, const yaml_node_t *n, const char *key,
		       const char **out)
{
	*out = scalar(n);
	if (!*out)
		return bad(p, n, "%s: want a string", key);
	return 0;
}

/* Read a PEM file (relative to the config's directory) into a NUL-terminated string. */
static int read_pem(const struct parse *p, const yaml_node_t *n, const char *key,
		    const char *file, char **out)
{
	char path[PATH_MAX];
	struct stat st;
	ssize_t r;
	char *buf;
	int fd;

	if (!*file)
		return bad(p, n, "%s is empty", key);
	if (snprintf(path, sizeof(path), "%s%s", file[0] == '/' ? "" : p->dir, file) >=
	    (int)sizeof(path))
		return bad(p, n, "%s: path too long", key);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bad(p, n, "%s %s: %s", key, path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > PEM_MAX) {
		close(fd);
		return bad(p, n, "%s %s: not a regular file of at most 1 MiB", key, path);
	}
	buf = malloc(st.st_size + 1);
	if (!buf) {
		close(fd);
		return tf_err(-ENOMEM, "--web.config.file: out of memory");
	}
	r = read(fd, buf, st.st_size);
	close(fd);
	if (r != st.st_size) {
		free(buf);
		return bad(p, n, "%s %s: short read", key, path);
	}
	buf[r] = '\0';
	if (!strstr(buf, "-----BEGIN ")) {
		free(buf);
		return bad(p, n, "%s %s: not PEM (no -----BEGIN line)", key, path);
	}
	*out = buf;
	return 0;
}

static int set_pem(const struct parse *p, const yaml_node_t *v, const char *key,
		   bool is_file, char **slot)
{
	const char *s;
	int err;

	if (*slot)
		return bad(p, v, "%s: give either the PEM text or the file, once", key);
	err = want_scalar(p, v, key, &s);
	if (err)
		return err;
	if (is_file)
		return read_pem(p, v, key, s, slot);
	if (!strstr(s, "-----BEGIN "))
		return bad(p, v, "%s: not PEM text (no -----BEGIN line)", key);
	*slot = strdup(s);
	return *slot ? 0 : tf_err(-ENOMEM, "--web.config.file: out of memory");
}

static int tls_version(const struct parse *p, const yaml_node_t *v, const char *key, int *out)
{
	const char *s;
	int err = want_scalar(p, v, key, &s);

	if (err)
		return err;
	for (size_t i = 0; i < ARRAY_SIZE(tls_versions); i++) {
		if (!strcmp(s, tls_versions[i].name)) {
			*out = i;
			return 0;
		}
	}
	return bad(p, v, "%s '%s': want TLS10, TLS11, TLS12 or TLS13", key, s);
}

/*
 * Load what libmicrohttpd will load, now, so that a key that does not match
 * its certificate, or a CA file with no certificate, is a config error
 * naming the file rather than a server that fails to start.
 */
static int check_tls(const struct parse *p, const yaml_node_t *m, const struct tf_webcfg *c)
{
	gnutls_certificate_credentials_t cr;
	gnutls_priority_t prio;
	gnutls_datum_t cert = { (unsigned char *)c->cert_pem, strlen(c->cert_pem) };
	gnutls_datum_t key = { (unsigned char *)c->key_pem, strlen(c->key_pem) };
	int r;

	if (gnutls_certificate_allocate_credentials(&cr) < 0)
		return tf_err(-ENOMEM, "--web.config.file: out of memory");
	r = gnutls_certificate_set_x509_key_mem(cr, &cert, &key, GNUTLS_X509_FMT_PEM);
	if (r < 0) {
		gnutls_certificate_free_credentials(cr);
		return bad(p, m, "the certificate and key cannot be used together: %s",
			   gnutls_strerror(r));
	}
	if (c->ca_pem) {
		gnutls_datum_t ca = { (unsigned char *)c->ca_pem, strlen(c->ca_pem) };

		r = gnutls_certificate_set_x509_trust_mem(cr, &ca, GNUTLS_X509_FMT_PEM);
		if (r <= 0) {
			gnutls_certificate_free_credentials(cr);
			return bad(p, m, "client CA: no usable certificate%s%s",
				   r < 0 ? ": " : "", r < 0 ? gnutls_strerror(r) : "");
		}
	}
	gnutls_certificate_free_credentials(cr);
	r = gnutls_priority_init(&prio, c->priorities, NULL);
	if (r < 0)
		return bad(p, m, "TLS versions: %s", gnutls_strerror(r));
	gnutls_priority_deinit(prio);
	return 0;
}

static int parse_tls(struct parse *p, yaml_node_t *m, struct tf_webcfg *c)
{
	int vmin = 2, vmax = 3;	/* exporter-toolkit's defaults: TLS12..TLS13 */
	bool have_auth = false;
	int err = 0;
	size_t n;

	if (m->type != YAML_MAPPING_NODE)
		return bad(p, m, "tls_server_config: want a mapping");
	for (yaml_node_pair_t *kv = m->data.mapping.pairs.start;
	     kv < m->data.mapping.pairs.top && !err; kv++) {
		yaml_node_t *kn = yaml_document_get_node(&p->doc, kv->key);
		yaml_node_t *v = yaml_document_get_node(&p->doc, kv->value);
		const char *k = scalar(kn), *s;

		if (!k)
			return bad(p, kn, "tls_server_config: keys are strings");
		if (!strcmp(k, "cert_file") || !strcmp(k, "cert"))
			err = set_pem(p, v, k, k[4] == '_', &c->cert_pem);
		else if (!strcmp(k, "key_file") || !strcmp(k, "key"))
			err = set_pem(p, v, k, k[3] == '_', &c->key_pem);
		else if (!strcmp(k, "client_ca_file") || !strcmp(k, "client_ca"))
			err = set_pem(p, v, k, k[9] == '_', &c->ca_pem);
		else if (!strcmp(k, "min_version"))
			err = tls_version(p, v, k, &vmin);
		else if (!strcmp(k, "max_version"))
			err = tls_version(p, v, k, &vmax);
		else if (!strcmp(k, "client_auth_type")) {
			err = want_scalar(p, v, k, &s);
			for (n = 0; !err && n < ARRAY_SIZE(client_auths); n++)
				if (!strcmp(s, client_auths[n].name))
					break;
			if (!err && n == ARRAY_SIZE(client_auths))
				return bad(p, v, "client_auth_type '%s': want NoClientCert, RequestClientCert, "
					   "RequireAnyClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert", s);
			if (!err) {
				c->client_auth = client_auths[n].v;
				have_auth = true;
			}
		} else if (!strcmp(k, "prefer_server_cipher_suites")) {
			/* GnuTLS servers always prefer their own order: nothing to set. */
			err = want_scalar(p, v, k, &s);
		} else
			return bad(p, kn, "tls_server_config: '%s' is not supported by tapflow "
				   "(supported: cert_file, key_file, client_ca_file, client_auth_type, "
				   "min_version, max_version and the inline cert, key, client_ca)", k);
	}
	if (err)
		return err;
	if (!c->cert_pem && !c->key_pem && !c->ca_pem && !have_auth)
		return 0;	/* an empty tls_server_config: plain HTTP, as in exporter-toolkit */
	if (!c->cert_pem)
		return bad(p, m, "tls_server_config: missing cert_file");
	if (!c->key_pem)
		return bad(p, m, "tls_server_config: missing key_file");
	if (c->ca_pem && c->client_auth == TF_CLIENT_AUTH_NONE)
		return bad(p, m, "client CAs are configured without a client_auth_type "
			   "(want RequireAndVerifyClientCert)");
	if (!c->ca_pem && (c->client_auth == TF_CLIENT_AUTH_VERIFY_IF_GIVEN ||
			   c->client_auth == TF_CLIENT_AUTH_REQUIRE_VERIFY))
		return bad(p, m, "client_auth_type verifies client certificates: give client_ca_file");
	if (vmin > vmax)
		return bad(p, m, "min_version is above max_version");
	n = snprintf(c->priorities, sizeof(c->priorities), "NORMAL:-VERS-ALL");
	for (int i = vmin; i <= vmax; i++)
		n += snprintf(c->priorities + n, sizeof(c->priorities) - n, ":%s",
			      tls_versions[i].prio);
	c->tls = true;
	return check_tls(p, m, c);
}

/* Is h a bcrypt hash libcrypt can check? Try it once with an empty password. */
static bool bcrypt_ok(const char *h)
{
	struct crypt_data *cd;
	const char *r;
	bool ok;

	if (strlen(h) != 60 || h[0] != '$' || h[1] != '2' ||
	    (h[2] != 'a' && h[2] != 'b' && h[2] != 'y') || h[3] != '$')
		return false;
	cd = calloc(1, sizeof(*cd));
	if (!cd)
		return false;
	r = crypt_rn("", h, cd, sizeof(*cd));
	ok = r && r[0] != '*' && strlen(r) == 60;
	free(cd);
	return ok;
}

static int parse_users(struct parse *p, yaml_node_t *m, struct tf_webcfg *c)
{
	size_t n;

	if (m->type == YAML_SCALAR_NODE && !*scalar(m))
		return 0;	/* `basic_auth_users:` with nothing: no auth */
	if (m->type != YAML_MAPPING_NODE)
		return bad(p, m, "basic_auth_users: want a mapping of user: bcrypt hash");
	n = m->data.mapping.pairs.top - m->data.mapping.pairs.start;
	if (n > USERS_MAX)
		return bad(p, m, "basic_auth_users: more than %d users", USERS_MAX);
	c->users = calloc(n ? n : 1, sizeof(*c->users));
	if (!c->users)
		return tf_err(-ENOMEM, "--web.config.file: out of memory");
	for (yaml_node_pair_t *kv = m->data.mapping.pairs.start;
	     kv < m->data.mapping.pairs.top; kv++) {
		yaml_node_t *kn = yaml_document_get_node(&p->doc, kv->key);
		yaml_node_t *v = yaml_document_get_node(&p->doc, kv->value);
		const char *user = scalar(kn), *hash = scalar(v);

		if (!user || !*user || strchr(user, ':'))
			return bad(p, kn, "basic_auth_users: a user name is a non-empty string without ':'");
		if (!hash || !bcrypt_ok(hash))
			return bad(p, v, "basic_auth_users: %s: not a bcrypt hash ($2b$ or $2y$, 60 characters; "
				   "make one with htpasswd -nBC 10 \"\" | tr -d ':\\n')", user);
		for (size_t i = 0; i < c->nusers; i++)
			if (!strcmp(c->users[i].name, user))
				return bad(p, kn, "basic_auth_users: %s is listed twice", user);
		c->users[c->nusers].name = strdup(user);
		c->users[c->nusers].hash = strdup(hash);
		if (!c->users[c->nusers].name || !c->users[c->nusers].hash) {
			c->nusers++;
			return tf_err(-ENOMEM, "--web.config.file: out of memory");
		}
		c->nusers++;
	}
	return 0;
}

void tf_webcfg_free(struct tf_webcfg *c)
{
	if (!c)
		return;
	free(c->cert_pem);
	if (c->key_pem) {
		explicit_bzero(c->key_pem, strlen(c->key_pem));
		free(c->key_pem);
	}
	free(c->ca_pem);
	for (size_t i = 0; i < c->nusers; i++) {
		free(c->users[i].name);
		free(c->users[i].hash);
	}
	free(c->users);
	free(c);
}

int tf_webcfg_load(const char *path, struct tf_webcfg **out)
{
	struct parse p = { .path = path };
	struct tf_webcfg *c = NULL;
	yaml_parser_t parser;
	yaml_node_t *root;
	const char *slash;
	FILE *f;
	int err = 0;
	bool seen_tls = false, seen_users = false;

	*out = NULL;
	if (!path || !*path)
		return tf_err(-EINVAL, "--web.config.file: empty path");
	slash = strrchr(path, '/');
	if (slash && (size_t)(slash - path + 1) < sizeof(p.dir))
		memcpy(p.dir, path, slash - path + 1);
	f = fopen(path, "re");
	if (!f)
		return tf_err(-EINVAL, "--web.config.file %s: %s", path, strerror(errno));
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		return tf_err(-ENOMEM, "--web.config.file: out of memory");
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &p.doc)) {
		err = tf_err(-EINVAL, "--web.config.file %s, line %zu: %s", path,
			     (size_t)parser.problem_mark.line + 1,
			     parser.problem ? parser.problem : "not YAML");
		yaml_parser_delete(&parser);
		fclose(f);
		return err;
	}
	yaml_parser_delete(&parser);
	fclose(f);

	c = calloc(1, sizeof(*c));
	if (!c) {
		err = tf_err(-ENOMEM, "--web.config.file: out of memory");
		goto out;
	}
	root = yaml_document_get_root_node(&p.doc);
	if (!root || (root->type == YAML_SCALAR_NODE && !*scalar(root)))
		goto out;	/* empty: plain HTTP, no auth */
	if (root->type != YAML_MAPPING_NODE) {
		err = bad(&p, root, "want a mapping (tls_server_config:, basic_auth_users:)");
		goto out;
	}
	for (yaml_node_pair_t *kv = root->data.mapping.pairs.start;
	     kv < root->data.mapping.pairs.top && !err; kv++) {
		yaml_node_t *kn = yaml_document_get_node(&p.doc, kv->key);
		yaml_node_t *v = yaml_document_get_node(&p.doc, kv->value);
		const char *k = scalar(kn);

		/* YAML parsers differ on a repeated key (last wins, or an
		 * error): say so rather than pick one. */
		if (k && (!strcmp(k, "tls_server_config") || !strcmp(k, "basic_auth_users"))) {
			bool *seen = !strcmp(k, "tls_server_config") ? &seen_tls : &seen_users;

			if (*seen) {
				err = bad(&p, kn, "%s is given twice", k);
				break;
			}
			*seen = true;
		}
		if (k && !strcmp(k, "tls_server_config"))
			err = parse_tls(&p, v, c);
		else if (k && !strcmp(k, "basic_auth_users"))
			err = parse_users(&p, v, c);
		else
			err = bad(&p, kn, "'%s' is not supported by tapflow (supported: tls_server_config, "
				  "basic_auth_users)", k ? k : "?");
	}
out:
	yaml_document_delete(&p.doc);
	if (err) {
		tf_webcfg_free(c);
		return err;
	}
	*out = c;
	return 0;
}
