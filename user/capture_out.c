// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What a capture writes for each record: a pcapng block (direction in
 * epb_flags, queue in epb_queue, records lost since the previous one in
 * epb_dropcount, and a comment for the drop cause, the ring wait, the fast
 * path and a cut) or, without -w, one line like tcpdump's with the same
 * facts. pcapng goes out per poll batch, so `-w - | tshark -r -` sees
 * packets as they come; the statistics block closes the file.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "capture_int.h"
#include "log.h"

int cap_out_open(struct cap_run *r)
{
	const char *names[1] = { r->ifname };

	if (!r->o->pcapng)
		return 0;
	r->png = tf_pcapng_open(r->o->pcapng, names, 1, r->o->snaplen);
	if (!r->png)
		return tf_err(-EIO, "cannot write the pcapng header");
	return tf_pcapng_flush(r->png) ? tf_err(-EIO, "cannot write the capture: %s",
						 strerror(errno)) : 0;
}

static void facts(const struct tf_cap_rec *rec, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	switch (rec->event) {
	case TF_CAP_EV_DROPPED:
		n += snprintf(buf + n, len - n, "dropped: %s", tf_capture_cause_name(rec->cause));
		break;
	case TF_CAP_EV_DELIVERED:
		n += snprintf(buf + n, len - n, "ring wait %.3f ms", rec->wait_ns / 1e6);
		break;
	case TF_CAP_EV_QUEUED:
		n += snprintf(buf + n, len - n, "queued");
		break;
	default:
		break;
	}
	if (rec->flags & TF_CAP_F_FASTPATH && n < len)
		n += snprintf(buf + n, len - n, "%sfast path: XDP frame redirected into the ring",
			      n ? "; " : "");
	if (rec->flags & TF_CAP_F_AWAY && n < len)
		n += snprintf(buf + n, len - n, "%sfast path, redirected away %s", n ? "; " : "",
			      rec->away == TF_CAP_AWAY_UPLINK ? "to an uplink"
			      : rec->away == TF_CAP_AWAY_XSK ? "to an AF_XDP socket"
			      : "to another tap");
	if (rec->flags & TF_CAP_F_CUT && n < len)
		n += snprintf(buf + n, len - n, "%snot linear: cut at the linear part", n ? "; " : "");
	if (rec->flags & TF_CAP_F_NODATA && n < len)
		snprintf(buf + n, len - n, "%sbytes freed before they could be copied",
			 n ? "; " : "");
}

void cap_write(struct cap_run *r, const struct tf_cap_rec *rec, const unsigned char *data)
{
	uint64_t ts = rec->ts + r->boot_to_real;
	char comment[256], what[160];

	facts(rec, comment, sizeof(comment));
	if (r->png) {
		struct tf_pcapng_pkt p = {
			.ts_ns = ts, .wirelen = rec->wirelen, .caplen = rec->caplen, .data = data,
			.dir = rec->dir == TF_CAP_RX ? TF_PCAPNG_DIR_IN : TF_PCAPNG_DIR_OUT,
			.queue = rec->queue, .comment = comment,
			.has_dropcount = true,
			.dropcount = rec->missed > r->last_missed ? rec->missed - r->last_missed : 0,
		};

		if (tf_pcapng_packet(r->png, 0, &p))
			r->err = tf_err(-EIO, "cannot write the capture");
	} else {
		struct tm tm;
		time_t sec = (time_t)(ts / 1000000000ull);

		localtime_r(&sec, &tm);
		cap_describe(data, rec->caplen, what, sizeof(what));
		printf("%02d:%02d:%02d.%09llu %s q%u %s %s, len %u%s%s%s\n", tm.tm_hour, tm.tm_min,
		       tm.tm_sec, (unsigned long long)(ts % 1000000000ull), r->ifname, rec->queue,
		       rec->dir == TF_CAP_RX ? "rx" : "tx", what, rec->wirelen,
		       *comment ? " (" : "", comment, *comment ? ")" : "");
	}
	if (rec->missed > r->last_missed)
		r->last_missed = rec->missed;
}

void cap_out_flush(struct cap_run *r)
{
	if (r->png) {
		if (tf_pcapng_flush(r->png) && !r->err)
			r->err = tf_err(-EIO, "cannot write the capture: %s", strerror(errno));
	} else {
		fflush(stdout);
	}
}

void cap_out_close(struct cap_run *r, uint64_t missed)
{
	struct timespec t;

	if (!r->png)
		return;
	clock_gettime(CLOCK_REALTIME, &t);
	tf_pcapng_stats(r->png, 0, (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec,
			r->packets + missed, missed);
	if (tf_pcapng_close(r->png) && !r->err)
		r->err = tf_err(-EIO, "cannot write the capture: %s", strerror(errno));
	r->png = NULL;
}

static uint16_t be16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Enough of Ethernet, VLAN, ARP, IPv4, IPv6, TCP, UDP and ICMP to say what a frame is. */
void cap_describe(const unsigned char *d, uint32_t caplen, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	uint32_t off = 14, l4 = 0;
	uint16_t et;
	uint8_t proto;

	if (caplen < 14) {
		snprintf(buf, len, "%s", caplen ? "runt" : "no data");
		return;
	}
	et = be16(d + 12);
	while ((et == 0x8100 || et == 0x88a8) && caplen >= off + 4) {
		et = be16(d + off + 2);
		off += 4;
	}
	if (et == 0x0806) {
		snprintf(buf, len, "ARP");
		return;
	}
	if (et == 0x0800 && caplen >= off + 20) {
		inet_ntop(AF_INET, d + off + 12, a, sizeof(a));
		inet_ntop(AF_INET, d + off + 16, b, sizeof(b));
		proto = d[off + 9];
		l4 = off + (d[off] & 0xf) * 4;
	} else if (et == 0x86dd && caplen >= off + 40) {
		inet_ntop(AF_INET6, d + off + 8, a, sizeof(a));
		inet_ntop(AF_INET6, d + off + 24, b, sizeof(b));
		proto = d[off + 6];
		l4 = off + 40;
	} else {
		snprintf(buf, len, "ethertype 0x%04x", et);
		return;
	}
	if ((proto == 6 || proto == 17) && caplen >= l4 + 4)
		snprintf(buf, len, "%s %s.%u > %s.%u", proto == 6 ? "TCP" : "UDP", a,
			 be16(d + l4), b, be16(d + l4 + 2));
	else if (proto == 1 || proto == 58)
		snprintf(buf, len, "ICMP %s > %s", a, b);
	else
		snprintf(buf, len, "IP proto %u %s > %s", proto, a, b);
}
