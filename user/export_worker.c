// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The exporter's own background threads (export_auth.c's password checker,
 * export_guard.c's connection watchdog): each waits on a condition under a
 * lock of its own and ends when its stop flag is set. Starting, stopping
 * and releasing them is the same for both, so it is written once here;
 * what each thread does stays in its module.
 */
#include <errno.h>
#include <string.h>

#include "export_priv.h"
#include "tapflow.h"

int tfx_worker_start(struct tfx_worker *w, void *(*fn)(void *), void *arg, const char *what)
{
	int err;

	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	err = pthread_create(&w->thread, NULL, fn, arg);
	if (err)
		return tf_err(-err, "export: cannot start the %s: %s", what, strerror(err));
	w->started = true;
	return 0;
}

void tfx_worker_stop(struct tfx_worker *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	w->started = false;
}

void tfx_worker_destroy(struct tfx_worker *w)
{
	tfx_worker_stop(w);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}
