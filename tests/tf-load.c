// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tf-load: the load generator of tapflow's tests and `make bench`.
 *
 * It plays the part of a VM backend (what qemu does without vhost) on a tap
 * that already exists: it attaches --queues fds to the tap, one per queue,
 * and drives some of them with one pinned thread each, writing prebuilt
 * Ethernet/IPv4/UDP frames and/or reading and counting what the host sends.
 * The numbers it prints are the ground truth tapflow's counters are checked
 * against, so it counts exactly and stays out of the way of the fast path:
 * nothing but write() and a vDSO clock read in the write loop, no per-frame
 * allocation, poll() only when the fd says EAGAIN.
 *
 * Direction words in its options and JSON are the BACKEND's, which is the
 * opposite of the kernel's (and of tapflow's own names, see STYLE.md):
 *
 *                 kernel / `ip -s link`                    tf-load JSON
 *   host stack <-- tun_get_user  ("rx") <-- write(queue fd)  "tx_*"
 *   host stack --> tun_net_xmit  ("tx") --> ptr_ring --> read(queue fd) "rx_*"
 *
 * Queue numbering: fd i becomes queue i of the tap only if nothing else is
 * attached when tf-load starts, since tun hands out the next free slot.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>

#include "tf_backend.h"
#define TF_TOOL "tf-load"
#include "tf_tool.h"
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define MIN_SIZE	60
#define MAX_SIZE	9000
#define IP_HLEN		20
#define UDP_HLEN	8
/*
 * 1024 frames between clock reads is ~0.5 ms at 2 Mpps: fine enough for
 * --duration, rare enough that the clock costs nothing.
 */
#define BURST		1024
/* Longest nap in poll(), so --duration, --idle-ms and SIGINT are seen. */
#define POLL_SLICE_NS	(10 * 1000 * 1000ULL)
/* Give up on a queue whose writes all failed for this long. */
#define DEAD_NS		NSEC
/* Enough for a frame of any MTU a tap accepts, plus the vnet header. */
#define RXBUF_SIZE	(65536 + 12)
/* Cap on the prebuilt frames of one queue (--flows x --size). */
#define MAX_FRAME_MEM	(16u << 20)

struct config {
	const char *dev;
	unsigned int nqueues;
	unsigned int ndrive;
	unsigned int drive[TF_MAX_QUEUES];
	bool do_write;
	bool do_read;
	uint64_t count;		/* per queue; 0 = no count limit */
	uint64_t duration_ns;	/* 0 = no time limit */
	uint64_t idle_ns;	/* 0 = no idle limit */
	uint64_t rate;		/* frames/s per queue; 0 = unpaced */
	uint64_t read_delay_ns;
	uint64_t hold_ms;
	unsigned int size;
	unsigned int flows;
	unsigned int vnet_len;	/* 0, 10 or 12 */
	bool src_mac_set;
	uint8_t src_mac[6];
	uint8_t dst_mac[6];
	struct in_addr src_ip;
	struct in_addr dst_ip;
	unsigned int sport;
	unsigned int dport;
};

/*
 * One per driven queue, on its own cache lines: the thread owns it while it
 * runs, main reads it after join, and peers only read last_rx_ns when they
 * think the whole tap went idle.
 */
struct queue {
	unsigned int index;
	int fd;
	int cpu;
	pthread_t thread;
	uint64_t start_ns;
	uint64_t end_ns;
	uint64_t tx_frames;
	uint64_t tx_errors;
	uint64_t rx_frames;
	uint64_t rx_bytes;
	int tx_errno;		/* first write error, for the report */
	bool tx_dead;		/* stopped: every write failed for DEAD_NS */
	int fatal_errno;	/* nonzero: the queue stopped on a system error */
	const char *fatal_what;
	_Atomic uint64_t last_rx_ns;
	uint8_t *frames;
	size_t stride;
	uint8_t *rxbuf;
} __attribute__((aligned(64)));

static struct config cfg = {
	.nqueues = 1,
	.size = 64,
	.flows = 1,
	.dst_mac = { 0x02, 0, 0, 0, 0, 0x01 },
	.sport = 10000,
	.dport = 9,
};

static struct queue *queues;	/* indexed by drive order, not queue number */
static int *fds;		/* all attached fds, indexed by queue number */
static pthread_barrier_t start_barrier;
static atomic_bool stop;	/* SIGINT/SIGTERM: finish early, still report */
static atomic_bool rx_idle;	/* some thread saw every queue idle */

static const char usage[] =
"Usage: tf-load --dev TAP [options]\n"
"\n"
"Acts as a VM backend on the existing multi_queue tap TAP: attaches --queues\n"
"fds to it (fd i is queue i if nothing else is attached) and drives them with\n"
"one pinned thread per queue.\n"
"\n"
"Directions are the BACKEND's view: \"tx\" and --write are frames tf-load\n"
"writes into the tap (the host receives them; the kernel and `ip -s link`\n"
"count them as rx on the tap); \"rx\" and --read are frames tf-load reads\n"
"(the host sent them; tx on the tap).\n"
"\n"
"Modes (combinable; --write if neither is given):\n"
"  -w, --write             write Ethernet/IPv4/UDP frames\n"
"  -r, --read              read frames and count them\n"
"Queues:\n"
"  -d, --dev TAP           tap device, must exist\n"
"  -q, --queues Q          attach Q queue fds, 1..256 (default 1)\n"
"  -l, --queue-list LIST   drive only these queues, e.g. 0,2 or 0-3 (default all)\n"
"End of a run, per queue, whichever comes first:\n"
"  -c, --count K           write K frames (failed writes included) and/or\n"
"                          read K frames on each driven queue\n"
"  -t, --duration S        stop after S seconds (fractions allowed)\n"
"  -i, --idle-ms M         stop reading once no queue has read anything for M ms\n"
"                          (counted from the start too: allow for the sender)\n"
"  SIGINT/SIGTERM          stop early; the result is still printed\n"
"  --write needs --count or --duration; --read needs one of the three.\n"
"Writing:\n"
"  -s, --size BYTES        frame length without FCS, 60..9000 (default 64)\n"
"  -R, --rate PPS          pace each queue to PPS frames/s (default: flat out)\n"
"  -f, --flows F           F UDP flows per queue (default 1): queue q, flow f\n"
"                          uses source port SPORT + q*F + f\n"
"      --src-mac MAC       default 02:00:00:00:01:QQ, QQ = queue number\n"
"      --dst-mac MAC       default 02:00:00:00:00:01\n"
"      --src-ip IP         default 198.18.0.2\n"
"      --dst-ip IP         default 198.18.0.1\n"
"      --sport PORT        base UDP source port (default 10000)\n"
"      --dport PORT        UDP destination port (default 9)\n"
"      --vnet-hdr          attach with IFF_VNET_HDR and prepend a zeroed\n"
"                          virtio_net_hdr to every write (and expect one on reads)\n"
"      --vnet-hdr-len N    10 or 12 (default 10; implies --vnet-hdr)\n"
"Reading:\n"
"      --read-delay-us U   when poll() says readable, sleep U us, then read ONE\n"
"                          frame: packets wait in the queue's ring\n"
"Other:\n"
"      --hold-ms M         keep the queues attached M ms after printing\n"
"  -h, --help\n"
"\n"
"Output, one JSON object on stdout (bytes exclude the vnet header):\n"
"  {\"dev\":S,\"queues\":[{\"queue\":N,\"tx_frames\":N,\"tx_bytes\":N,\"tx_errors\":N,\n"
"   \"rx_frames\":N,\"rx_bytes\":N},...],\"tx_frames\":N,\"tx_bytes\":N,\n"
"   \"tx_errors\":N,\"rx_frames\":N,\"rx_bytes\":N,\"seconds\":F,\"tx_pps\":F,\n"
"   \"rx_pps\":F}\n"
"A failed write (EIO while the tap is down, ...) counts in tx_errors; a queue\n"
"whose every write fails for 1 s stops.\n"
"Exit: 0 done, 1 system error (named syscall and errno), 2 bad options.\n";

static void parse_duration(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || end == s || !(v > 0) || v > 1e9)
		bad_option("--duration: '%s' is not a positive number of seconds",
			   s);
	cfg.duration_ns = v * NSEC;
	if (!cfg.duration_ns)
		cfg.duration_ns = 1;
}

/* Queue numbers are checked against --queues later: options come in any order. */
static void parse_queue_list(const char *s)
{
	const char *p = s;

	cfg.ndrive = 0;
	for (;;) {
		unsigned long lo, hi;
		char *end;

		if (*p < '0' || *p > '9')
			goto bad;
		lo = hi = strtoul(p, &end, 10);
		if (*end == '-') {
			p = end + 1;
			if (*p < '0' || *p > '9')
				goto bad;
			hi = strtoul(p, &end, 10);
		}
		if (lo > hi || hi >= TF_MAX_QUEUES)
			bad_option("--queue-list: '%s': queues are 0..%d, ranges low-high",
				   s, TF_MAX_QUEUES - 1);
		for (; lo <= hi; lo++) {
			if (cfg.ndrive == TF_MAX_QUEUES)
				goto bad;
			cfg.drive[cfg.ndrive++] = lo;
		}
		if (!*end)
			break;
		if (*end != ',')
			goto bad;
		p = end + 1;
	}
	return;
bad:
	bad_option("--queue-list: '%s' is not a list like 0,2 or 0-3", s);
}

enum {
	OPT_SRC_MAC = 256,
	OPT_DST_MAC,
	OPT_SRC_IP,
	OPT_DST_IP,
	OPT_SPORT,
	OPT_DPORT,
	OPT_VNET_HDR,
	OPT_VNET_HDR_LEN,
	OPT_READ_DELAY,
	OPT_HOLD,
};

static const struct option long_opts[] = {
	{ "dev",		required_argument, NULL, 'd' },
	{ "queues",		required_argument, NULL, 'q' },
	{ "queue-list",		required_argument, NULL, 'l' },
	{ "write",		no_argument,	   NULL, 'w' },
	{ "read",		no_argument,	   NULL, 'r' },
	{ "count",		required_argument, NULL, 'c' },
	{ "duration",		required_argument, NULL, 't' },
	{ "idle-ms",		required_argument, NULL, 'i' },
	{ "size",		required_argument, NULL, 's' },
	{ "rate",		required_argument, NULL, 'R' },
	{ "flows",		required_argument, NULL, 'f' },
	{ "src-mac",		required_argument, NULL, OPT_SRC_MAC },
	{ "dst-mac",		required_argument, NULL, OPT_DST_MAC },
	{ "src-ip",		required_argument, NULL, OPT_SRC_IP },
	{ "dst-ip",		required_argument, NULL, OPT_DST_IP },
	{ "sport",		required_argument, NULL, OPT_SPORT },
	{ "dport",		required_argument, NULL, OPT_DPORT },
	{ "vnet-hdr",		no_argument,	   NULL, OPT_VNET_HDR },
	{ "vnet-hdr-len",	required_argument, NULL, OPT_VNET_HDR_LEN },
	{ "read-delay-us",	required_argument, NULL, OPT_READ_DELAY },
	{ "hold-ms",		required_argument, NULL, OPT_HOLD },
	{ "help",		no_argument,	   NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void parse_args(int argc, char **argv)
{
	bool list_set = false, seen[TF_MAX_QUEUES] = { false };
	unsigned int i;
	int c;

	inet_pton(AF_INET, "198.18.0.2", &cfg.src_ip);
	inet_pton(AF_INET, "198.18.0.1", &cfg.dst_ip);

	opterr = 0;	/* getopt's own messages are not one `tf-load:` line */
	for (;;) {
		c = getopt_long(argc, argv, ":d:q:l:wrc:t:i:s:R:f:h", long_opts,
				NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'd':
			if (!*optarg || strlen(optarg) >= IFNAMSIZ)
				bad_option("--dev: '%s' is not a device name",
					   optarg);
			cfg.dev = optarg;
			break;
		case 'q':
			cfg.nqueues = parse_u64("--queues", optarg, 1,
						TF_MAX_QUEUES);
			break;
		case 'l':
			parse_queue_list(optarg);
			list_set = true;
			break;
		case 'w':
			cfg.do_write = true;
			break;
		case 'r':
			cfg.do_read = true;
			break;
		case 'c':
			cfg.count = parse_u64("--count", optarg, 1, UINT64_MAX);
			break;
		case 't':
			parse_duration(optarg);
			break;
		case 'i':
			cfg.idle_ns = parse_u64("--idle-ms", optarg, 1,
						UINT32_MAX) * 1000000ULL;
			break;
		case 's':
			cfg.size = parse_u64("--size", optarg, MIN_SIZE,
					     MAX_SIZE);
			break;
		case 'R':
			cfg.rate = parse_u64("--rate", optarg, 1, NSEC);
			break;
		case 'f':
			cfg.flows = parse_u64("--flows", optarg, 1, 65536);
			break;
		case OPT_SRC_MAC:
			parse_mac("--src-mac", optarg, cfg.src_mac);
			cfg.src_mac_set = true;
			break;
		case OPT_DST_MAC:
			parse_mac("--dst-mac", optarg, cfg.dst_mac);
			break;
		case OPT_SRC_IP:
			parse_ip("--src-ip", optarg, &cfg.src_ip);
			break;
		case OPT_DST_IP:
			parse_ip("--dst-ip", optarg, &cfg.dst_ip);
			break;
		case OPT_SPORT:
			cfg.sport = parse_u64("--sport", optarg, 0, 65535);
			break;
		case OPT_DPORT:
			cfg.dport = parse_u64("--dport", optarg, 0, 65535);
			break;
		case OPT_VNET_HDR:
			if (!cfg.vnet_len)
				cfg.vnet_len = 10;
			break;
		case OPT_VNET_HDR_LEN:
			cfg.vnet_len = parse_u64("--vnet-hdr-len", optarg, 10,
						 12);
			if (cfg.vnet_len == 11)
				bad_option("--vnet-hdr-len: must be 10 or 12");
			break;
		case OPT_READ_DELAY:
			cfg.read_delay_ns = parse_u64("--read-delay-us", optarg,
						      1, 60000000) * 1000;
			break;
		case OPT_HOLD:
			cfg.hold_ms = parse_u64("--hold-ms", optarg, 0,
						UINT32_MAX);
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		case ':':
			bad_option("%s needs a value", argv[optind - 1]);
		default:
			if (optopt && optopt < 256)
				bad_option("unknown option '-%c' (see --help)",
					   optopt);
			bad_option("unknown option '%s' (see --help)",
				   argv[optind - 1]);
		}
	}
	if (optind < argc)
		bad_option("unexpected argument '%s' (see --help)", argv[optind]);
	if (!cfg.dev)
		bad_option("--dev is required (see --help)");
	if (!cfg.do_write && !cfg.do_read)
		cfg.do_write = true;
	if (cfg.do_write && !cfg.count && !cfg.duration_ns)
		bad_option("--write needs --count or --duration");
	if (cfg.do_read && !cfg.count && !cfg.duration_ns && !cfg.idle_ns)
		bad_option("--read needs --count, --duration or --idle-ms");
	if (!cfg.do_read && (cfg.idle_ns || cfg.read_delay_ns))
		bad_option("--idle-ms and --read-delay-us need --read");
	if ((uint64_t)cfg.sport + (uint64_t)cfg.nqueues * cfg.flows - 1 > 65535)
		bad_option("--sport %u + --queues %u x --flows %u runs past port 65535",
			   cfg.sport, cfg.nqueues, cfg.flows);
	if ((uint64_t)cfg.flows * ((cfg.vnet_len + cfg.size + 63) & ~63u) >
	    MAX_FRAME_MEM)
		bad_option("--flows %u x --size %u needs more than %u MiB of frames per queue",
			   cfg.flows, cfg.size, MAX_FRAME_MEM >> 20);
	if (!list_set) {
		cfg.ndrive = cfg.nqueues;
		for (i = 0; i < cfg.nqueues; i++)
			cfg.drive[i] = i;
	}
	for (i = 0; i < cfg.ndrive; i++) {
		if (cfg.drive[i] >= cfg.nqueues)
			bad_option("--queue-list: queue %u, but --queues is %u",
				   cfg.drive[i], cfg.nqueues);
		if (seen[cfg.drive[i]])
			bad_option("--queue-list: queue %u twice", cfg.drive[i]);
		seen[cfg.drive[i]] = true;
	}
}

/*
 * The IPv4 total length covers the whole frame, so short sizes carry a
 * zero-filled UDP payload instead of Ethernet padding: what is counted on
 * the wire is then what the IP and UDP headers say.
 */
static void build_frame(uint8_t *buf, unsigned int queue, unsigned int flow)
{
	uint8_t *eth = buf + cfg.vnet_len;
	uint8_t *ip = eth + ETH_HLEN;
	uint8_t *udp = ip + IP_HLEN;
	uint8_t *payload = udp + UDP_HLEN;

	memset(buf, 0, cfg.vnet_len + cfg.size);	/* vnet header too */
	memcpy(eth, cfg.dst_mac, 6);
	if (cfg.src_mac_set) {
		memcpy(eth + 6, cfg.src_mac, 6);
	} else {
		static const uint8_t base[6] = { 0x02, 0, 0, 0, 0x01, 0 };

		memcpy(eth + 6, base, 6);
		eth[11] = queue;
	}
	put16(eth + 12, 0x0800);

	ip[0] = 0x45;
	put16(ip + 2, cfg.size - ETH_HLEN);
	put16(ip + 6, 0x4000);	/* DF: nothing on the path should fragment */
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, &cfg.src_ip, 4);
	memcpy(ip + 16, &cfg.dst_ip, 4);
	put16(ip + 10, tf_ip_checksum(ip, IP_HLEN));

	put16(udp, cfg.sport + queue * cfg.flows + flow);
	put16(udp + 2, cfg.dport);
	put16(udp + 4, cfg.size - ETH_HLEN - IP_HLEN);
	/* checksum 0: "not computed", legal for UDP over IPv4 */

	/* A tag so a capture or a BPF test can tell tf-load's frames apart. */
	memcpy(payload, "tf-load", 8);
	put16(payload + 8, queue);
	put16(payload + 10, flow);
}

static void queue_fail(struct queue *q, int err, const char *what)
{
	q->fatal_errno = err;
	q->fatal_what = what;
}

static bool all_queues_idle(uint64_t now)
{
	unsigned int i;

	if (atomic_load_explicit(&rx_idle, memory_order_relaxed))
		return true;
	for (i = 0; i < cfg.ndrive; i++) {
		uint64_t t = atomic_load_explicit(&queues[i].last_rx_ns,
						  memory_order_relaxed);

		if (now < t + cfg.idle_ns)
			return false;
	}
	atomic_store(&rx_idle, true);
	return true;
}

static void *queue_main(void *arg)
{
	struct queue *q = arg;
	const size_t wlen = cfg.vnet_len + cfg.size;
	const uint8_t *frames;
	uint64_t tx = 0, txerr = 0, rx = 0, rxb = 0;
	uint64_t start, now, deadline, last_ok, last_rx;
	uint64_t pace_t0 = 0, pace_sent = 0, pace_cap = 0;
	bool w = cfg.do_write, r = cfg.do_read;
	unsigned int flow = 0, f;
	char name[16];

	snprintf(name, sizeof(name), "tf-load/q%u", q->index);
	pthread_setname_np(pthread_self(), name);
	/* Default 50 us slack would blur --rate and --read-delay-us. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

	/* Allocated here, after pinning, so the pages are local to the CPU. */
	q->stride = (wlen + 63) & ~(size_t)63;
	if (w) {
		q->frames = aligned_alloc(64, q->stride * cfg.flows);
		if (!q->frames)
			queue_fail(q, errno, "aligned_alloc (frames)");
		else
			for (f = 0; f < cfg.flows; f++)
				build_frame(q->frames + f * q->stride,
					    q->index, f);
	}
	if (r) {
		q->rxbuf = malloc(RXBUF_SIZE);
		if (!q->rxbuf)
			queue_fail(q, errno, "malloc (read buffer)");
	}
	frames = q->frames;

	pthread_barrier_wait(&start_barrier);
	start = now = last_ok = last_rx = now_ns();
	q->start_ns = start;
	atomic_store_explicit(&q->last_rx_ns, start, memory_order_relaxed);
	if (q->fatal_errno)
		w = r = false;
	deadline = cfg.duration_ns ? start + cfg.duration_ns : UINT64_MAX;
	if (cfg.rate) {
		pace_t0 = start;
		/*
		 * Tokens are kept for 20 ms: a vCPU here is often away for more
		 * than 1 ms, and a 1 ms bucket delivered only 82-97% of --rate on
		 * two queues. Deeper would turn a long stall into a long burst.
		 */
		pace_cap = cfg.rate / 50 ? cfg.rate / 50 : 1;
	}

	while (w || r) {
		bool busy = false, want_out = false, want_in = false;
		uint64_t wait_ns = POLL_SLICE_NS;

		if (w) {
			uint64_t budget = BURST, ok = 0, bad = 0, i;

			if (cfg.count && cfg.count - (tx + txerr) < budget)
				budget = cfg.count - (tx + txerr);
			if (cfg.rate) {
				uint64_t due = (unsigned __int128)(now - pace_t0) *
					       cfg.rate / NSEC;

				if (due > pace_sent + pace_cap) {
					/* drop the tokens a stall piled up */
					pace_sent = due - pace_cap;
				}
				if (due - pace_sent < budget)
					budget = due - pace_sent;
				if (!budget) {
					uint64_t next = pace_t0 +
						(unsigned __int128)(pace_sent + 1) *
						NSEC / cfg.rate;

					if (next > now && next - now < wait_ns)
						wait_ns = next - now;
				}
			}
			for (i = 0; i < budget; i++) {
				ssize_t n = write(q->fd, frames + flow * q->stride,
						  wlen);

				if (n == (ssize_t)wlen) {
					ok++;
				} else if (n < 0 && errno == EAGAIN) {
					want_out = true;
					break;
				} else {
					if (!q->tx_errno)
						q->tx_errno = n < 0 ? errno : EIO;
					bad++;
				}
				if (++flow == cfg.flows)
					flow = 0;
			}
			tx += ok;
			txerr += bad;
			pace_sent += ok + bad;
			if (budget && !want_out)
				busy = true;
			if (ok)
				last_ok = UINT64_MAX;	/* reset after the clock read */
			else if (bad && now - last_ok >= DEAD_NS)
				q->tx_dead = true, w = false;
			if (cfg.count && tx + txerr >= cfg.count)
				w = false;
		}

		if (r && !cfg.read_delay_ns) {
			uint64_t budget = BURST, got = 0, i;

			if (cfg.count && cfg.count - rx < budget)
				budget = cfg.count - rx;
			for (i = 0; i < budget; i++) {
				ssize_t n = read(q->fd, q->rxbuf, RXBUF_SIZE);

				if (n >= 0) {
					got++;
					rxb += n - cfg.vnet_len;
				} else if (errno == EAGAIN) {
					want_in = true;
					break;
				} else {
					queue_fail(q, errno, "read");
					w = r = false;
					break;
				}
			}
			rx += got;
			if (got)
				last_rx = UINT64_MAX;
			if (!want_in)
				busy = true;
		} else if (r) {
			want_in = true;
		}

		now = now_ns();
		if (last_ok == UINT64_MAX)
			last_ok = now;
		if (last_rx == UINT64_MAX) {
			last_rx = now;
			if (cfg.idle_ns)
				atomic_store_explicit(&q->last_rx_ns, now,
						      memory_order_relaxed);
		}
		if (now >= deadline ||
		    atomic_load_explicit(&stop, memory_order_relaxed))
			break;
		if (r && cfg.count && rx >= cfg.count)
			r = false;
		if (r && cfg.idle_ns && now - last_rx >= cfg.idle_ns &&
		    all_queues_idle(now))
			r = false;
		if (!w && !r)
			break;

		/*
		 * Sleep only when every active direction is blocked or paced,
		 * or to ask whether a --read-delay-us frame is there.
		 */
		if (!busy || cfg.read_delay_ns) {
			struct pollfd pfd = { .fd = q->fd };
			struct timespec ts;
			int ret;

			if (w && want_out)
				pfd.events |= POLLOUT;
			if (r && want_in)
				pfd.events |= POLLIN;
			if (busy)
				wait_ns = 0;
			if (deadline - now < wait_ns)
				wait_ns = deadline - now;
			ts.tv_sec = wait_ns / NSEC;
			ts.tv_nsec = wait_ns % NSEC;
			ret = ppoll(&pfd, pfd.events ? 1 : 0, &ts, NULL);
			if (ret < 0 && errno != EINTR) {
				queue_fail(q, errno, "ppoll");
				break;
			}
			if (ret > 0 && r && cfg.read_delay_ns &&
			    (pfd.revents & POLLIN)) {
				ssize_t n;

				ts.tv_sec = cfg.read_delay_ns / NSEC;
				ts.tv_nsec = cfg.read_delay_ns % NSEC;
				clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
				n = read(q->fd, q->rxbuf, RXBUF_SIZE);
				if (n >= 0) {
					rx++;
					rxb += n - cfg.vnet_len;
					last_rx = UINT64_MAX;
				} else if (errno != EAGAIN) {
					queue_fail(q, errno, "read");
					break;
				}
			}
			now = now_ns();
			if (last_rx == UINT64_MAX) {
				last_rx = now;
				if (cfg.idle_ns)
					atomic_store_explicit(&q->last_rx_ns,
							      now,
							      memory_order_relaxed);
			}
			if (r && cfg.count && rx >= cfg.count)
				r = false;
		}
	}

	q->end_ns = now;
	q->tx_frames = tx;
	q->tx_errors = txerr;
	q->rx_frames = rx;
	q->rx_bytes = rxb;
	return NULL;
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop, true);
}

static int open_queue(unsigned int i)
{
	int flags = cfg.vnet_len ? IFF_VNET_HDR : 0;
	int fd;

	fd = tf_backend_attach(cfg.dev, flags | IFF_MULTI_QUEUE, true);
	/* A single queue can still back a tap made without multi_queue. */
	if (fd == -EINVAL && cfg.nqueues == 1)
		fd = tf_backend_attach(cfg.dev, flags, true);
	if (fd == -EINVAL) {
		fprintf(stderr, "tf-load: TUNSETIFF %s queue %u: %s (is it a tap? made with `ip tuntap add ... mode tap multi_queue`?)\n",
			cfg.dev, i, strerror(EINVAL));
		exit(1);
	}
	if (fd < 0)
		sys_fail(-fd, "attaching queue %u of %s", i, cfg.dev);
	if (cfg.vnet_len) {
		int len = cfg.vnet_len;

		if (ioctl(fd, TUNSETVNETHDRSZ, &len) < 0)
			sys_fail(errno, "TUNSETVNETHDRSZ %d on %s queue %u",
				 len, cfg.dev, i);
	}
	return fd;
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

int main(int argc, char **argv)
{
	uint64_t tx = 0, txb = 0, txerr = 0, rx = 0, rxb = 0;
	uint64_t t_start = UINT64_MAX, t_end = 0;
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, old;
	cpu_set_t allowed;
	int cpus[CPU_SETSIZE], ncpus = 0, cpu, err, rc = 0;
	double secs;
	unsigned int i;

	parse_args(argc, argv);

	/* TUNSETIFF on a missing name would quietly create a private tap. */
	if (!if_nametoindex(cfg.dev))
		sys_fail(errno, "if_nametoindex %s", cfg.dev);

	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		sys_fail(errno, "sched_getaffinity");
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &allowed))
			cpus[ncpus++] = cpu;
	if (!ncpus)
		sys_fail(ESRCH, "sched_getaffinity: no CPU");

	fds = calloc(cfg.nqueues, sizeof(*fds));
	queues = aligned_alloc(64, sizeof(*queues) * cfg.ndrive);
	if (!fds || !queues)
		sys_fail(ENOMEM, "calloc");
	memset(queues, 0, sizeof(*queues) * cfg.ndrive);
	for (i = 0; i < cfg.nqueues; i++)
		fds[i] = open_queue(i);

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Workers inherit a blocked mask, so signals land in main, not in write(). */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);

	err = pthread_barrier_init(&start_barrier, NULL, cfg.ndrive + 1);
	if (err)
		sys_fail(err, "pthread_barrier_init");
	for (i = 0; i < cfg.ndrive; i++) {
		struct queue *q = &queues[i];
		pthread_attr_t attr;
		cpu_set_t set;

		q->index = cfg.drive[i];
		q->fd = fds[q->index];
		q->cpu = cpus[i % ncpus];
		CPU_ZERO(&set);
		CPU_SET(q->cpu, &set);
		pthread_attr_init(&attr);
		err = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
		if (!err)
			err = pthread_create(&q->thread, &attr, queue_main, q);
		pthread_attr_destroy(&attr);
		if (err)
			sys_fail(err, "pthread_create (queue %u pinned to cpu %d)",
				 q->index, q->cpu);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_barrier_wait(&start_barrier);
	for (i = 0; i < cfg.ndrive; i++)
		pthread_join(queues[i].thread, NULL);

	printf("{\"dev\":");
	json_string(cfg.dev);
	printf(",\"queues\":[");
	for (i = 0; i < cfg.ndrive; i++) {
		struct queue *q = &queues[i];
		uint64_t b = q->tx_frames * cfg.size;

		printf("%s{\"queue\":%u,\"tx_frames\":%" PRIu64
		       ",\"tx_bytes\":%" PRIu64 ",\"tx_errors\":%" PRIu64
		       ",\"rx_frames\":%" PRIu64 ",\"rx_bytes\":%" PRIu64 "}",
		       i ? "," : "", q->index, q->tx_frames, b, q->tx_errors,
		       q->rx_frames, q->rx_bytes);
		tx += q->tx_frames;
		txb += b;
		txerr += q->tx_errors;
		rx += q->rx_frames;
		rxb += q->rx_bytes;
		if (q->start_ns < t_start)
			t_start = q->start_ns;
		if (q->end_ns > t_end)
			t_end = q->end_ns;
	}
	secs = t_end > t_start ? (t_end - t_start) / 1e9 : 0;
	printf("],\"tx_frames\":%" PRIu64 ",\"tx_bytes\":%" PRIu64
	       ",\"tx_errors\":%" PRIu64 ",\"rx_frames\":%" PRIu64
	       ",\"rx_bytes\":%" PRIu64
	       ",\"seconds\":%.6f,\"tx_pps\":%.1f,\"rx_pps\":%.1f}\n",
	       tx, txb, txerr, rx, rxb, secs, secs > 0 ? tx / secs : 0.0,
	       secs > 0 ? rx / secs : 0.0);
	fflush(stdout);

	for (i = 0; i < cfg.ndrive; i++) {
		struct queue *q = &queues[i];

		if (q->fatal_errno) {
			fprintf(stderr, "tf-load: %s %s queue %u: %s\n",
				q->fatal_what, cfg.dev, q->index,
				strerror(q->fatal_errno));
			rc = 1;
		} else if (q->tx_dead) {
			fprintf(stderr, "tf-load: write %s queue %u: %s (every write failed for 1 s)\n",
				cfg.dev, q->index, strerror(q->tx_errno));
			rc = 1;
		} else if (q->tx_errors) {
			fprintf(stderr, "tf-load: write %s queue %u: %" PRIu64
				" of %" PRIu64 " writes failed, first: %s\n",
				cfg.dev, q->index, q->tx_errors,
				q->tx_errors + q->tx_frames,
				strerror(q->tx_errno));
		}
	}

	if (cfg.hold_ms && !atomic_load(&stop)) {
		struct timespec ts = {
			.tv_sec = cfg.hold_ms / 1000,
			.tv_nsec = cfg.hold_ms % 1000 * 1000000,
		};

		/* a signal cuts the hold short: nanosleep returns EINTR */
		nanosleep(&ts, NULL);
	}
	return rc;
}
