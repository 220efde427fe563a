// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Ring records still in flight: for each queue of a traced tap, how many
 * records (struct tf_ring_rec in rings[slot]) still wait for their packet to
 * leave the ring. A packet that is delivered or freed clears its record, so
 * once a queue's ring is empty its count must be 0; anything else is a
 * packet whose leaving tracing did not see (and whose wait it lost). The
 * records of a tap are read in one batch: queues x ring slots of 16 bytes,
 * so this is for `tapflow stats`, not for every scrape.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "tapflow.h"

/* Fill q[].in_flight of t; t->in_flight_known tells whether it could. */
int tf_trace_read_in_flight(struct tf_tap_stats *t)
{
	uint32_t n = t->ring_size * t->ring_queues, id = 0, slot = t->slot;
	struct tf_ring_rec *recs = NULL;
	uint32_t *keys = NULL;
	char path[256];
	int outer, fd = -1, err = 0;

	t->in_flight_known = false;
	if (!n)
		return 0;
	snprintf(path, sizeof(path), "%s/rings", TF_TRACE_PIN_DIR);
	outer = bpf_obj_get(path);
	if (outer < 0)
		return tf_err(-errno, "cannot open %s: %s", path, strerror(errno));
	if (!bpf_map_lookup_elem(outer, &slot, &id) && id)
		fd = bpf_map_get_fd_by_id(id);
	close(outer);
	/*
	 * The kernel opens a map by id for CAP_SYS_ADMIN only: a record map
	 * that exists but cannot be opened is named, never read as none.
	 */
	if (fd < 0 && id && (errno == EPERM || errno == EACCES) && !tf_have_cap(TF_CAP_SYS_ADMIN))
		return tf_require_cap(TF_CAP_SYS_ADMIN, "reading the in-flight ring records");
	if (fd < 0)
		return 0;	/* stopped meanwhile: nothing to report */
	recs = calloc(n, sizeof(*recs));
	keys = calloc(n, sizeof(*keys));
	if (!recs || !keys) {
		err = tf_err(-ENOMEM, "out of memory");
		goto out;
	}
	if (!tf_map_read_range(fd, 0, n, keys, recs)) {
		for (uint32_t i = 0; i < n; i++)
			if (bpf_map_lookup_elem(fd, &i, &recs[i]))
				recs[i].pkt = 0;
	}
	for (uint32_t i = 0; i < t->nqueues; i++) {
		struct tf_queue_stats *qs = &t->q[i];

		qs->in_flight = 0;
		if (qs->queue >= t->ring_queues)
			continue;
		for (uint32_t k = 0; k < t->ring_size; k++)
			if (recs[(size_t)qs->queue * t->ring_size + k].pkt)
				qs->in_flight++;
	}
	t->in_flight_known = true;
out:
	free(recs);
	free(keys);
	close(fd);
	return err;
}
