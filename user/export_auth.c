// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Basic auth for /metrics against the bcrypt hashes of --web.config.file's
 * basic_auth_users, checked by libcrypt (crypt_rn), without blocking the
 * HTTP threads.
 *
 * A bcrypt check costs ~50-100 ms of CPU at cost 10, and libmicrohttpd's
 * threads each serve many connections: one check on an HTTP thread stalls
 * every scrape on that thread, and 200 clients with a wrong password would
 * stall the right one for seconds. So:
 *
 *   - A verified user+password is cached: the key is SHA-256 of a random
 *     per-process salt, the user and the password (never the password
 *     itself); the right scraper pays bcrypt once per exporter life.
 *   - Wrong user+password pairs are cached too, in a separate table, so a
 *     client repeating a wrong password costs nothing, and a flood of
 *     distinct wrong ones cannot push the right one out.
 *   - An uncached pair goes to one checker thread (one core stays free for
 *     serving): the connection is suspended (MHD_suspend_connection) and
 *     resumed with the verdict. At most AUTH_QUEUE checks wait; beyond
 *     that the answer is 429 at once, so queued work stays bounded.
 *
 * An unknown user is refused at once (no bcrypt): that tells a prober which
 * names exist by timing, which the README says; names are not secrets here.
 */
#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>
#include <gnutls/crypto.h>

#include "tapflow.h"
#include "export_priv.h"
#include "log.h"

#define AUTH_QUEUE	32	/* checks waiting for the checker thread */
#define AUTH_GOOD	32	/* verified pairs kept */
#define AUTH_BAD	256	/* refused pairs kept */
#define AUTH_KEY	32	/* SHA-256 */
#define AUTH_NICE	10	/* the checker thread's nice value */

struct cache_ent {
	uint8_t key[AUTH_KEY];
	uint64_t used;			/* LRU stamp; 0 = empty */
};

struct job {
	struct MHD_Connection *c;
	char *pass;
	size_t user;			/* index in cfg->users */
	uint8_t key[AUTH_KEY];
	enum tfx_auth_verdict verdict;	/* PENDING until the checker is done */
};

struct tfx_auth {
	const struct tf_webcfg *cfg;
	uint8_t salt[16];
	struct tfx_worker w;	/* the checker */
	struct cache_ent good[AUTH_GOOD], bad[AUTH_BAD];
	uint64_t clock;
	struct job *queue[AUTH_QUEUE];
	size_t qhead, qlen;
};

static void key_of(const struct tfx_auth *a, const char *user, const char *pass,
		   uint8_t key[AUTH_KEY])
{
	gnutls_hash_hd_t h;

	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) {
		/* No SHA-256: an all-zero key matches nothing ever stored. */
		memset(key, 0, AUTH_KEY);
		return;
	}
	gnutls_hash(h, a->salt, sizeof(a->salt));
	gnutls_hash(h, user, strlen(user) + 1);	/* the NUL separates user and password */
	gnutls_hash(h, pass, strlen(pass));
	gnutls_hash_deinit(h, key);
}

static bool key_zero(const uint8_t key[AUTH_KEY])
{
	for (int i = 0; i < AUTH_KEY; i++)
		if (key[i])
			return false;
	return true;
}

/* Called with a->w.lock held. */
static bool cache_has(struct tfx_auth *a, struct cache_ent *t, size_t n, const uint8_t *key)
{
	for (size_t i = 0; i < n; i++) {
		if (t[i].used && !memcmp(t[i].key, key, AUTH_KEY)) {
			t[i].used = ++a->clock;
			return true;
		}
	}
	return false;
}

static void cache_put(struct tfx_auth *a, struct cache_ent *t, size_t n, const uint8_t *key)
{
	size_t lru = 0;

	if (key_zero(key) || cache_has(a, t, n, key))
		return;
	for (size_t i = 1; i < n; i++)
		if (t[i].used < t[lru].used)
			lru = i;
	memcpy(t[lru].key, key, AUTH_KEY);
	t[lru].used = ++a->clock;
}

/* Does crypt(pass, hash) reproduce hash? Compared in constant time. */
static bool bcrypt_match(struct crypt_data *cd, const char *pass, const char *hash)
{
	const char *r = crypt_rn(pass, hash, cd, sizeof(*cd));
	size_t n = strlen(hash);
	unsigned char diff = 0;

	if (!r || strlen(r) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)r[i] ^ (unsigned char)hash[i];
	return diff == 0;
}

static void *checker(void *arg)
{
	struct tfx_auth *a = arg;
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	struct job *j;
	bool ok;

	/*
	 * Checks of new passwords are background work: serving scrapes (and
	 * cached passwords) comes first when the CPUs are busy. Linux nice
	 * values are per thread.
	 */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), AUTH_NICE))
		pr_debug("export: cannot lower the password checker's priority: %s", strerror(errno));
	pthread_mutex_lock(&a->w.lock);
	for (;;) {
		while (!a->qlen && !a->w.stop)
			pthread_cond_wait(&a->w.cond, &a->w.lock);
		if (!a->qlen)
			break;
		j = a->queue[a->qhead];
		a->qhead = (a->qhead + 1) % AUTH_QUEUE;
		a->qlen--;
		if (a->w.stop || !cd) {
			ok = false;
		} else {
			pthread_mutex_unlock(&a->w.lock);
			ok = bcrypt_match(cd, j->pass, a->cfg->users[j->user].hash);
			pthread_mutex_lock(&a->w.lock);
			if (ok)
				cache_put(a, a->good, AUTH_GOOD, j->key);
			else
				cache_put(a, a->bad, AUTH_BAD, j->key);
		}
		j->verdict = ok ? TFX_AUTH_OK : TFX_AUTH_DENIED;
		/*
		 * MHD calls the handler again, which reads the verdict.
		 * Resumed outside our lock: MHD takes its own inside.
		 */
		pthread_mutex_unlock(&a->w.lock);
		MHD_resume_connection(j->c);
		pthread_mutex_lock(&a->w.lock);
	}
	pthread_mutex_unlock(&a->w.lock);
	free(cd);
	return NULL;
}

int tfx_auth_new(const struct tf_webcfg *cfg, struct tfx_auth **out)
{
	struct tfx_auth *a = calloc(1, sizeof(*a));
	int err;

	if (!a)
		return tf_err(-ENOMEM, "export: out of memory");
	a->cfg = cfg;
	if (getrandom(a->salt, sizeof(a->salt), 0) != (ssize_t)sizeof(a->salt)) {
		free(a);
		return tf_err(-EIO, "export: getrandom: %s", strerror(errno));
	}
	err = tfx_worker_start(&a->w, checker, a, "password checker");
	if (err) {
		tfx_auth_free(a);
		return err;
	}
	*out = a;
	return 0;
}

void tfx_auth_stop(struct tfx_auth *a)
{
	if (a)
		tfx_worker_stop(&a->w);
}

void tfx_auth_free(struct tfx_auth *a)
{
	if (!a)
		return;
	tfx_worker_destroy(&a->w);
	explicit_bzero(a, sizeof(*a));
	free(a);
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	if (j->pass) {
		explicit_bzero(j->pass, strlen(j->pass));
		free(j->pass);
	}
	free(j);
}

void tfx_auth_done(void *req_cls)
{
	job_free(req_cls);
}

enum tfx_auth_verdict tfx_auth_check(struct tfx_auth *a, struct MHD_Connection *c,
				     void **req_cls)
{
	enum tfx_auth_verdict v = TFX_AUTH_DENIED;
	struct job *j = *req_cls;
	char *user, *pass = NULL;
	uint8_t key[AUTH_KEY];
	size_t u;

	if (j)		/* resumed: the checker has decided */
		return j->verdict;
	user = MHD_basic_auth_get_username_password(c, &pass);
	if (!user || !pass)
		goto out;
	for (u = 0; u < a->cfg->nusers; u++)
		if (!strcmp(a->cfg->users[u].name, user))
			break;
	if (u == a->cfg->nusers)
		goto out;
	key_of(a, user, pass, key);

	pthread_mutex_lock(&a->w.lock);
	if (cache_has(a, a->good, AUTH_GOOD, key)) {
		v = TFX_AUTH_OK;
	} else if (cache_has(a, a->bad, AUTH_BAD, key)) {
		v = TFX_AUTH_DENIED;
	} else if (a->qlen == AUTH_QUEUE || a->w.stop) {
		v = TFX_AUTH_BUSY;
	} else if ((j = calloc(1, sizeof(*j))) && (j->pass = strdup(pass))) {
		j->c = c;
		j->user = u;
		j->verdict = TFX_AUTH_PENDING;
		memcpy(j->key, key, AUTH_KEY);
		*req_cls = j;
		/* Suspended before the checker can resume it: under the lock. */
		MHD_suspend_connection(c);
		a->queue[(a->qhead + a->qlen) % AUTH_QUEUE] = j;
		a->qlen++;
		pthread_cond_signal(&a->w.cond);
		v = TFX_AUTH_PENDING;
	} else {
		job_free(j);
		v = TFX_AUTH_BUSY;
	}
	pthread_mutex_unlock(&a->w.lock);
	explicit_bzero(key, sizeof(key));
out:
	if (pass) {
		explicit_bzero(pass, strlen(pass));
		MHD_free(pass);
	}
	if (user)
		MHD_free(user);
	return v;
}
