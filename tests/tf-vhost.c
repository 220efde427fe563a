// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tf-vhost: a VM backend that moves packets the way production qemu does
 * with `-netdev tap,vhost=on`: it never reads or writes the tap fd itself but
 * hands each queue fd to the kernel's vhost-net, which moves packets between
 * the tap's rings and the "guest's" virtqueues in its own kernel thread.
 *
 *   host stack --> tun_net_xmit --> ptr_ring --(vhost: batches of up to 64)
 *        --> tun_recvmsg(ptr) --> RX virtqueue (0) --> used ring --> here
 *   here --> TX virtqueue (1) --(vhost: default sndbuf: xdp_buffs in batches
 *        through tun_sendmsg(TUN_MSG_PTR) -> tun_xdp_one; frames too big for
 *        a page, or any frame with a finite sndbuf: tun_get_user)--> host
 *
 * Per queue, as qemu's vhost_net/vhost code does it: open /dev/vhost-net,
 * VHOST_SET_OWNER, VHOST_GET_FEATURES / VHOST_SET_FEATURES (VERSION_1 only:
 * the 12-byte header is then the tap's, vhost adds none), VHOST_SET_MEM_TABLE
 * with one region mapping this process's arena 1:1 (guest physical address
 * = our virtual address), then for each virtqueue VHOST_SET_VRING_NUM, _BASE,
 * _ADDR, _KICK and _CALL (eventfds), and last VHOST_NET_SET_BACKEND with a tap
 * queue fd opened IFF_VNET_HDR with TUNSETVNETHDRSZ 12. One vhost device per
 * tap queue, as qemu opens one per queue pair.
 *
 * The numbers it prints are what the "guest" really got and gave: used RX
 * entries (each a frame vhost delivered) and TX descriptors vhost consumed.
 * Direction words are the backend's, as in tf-load: "tx" is what this
 * program transmits (the tap counts it rx), "rx" what it receives (tx on the
 * tap). After --detach, "read" counts what read() took from the tap fd.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "tf_backend.h"
#define TF_TOOL "tf-vhost"
#include "tf_tool.h"

#define MAX_QUEUES	16
#define MAX_SIZES	16
#define VNET_HLEN	12	/* virtio_net_hdr_mrg_rxbuf: VERSION_1's header */
#define MIN_SIZE	60
#define MAX_SIZE	65000
#define IP_HLEN		20
#define UDP_HLEN	8
#define MSEC		1000000ULL
#define VQ_RX		0	/* VHOST_NET_VQ_RX */
#define VQ_TX		1	/* VHOST_NET_VQ_TX */

struct vq {
	unsigned int num;
	struct vring ring;
	uint16_t avail_idx;	/* next avail->idx we publish */
	uint16_t used_seen;	/* used entries taken so far */
	unsigned int inflight;	/* descriptors the device holds */
	uint16_t *free;		/* free descriptor stack */
	unsigned int nfree;
	uint8_t *bufs;
	size_t buf_size;
	int kick, call;
};

struct queue {
	unsigned int index;
	int tapfd, vfd;
	bool attached;
	struct vq rx, tx;
	unsigned int rx_posted;	/* RX buffers given so far (--rx-buffers caps it) */
	uint64_t tx_frames, tx_bytes, tx_next;
	uint64_t rx_frames, rx_bytes;
	uint64_t read_frames, read_bytes;
};

static struct {
	const char *dev;
	unsigned int nqueues;
	unsigned int ring;
	size_t rx_buf;
	uint64_t write;		/* frames per queue */
	unsigned int tx_burst;	/* 0: keep the TX ring full; else bursts of this many */
	unsigned int sizes[MAX_SIZES], nsizes;
	uint64_t read;		/* frames in all, vhost and read() together */
	uint64_t idle_ns;
	uint64_t rx_delay_ns;
	uint64_t rx_buffers;	/* per queue, if rx_limited; else keep the RX ring full */
	bool rx_limited;
	bool detach;
	int sndbuf;		/* 0: the tap's default (INT_MAX) */
	uint64_t send;		/* UDP datagrams the host stack sends first */
	unsigned int send_flows;
	uint64_t send_first;	/* datagrams sent before waiting for vhost to take them */
	struct in_addr guest_ip, host_ip;
	uint8_t src_mac[6], dst_mac[6];
	bool src_mac_set;
	uint64_t hold_ms;
} cfg = {
	.nqueues = 1,
	.ring = 256,
	.rx_buf = 2048,
	.sizes = { 64 },
	.nsizes = 1,
	.send_flows = 1,
	.dst_mac = { 0x02, 0, 0, 0, 0, 0x01 },
};

static struct queue queues[MAX_QUEUES];
static uint8_t *arena;
static size_t arena_size, arena_used;

static const char usage[] =
"Usage: tf-vhost --dev TAP [options]\n"
"\n"
"Attaches --queues fds to the existing tap TAP (IFF_VNET_HDR, 12-byte header)\n"
"and gives each one to its own /dev/vhost-net device, as qemu does with\n"
"vhost=on; then transmits and/or receives through the virtqueues.\n"
"\n"
"  -d, --dev TAP          tap device, must exist\n"
"  -q, --queues Q         queues, 1..16 (default 1): fd i is queue i if\n"
"                         nothing else is attached\n"
"      --ring N           descriptors per virtqueue, power of 2 (default 256)\n"
"      --sndbuf BYTES     TUNSETSNDBUF on each fd: a finite sndbuf makes vhost\n"
"                         send every frame singly (tun_get_user); default the\n"
"                         tap's INT_MAX (batches through tun_sendmsg)\n"
"Transmit (guest -> host):\n"
"  -w, --write M          M Ethernet/IPv4/UDP frames per queue\n"
"  -s, --size LIST        frame lengths without FCS, cycled, e.g. 64,9000\n"
"                         (60..65000, default 64)\n"
"      --src-mac MAC      default 02:00:00:00:01:QQ, QQ = queue number\n"
"      --dst-mac MAC      default 02:00:00:00:00:01\n"
"      --tx-burst B       offer B frames at once (1, 2, 4 .. 64), the next B only\n"
"                         once vhost has used all of them: each burst is then\n"
"                         one batch, one tun_sendmsg (default: keep the ring\n"
"                         full, so batches are as vhost happens to find them)\n"
"Receive (host -> guest):\n"
"  -r, --read K           stop receiving after K frames over all queues\n"
"  -i, --idle-ms M        stop receiving once nothing came for M ms\n"
"      --rx-buf BYTES     RX buffer size, header included (default 2048)\n"
"      --rx-delay-ms D    post the RX buffers only D ms after the start, or\n"
"                         after the middle datagram of --send (so the median\n"
"                         packet waits D ms): vhost holds what comes meanwhile\n"
"      --rx-buffers N     give vhost N RX buffers per queue in all, 0 and up\n"
"                         (default: keep its ring full)\n"
"      --detach           once vhost has filled those N buffers (or went idle),\n"
"                         detach it (VHOST_NET_SET_BACKEND -1: it puts the\n"
"                         batch it holds back into the tap's ring) and read()\n"
"                         the rest from the tap fds\n"
"      --send K           first send K UDP datagrams (18-byte payload, 60-byte\n"
"                         frames) from the host stack to --guest-ip\n"
"      --send-flows F     ...cycling over F destination ports from 20000\n"
"      --send-first N     send N, wait until vhost has taken them out of the\n"
"                         rings (into its batch), then send the rest\n"
"      --guest-ip IP      default 198.18.0.2\n"
"      --host-ip IP       source of --send, default 198.18.0.1 (port 9)\n"
"Other:\n"
"      --hold-ms M        keep everything attached M ms after printing\n"
"  -h, --help\n"
"\n"
"Output, one JSON object (bytes exclude the 12-byte header):\n"
"  {\"dev\":S,\"queues\":[{\"queue\":N,\"tx_frames\":N,\"tx_bytes\":N,\"rx_frames\":N,\n"
"   \"rx_bytes\":N,\"read_frames\":N,\"read_bytes\":N},...],\"tx_frames\":N,...,\n"
"   \"sent\":N,\"send_seconds\":F,\"seconds\":F}\n"
"Exit: 0 done, 1 system error, 2 bad options, 3 no /dev/vhost-net.\n";

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { ns / NSEC, ns % NSEC };

	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

static void parse_sizes(const char *s)
{
	char buf[256], *tok, *save;

	if (strlen(s) >= sizeof(buf))
		bad_option("--size: '%s' is too long", s);
	strcpy(buf, s);
	cfg.nsizes = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (cfg.nsizes == MAX_SIZES)
			bad_option("--size: at most %d lengths", MAX_SIZES);
		cfg.sizes[cfg.nsizes++] = parse_u64("--size", tok, MIN_SIZE, MAX_SIZE);
	}
	if (!cfg.nsizes)
		bad_option("--size: '%s' names no length", s);
}

enum {
	OPT_RING = 256, OPT_SNDBUF, OPT_SRC_MAC, OPT_DST_MAC, OPT_RX_BUF, OPT_RX_DELAY,
	OPT_RX_BUFFERS, OPT_DETACH, OPT_SEND, OPT_SEND_FLOWS, OPT_SEND_FIRST, OPT_GUEST_IP, OPT_HOST_IP,
	OPT_HOLD,
	OPT_TX_BURST,
};

static const struct option long_opts[] = {
	{ "dev",	required_argument, NULL, 'd' },
	{ "queues",	required_argument, NULL, 'q' },
	{ "ring",	required_argument, NULL, OPT_RING },
	{ "sndbuf",	required_argument, NULL, OPT_SNDBUF },
	{ "write",	required_argument, NULL, 'w' },
	{ "size",	required_argument, NULL, 's' },
	{ "src-mac",	required_argument, NULL, OPT_SRC_MAC },
	{ "dst-mac",	required_argument, NULL, OPT_DST_MAC },
	{ "read",	required_argument, NULL, 'r' },
	{ "idle-ms",	required_argument, NULL, 'i' },
	{ "rx-buf",	required_argument, NULL, OPT_RX_BUF },
	{ "rx-delay-ms", required_argument, NULL, OPT_RX_DELAY },
	{ "rx-buffers",	required_argument, NULL, OPT_RX_BUFFERS },
	{ "detach",	no_argument,	   NULL, OPT_DETACH },
	{ "send",	required_argument, NULL, OPT_SEND },
	{ "send-flows",	required_argument, NULL, OPT_SEND_FLOWS },
	{ "send-first",	required_argument, NULL, OPT_SEND_FIRST },
	{ "guest-ip",	required_argument, NULL, OPT_GUEST_IP },
	{ "host-ip",	required_argument, NULL, OPT_HOST_IP },
	{ "hold-ms",	required_argument, NULL, OPT_HOLD },
	{ "tx-burst",	required_argument, NULL, OPT_TX_BURST },
	{ "help",	no_argument,	   NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void parse_args(int argc, char **argv)
{
	int c;

	inet_pton(AF_INET, "198.18.0.2", &cfg.guest_ip);
	inet_pton(AF_INET, "198.18.0.1", &cfg.host_ip);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:q:w:s:r:i:h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (!*optarg || strlen(optarg) >= IFNAMSIZ)
				bad_option("--dev: '%s' is not a device name", optarg);
			cfg.dev = optarg;
			break;
		case 'q': cfg.nqueues = parse_u64("--queues", optarg, 1, MAX_QUEUES); break;
		case OPT_RING:
			cfg.ring = parse_u64("--ring", optarg, 2, 32768);
			if (cfg.ring & (cfg.ring - 1))
				bad_option("--ring: %u is not a power of 2", cfg.ring);
			break;
		case OPT_SNDBUF: cfg.sndbuf = parse_u64("--sndbuf", optarg, 4096, INT_MAX - 1); break;
		case 'w': cfg.write = parse_u64("--write", optarg, 1, UINT64_MAX); break;
		case 's': parse_sizes(optarg); break;
		case OPT_SRC_MAC: parse_mac("--src-mac", optarg, cfg.src_mac); cfg.src_mac_set = true; break;
		case OPT_DST_MAC: parse_mac("--dst-mac", optarg, cfg.dst_mac); break;
		case 'r': cfg.read = parse_u64("--read", optarg, 1, UINT64_MAX); break;
		case 'i': cfg.idle_ns = parse_u64("--idle-ms", optarg, 1, UINT32_MAX) * MSEC; break;
		case OPT_RX_BUF: cfg.rx_buf = parse_u64("--rx-buf", optarg, 128, 65536 + VNET_HLEN); break;
		case OPT_RX_DELAY: cfg.rx_delay_ns = parse_u64("--rx-delay-ms", optarg, 0, 600000) * MSEC; break;
		case OPT_RX_BUFFERS:
			cfg.rx_buffers = parse_u64("--rx-buffers", optarg, 0, UINT32_MAX);
			cfg.rx_limited = true;
			break;
		case OPT_DETACH: cfg.detach = true; break;
		case OPT_SEND: cfg.send = parse_u64("--send", optarg, 1, 10000000); break;
		case OPT_SEND_FLOWS: cfg.send_flows = parse_u64("--send-flows", optarg, 1, 45000); break;
		case OPT_SEND_FIRST: cfg.send_first = parse_u64("--send-first", optarg, 1, 10000000); break;
		case OPT_GUEST_IP: parse_ip("--guest-ip", optarg, &cfg.guest_ip); break;
		case OPT_HOST_IP: parse_ip("--host-ip", optarg, &cfg.host_ip); break;
		case OPT_HOLD: cfg.hold_ms = parse_u64("--hold-ms", optarg, 0, UINT32_MAX); break;
		/* 64: VHOST_NET_BATCH, the most vhost sends in one tun_sendmsg */
		case OPT_TX_BURST:
			cfg.tx_burst = parse_u64("--tx-burst", optarg, 1, 64);
			if (cfg.tx_burst & (cfg.tx_burst - 1))
				bad_option("--tx-burst: %u is not a power of 2", cfg.tx_burst);
			break;
		case 'h': fputs(usage, stdout); exit(0);
		case ':': bad_option("%s needs a value", argv[optind - 1]);
		default:
			if (optopt && optopt < 256)
				bad_option("unknown option '-%c' (see --help)", optopt);
			bad_option("unknown option '%s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		bad_option("unexpected argument '%s' (see --help)", argv[optind]);
	if (!cfg.dev)
		bad_option("--dev is required (see --help)");
	if (cfg.send_first && cfg.send_first >= cfg.send)
		bad_option("--send-first needs a larger --send");
	if (!cfg.write && !cfg.read && !cfg.idle_ns)
		bad_option("nothing to do: give --write, --read or --idle-ms");
	if ((cfg.send || cfg.rx_delay_ns || cfg.rx_limited || cfg.detach) && !cfg.read && !cfg.idle_ns)
		bad_option("--send, --rx-delay-ms, --rx-buffers and --detach need --read or --idle-ms");
}

/* Carve an aligned piece out of the arena vhost's memory table covers. */
static void *arena_get(size_t len, size_t align)
{
	size_t off = (arena_used + align - 1) & ~(align - 1);

	if (off + len > arena_size)
		sys_fail(ENOMEM, "arena (%zu bytes) too small", arena_size);
	arena_used = off + len;
	return arena + off;
}

static size_t tx_slot(void)
{
	unsigned int max = 0;

	for (unsigned int i = 0; i < cfg.nsizes; i++)
		if (cfg.sizes[i] > max)
			max = cfg.sizes[i];
	return (VNET_HLEN + max + 63) & ~(size_t)63;
}

static void vq_setup(struct vq *v, size_t buf_size)
{
	v->num = cfg.ring;
	vring_init(&v->ring, v->num, arena_get(vring_size(v->num, 4096), 4096), 4096);
	v->buf_size = buf_size;
	v->bufs = arena_get(buf_size * v->num, 4096);
	v->free = calloc(v->num, sizeof(*v->free));
	if (!v->free)
		sys_fail(ENOMEM, "calloc");
	for (unsigned int i = 0; i < v->num; i++)
		v->free[v->nfree++] = v->num - 1 - i;
	v->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	v->call = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (v->kick < 0 || v->call < 0)
		sys_fail(errno, "eventfd");
}

static void vhost_ioctl(struct queue *q, unsigned long req, void *arg, const char *what)
{
	if (ioctl(q->vfd, req, arg) < 0)
		sys_fail(errno, "%s (queue %u)", what, q->index);
}

static void vring_to_vhost(struct queue *q, unsigned int index, struct vq *v)
{
	struct vhost_vring_state num = { .index = index, .num = v->num };
	struct vhost_vring_state base = { .index = index, .num = 0 };
	struct vhost_vring_addr addr = {
		.index = index,
		.desc_user_addr = (uintptr_t)v->ring.desc,
		.avail_user_addr = (uintptr_t)v->ring.avail,
		.used_user_addr = (uintptr_t)v->ring.used,
	};
	struct vhost_vring_file kick = { .index = index, .fd = v->kick };
	struct vhost_vring_file call = { .index = index, .fd = v->call };

	vhost_ioctl(q, VHOST_SET_VRING_NUM, &num, "VHOST_SET_VRING_NUM");
	vhost_ioctl(q, VHOST_SET_VRING_BASE, &base, "VHOST_SET_VRING_BASE");
	vhost_ioctl(q, VHOST_SET_VRING_ADDR, &addr, "VHOST_SET_VRING_ADDR");
	vhost_ioctl(q, VHOST_SET_VRING_KICK, &kick, "VHOST_SET_VRING_KICK");
	vhost_ioctl(q, VHOST_SET_VRING_CALL, &call, "VHOST_SET_VRING_CALL");
}

static void set_backend(struct queue *q, int fd)
{
	for (unsigned int i = VQ_RX; i <= VQ_TX; i++) {
		struct vhost_vring_file b = { .index = i, .fd = fd };

		vhost_ioctl(q, VHOST_NET_SET_BACKEND, &b, "VHOST_NET_SET_BACKEND");
	}
	q->attached = fd >= 0;
}

static void open_tap(struct queue *q)
{
	int len = VNET_HLEN, fd;

	fd = tf_backend_attach(cfg.dev, IFF_VNET_HDR | IFF_MULTI_QUEUE, true);
	if (fd == -EINVAL && cfg.nqueues == 1)
		fd = tf_backend_attach(cfg.dev, IFF_VNET_HDR, true);
	if (fd < 0)
		sys_fail(-fd, "attaching queue %u of %s (a tap made multi_queue?)", q->index, cfg.dev);
	if (ioctl(fd, TUNSETVNETHDRSZ, &len) < 0)
		sys_fail(errno, "TUNSETVNETHDRSZ %d on %s queue %u", len, cfg.dev, q->index);
	if (cfg.sndbuf && ioctl(fd, TUNSETSNDBUF, &cfg.sndbuf) < 0)
		sys_fail(errno, "TUNSETSNDBUF %d on %s queue %u", cfg.sndbuf, cfg.dev, q->index);
	q->tapfd = fd;
}

static void open_vhost(struct queue *q)
{
	uint64_t features, want = 1ULL << VIRTIO_F_VERSION_1;
	struct vhost_memory *mem;

	q->vfd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
	if (q->vfd < 0) {
		fprintf(stderr, "tf-vhost: open /dev/vhost-net: %s (is vhost_net loaded?)\n",
			strerror(errno));
		exit(3);
	}
	vhost_ioctl(q, VHOST_SET_OWNER, NULL, "VHOST_SET_OWNER");
	vhost_ioctl(q, VHOST_GET_FEATURES, &features, "VHOST_GET_FEATURES");
	if ((features & want) != want) {
		fprintf(stderr, "tf-vhost: vhost-net lacks VIRTIO_F_VERSION_1 (features 0x%" PRIx64 ")\n",
			features);
		exit(1);
	}
	vhost_ioctl(q, VHOST_SET_FEATURES, &want, "VHOST_SET_FEATURES");

	mem = calloc(1, sizeof(*mem) + sizeof(mem->regions[0]));
	if (!mem)
		sys_fail(ENOMEM, "calloc");
	mem->nregions = 1;
	mem->regions[0].guest_phys_addr = (uintptr_t)arena;
	mem->regions[0].userspace_addr = (uintptr_t)arena;
	mem->regions[0].memory_size = arena_size;
	vhost_ioctl(q, VHOST_SET_MEM_TABLE, mem, "VHOST_SET_MEM_TABLE");
	free(mem);

	vring_to_vhost(q, VQ_RX, &q->rx);
	vring_to_vhost(q, VQ_TX, &q->tx);
	set_backend(q, q->tapfd);
}

/* Publish descriptor head in the avail ring; the device sees it after kick. */
static void vq_offer(struct vq *v, uint16_t head)
{
	v->ring.avail->ring[v->avail_idx & (v->num - 1)] = head;
	v->avail_idx++;
	v->inflight++;
}

static void vq_kick(struct vq *v)
{
	uint64_t one = 1;

	/* descriptors and ring entries before the index the device reads */
	__atomic_store_n(&v->ring.avail->idx, v->avail_idx, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (write(v->kick, &one, sizeof(one)) != sizeof(one))
		sys_fail(errno, "write (kick eventfd)");
}

/* Next used entry, or false: its descriptor goes back on the free stack. */
static bool vq_used(struct vq *v, uint16_t *id, uint32_t *len)
{
	uint16_t idx = __atomic_load_n(&v->ring.used->idx, __ATOMIC_ACQUIRE);
	struct vring_used_elem *e;

	if (idx == v->used_seen)
		return false;
	e = &v->ring.used->ring[v->used_seen & (v->num - 1)];
	*id = e->id;
	*len = e->len;
	v->used_seen++;
	v->inflight--;
	v->free[v->nfree++] = *id;
	return true;
}

static void drain_call(struct vq *v)
{
	uint64_t n;

	while (read(v->call, &n, sizeof(n)) == sizeof(n))
		;
}

static void build_frame(uint8_t *buf, unsigned int size, unsigned int queue)
{
	static const uint8_t base[6] = { 0x02, 0, 0, 0, 0x01, 0 };
	uint8_t *eth = buf + VNET_HLEN, *ip = eth + ETH_HLEN, *udp = ip + IP_HLEN;

	memset(buf, 0, VNET_HLEN + ETH_HLEN + IP_HLEN + UDP_HLEN + 16);	/* header: no offloads */
	memcpy(eth, cfg.dst_mac, 6);
	memcpy(eth + 6, cfg.src_mac_set ? cfg.src_mac : base, 6);
	if (!cfg.src_mac_set)
		eth[11] = queue;
	put16(eth + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, size - ETH_HLEN);
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, &cfg.guest_ip, 4);
	memcpy(ip + 16, &cfg.host_ip, 4);
	put16(ip + 10, tf_ip_checksum(ip, IP_HLEN));
	put16(udp, 10000 + queue);
	put16(udp + 2, 9);
	put16(udp + 4, size - ETH_HLEN - IP_HLEN);
	memcpy(udp + UDP_HLEN, "tf-vhost", 8);
}

/*
 * Offer as many TX frames as there are free descriptors, or with --tx-burst
 * B frames once the device holds none; true if any. A burst is published
 * with one avail->idx store, so vhost finds all of it or nothing: with B at
 * most VHOST_NET_BATCH and a power of 2 (so that vhost's 256-packet weight,
 * after which it ends its turn and flushes, falls between bursts) it builds
 * the burst's xdp_buffs and sends them in one tun_sendmsg.
 */
static bool tx_fill(struct queue *q)
{
	struct vq *v = &q->tx;
	unsigned int burst = 0;
	bool any = false;

	if (cfg.tx_burst && v->inflight)
		return false;
	while (v->nfree && q->tx_next < cfg.write && (!cfg.tx_burst || burst++ < cfg.tx_burst)) {
		unsigned int size = cfg.sizes[q->tx_next % cfg.nsizes];
		uint16_t d = v->free[--v->nfree];
		uint8_t *buf = v->bufs + (size_t)d * v->buf_size;

		build_frame(buf, size, q->index);
		v->ring.desc[d].addr = (uintptr_t)buf;
		v->ring.desc[d].len = VNET_HLEN + size;
		v->ring.desc[d].flags = 0;
		vq_offer(v, d);
		q->tx_next++;
		any = true;
	}
	if (any)
		vq_kick(v);
	return any;
}

static void tx_reap(struct queue *q)
{
	uint16_t id;
	uint32_t len;

	while (vq_used(&q->tx, &id, &len)) {
		/* TX used entries carry no length: the frame is the descriptor's */
		q->tx_frames++;
		q->tx_bytes += q->tx.ring.desc[id].len - VNET_HLEN;
	}
}

static bool rx_fill(struct queue *q)
{
	struct vq *v = &q->rx;
	bool any = false;

	while (v->nfree && (!cfg.rx_limited || q->rx_posted < cfg.rx_buffers)) {
		uint16_t d = v->free[--v->nfree];

		v->ring.desc[d].addr = (uintptr_t)(v->bufs + (size_t)d * v->buf_size);
		v->ring.desc[d].len = v->buf_size;
		v->ring.desc[d].flags = VRING_DESC_F_WRITE;
		vq_offer(v, d);
		q->rx_posted++;
		any = true;
	}
	if (any)
		vq_kick(v);
	return any;
}

static unsigned int rx_reap(struct queue *q)
{
	unsigned int n = 0;
	uint16_t id;
	uint32_t len;

	while (vq_used(&q->rx, &id, &len)) {
		q->rx_frames++;
		q->rx_bytes += len > VNET_HLEN ? len - VNET_HLEN : 0;
		n++;
	}
	return n;
}

static uint64_t rx_total(void)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < cfg.nqueues; i++)
		n += queues[i].rx_frames + queues[i].read_frames;
	return n;
}

/*
 * Until no queue's ring holds anything (the tap fd polls readable while its
 * ring is not empty): vhost, woken by the first packet, has taken what was
 * there into its batch, although it has no buffer to put it in.
 */
static void wait_rings_taken(void)
{
	uint64_t end = now_ns() + 2 * NSEC;
	struct pollfd pfd[MAX_QUEUES];

	do {
		for (unsigned int i = 0; i < cfg.nqueues; i++)
			pfd[i] = (struct pollfd){ .fd = queues[i].tapfd, .events = POLLIN };
		if (poll(pfd, cfg.nqueues, 0) == 0)
			return;
		sleep_ns(MSEC);
	} while (now_ns() < end);
	fprintf(stderr, "tf-vhost: --send-first: vhost took nothing out of %s's rings in 2 s\n", cfg.dev);
	exit(1);
}

/*
 * --send datagrams from the host stack to the guest; returns how many, and
 * in *mid when the middle one was sent (what --rx-delay-ms counts from, so
 * the median packet waits that long whatever the sends cost).
 */
static uint64_t host_send(uint64_t *mid)
{
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr = cfg.host_ip, .sin_port = htons(9) };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_addr = cfg.guest_ip };
	char payload[18] = "tf-vhost";
	int one = 1, fd;
	uint64_t i;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		sys_fail(errno, "socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)))
		sys_fail(errno, "bind %s:9 (is the host side of %s set up?)", inet_ntoa(cfg.host_ip), cfg.dev);
	for (i = 0; i < cfg.send; i++) {
		if (cfg.send_first && i == cfg.send_first)
			wait_rings_taken();
		if (i == cfg.send / 2)
			*mid = now_ns();
		dst.sin_port = htons(20000 + i % cfg.send_flows);
		if (sendto(fd, payload, sizeof(payload), 0, (struct sockaddr *)&dst, sizeof(dst)) < 0)
			sys_fail(errno, "sendto %s (datagram %" PRIu64 ")", inet_ntoa(cfg.guest_ip), i);
	}
	close(fd);
	return i;
}

/*
 * The event loop: keep the TX virtqueues fed until every frame is used,
 * and the RX ones until --read frames came, or --idle-ms passed without
 * any, or (--rx-buffers) every buffer given was filled.
 */
static void run_vhost(uint64_t t0)
{
	struct pollfd pfd[2 * MAX_QUEUES];
	uint64_t last_rx = now_ns();
	bool rx_on = cfg.read || cfg.idle_ns, rx_armed = false;

	for (;;) {
		bool tx_busy = false, rx_busy = rx_on;
		unsigned int i, n = 0;
		uint64_t now = now_ns();

		if (rx_on && !rx_armed && now >= t0 + cfg.rx_delay_ns) {
			rx_armed = true;
			last_rx = now;
		}
		for (i = 0; i < cfg.nqueues; i++) {
			struct queue *q = &queues[i];

			tx_reap(q);
			if (cfg.write)
				tx_fill(q);
			if (q->tx_next < cfg.write || q->tx.inflight)
				tx_busy = true;
			if (rx_armed) {
				if (rx_reap(q))
					last_rx = now;
				rx_fill(q);
			}
		}
		if (rx_on && rx_armed) {
			bool filled = cfg.rx_limited;

			for (i = 0; i < cfg.nqueues; i++)
				if (queues[i].rx_posted < cfg.rx_buffers || queues[i].rx.inflight)
					filled = false;
			if ((cfg.read && rx_total() >= cfg.read) || filled ||
			    (cfg.idle_ns && now - last_rx >= cfg.idle_ns))
				rx_on = rx_busy = false;
		}
		if (!tx_busy && !rx_busy)
			return;
		for (i = 0; i < cfg.nqueues; i++) {
			pfd[n++] = (struct pollfd){ .fd = queues[i].tx.call, .events = POLLIN };
			pfd[n++] = (struct pollfd){ .fd = queues[i].rx.call, .events = POLLIN };
		}
		if (poll(pfd, n, rx_armed || !rx_on ? 10 : 1) < 0 && errno != EINTR)
			sys_fail(errno, "poll");
		for (i = 0; i < cfg.nqueues; i++) {
			drain_call(&queues[i].tx);
			drain_call(&queues[i].rx);
		}
	}
}

/* After --detach: what is left in the tap's rings, with read(). */
static void run_read(void)
{
	struct pollfd pfd[MAX_QUEUES];
	uint8_t *buf = malloc(65536 + VNET_HLEN);
	uint64_t last = now_ns();

	if (!buf)
		sys_fail(ENOMEM, "malloc");
	for (;;) {
		bool got = false;

		for (unsigned int i = 0; i < cfg.nqueues; i++) {
			struct queue *q = &queues[i];
			ssize_t n;

			while ((!cfg.read || rx_total() < cfg.read) &&
			       (n = read(q->tapfd, buf, 65536 + VNET_HLEN)) >= 0) {
				q->read_frames++;
				q->read_bytes += n > VNET_HLEN ? n - VNET_HLEN : 0;
				got = true;
			}
		}
		if (got)
			last = now_ns();
		if (cfg.read && rx_total() >= cfg.read)
			break;
		if (now_ns() - last >= (cfg.idle_ns ? cfg.idle_ns : 500 * MSEC))
			break;
		for (unsigned int i = 0; i < cfg.nqueues; i++)
			pfd[i] = (struct pollfd){ .fd = queues[i].tapfd, .events = POLLIN };
		if (poll(pfd, cfg.nqueues, 10) < 0 && errno != EINTR)
			sys_fail(errno, "poll");
	}
	free(buf);
}

#define SUM(field) ({ uint64_t s_ = 0; \
	for (unsigned int j_ = 0; j_ < cfg.nqueues; j_++) \
		s_ += queues[j_].field; \
	s_; })

int main(int argc, char **argv)
{
	uint64_t t0, t_mid, t_send = 0, sent = 0;
	unsigned int i;

	parse_args(argc, argv);
	if (!if_nametoindex(cfg.dev))
		sys_fail(errno, "if_nametoindex %s", cfg.dev);

	arena_size = cfg.nqueues * (2 * (vring_size(cfg.ring, 4096) + 4096) +
				    cfg.ring * (cfg.rx_buf + tx_slot()) + 2 * 4096);
	arena_size = (arena_size + 4095) & ~(size_t)4095;
	arena = mmap(NULL, arena_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (arena == MAP_FAILED)
		sys_fail(errno, "mmap %zu bytes", arena_size);

	for (i = 0; i < cfg.nqueues; i++) {
		struct queue *q = &queues[i];

		q->index = i;
		vq_setup(&q->rx, cfg.rx_buf);
		vq_setup(&q->tx, tx_slot());
		open_tap(q);
		open_vhost(q);
	}

	t0 = now_ns();
	t_mid = t0;
	if (cfg.send) {
		sent = host_send(&t_mid);
		t_send = now_ns() - t0;
	}
	run_vhost(t_mid);
	if (cfg.detach) {
		for (i = 0; i < cfg.nqueues; i++)
			set_backend(&queues[i], -1);
		run_read();
	}

	printf("{\"dev\":\"%s\",\"queues\":[", cfg.dev);
	for (i = 0; i < cfg.nqueues; i++) {
		struct queue *q = &queues[i];

		printf("%s{\"queue\":%u,\"tx_frames\":%" PRIu64 ",\"tx_bytes\":%" PRIu64
		       ",\"rx_frames\":%" PRIu64 ",\"rx_bytes\":%" PRIu64
		       ",\"read_frames\":%" PRIu64 ",\"read_bytes\":%" PRIu64 "}",
		       i ? "," : "", q->index, q->tx_frames, q->tx_bytes, q->rx_frames, q->rx_bytes,
		       q->read_frames, q->read_bytes);
	}
	printf("],\"tx_frames\":%" PRIu64 ",\"tx_bytes\":%" PRIu64 ",\"rx_frames\":%" PRIu64
	       ",\"rx_bytes\":%" PRIu64 ",\"read_frames\":%" PRIu64 ",\"read_bytes\":%" PRIu64
	       ",\"sent\":%" PRIu64 ",\"send_seconds\":%.6f,\"seconds\":%.3f}\n",
	       SUM(tx_frames), SUM(tx_bytes), SUM(rx_frames), SUM(rx_bytes), SUM(read_frames),
	       SUM(read_bytes), sent, t_send / 1e9, (now_ns() - t0) / 1e9);
	fflush(stdout);
	if (cfg.hold_ms)
		sleep_ns(cfg.hold_ms * MSEC);
	return 0;
}
