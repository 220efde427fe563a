#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Hostile and timed HTTP clients for tests/integration/test_export_abuse.sh,
# written against the sockets API only (nothing shared with tapflow).
#
#   attack  --port P --slow N --seconds S
#       N slowloris connections, each sending one header byte every 0.5 s
#       and reconnecting at once when the server cuts it; plus, every 2 s, a
#       burst of 200 parallel complete GETs, garbage, a 64 KB header and
#       half-closed sockets. Prints "slow=N cut=C reconnects=R bursts=B ...".
#   probe   --port P --seconds S --pid PID
#       a scraper: GET /metrics on a fresh connection every 0.25 s, timed
#       from connect to the last byte; samples PID's VmRSS. Prints
#       "scrapes=N fails=F max_ms=M p50_ms=... rss_start_kb=K rss_max_kb=K"
#       and exits 1 if any scrape failed.
#   trickle --port P --seconds S [--idle]
#       one connection sending a header byte every 0.5 s (with --idle:
#       nothing, e.g. a TLS handshake never begun); prints "cut=T"
#       (seconds until the server closed it) or "open".
import argparse
import selectors
import socket
import sys
import threading
import time

HEAD = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 4000


def connect(port, block=False):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(block)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    return s


def get(port, timeout=5.0, extra=b""):
    """One complete GET /metrics; returns (status, body bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + extra + b"\r\n")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    finally:
        s.close()
    line = data.split(b"\r\n", 1)[0].split()
    return (int(line[1]) if len(line) > 1 and line[1].isdigit() else 0), data


def attack(a):
    stop = time.monotonic() + a.seconds
    sel = selectors.DefaultSelector()
    conns = {}      # socket -> bytes of HEAD sent
    stats = {"cut": 0, "reconnects": 0, "bursts": 0, "burst_ok": 0, "burst_fail": 0}

    def open_one():
        s = connect(a.port)
        conns[s] = 0
        sel.register(s, selectors.EVENT_READ)

    for _ in range(a.slow):
        open_one()

    def others():
        while time.monotonic() < stop - 1:
            stats["bursts"] += 1
            res = []
            ths = [threading.Thread(target=lambda: res.append(safe_get(a.port))) for _ in range(200)]
            for t in ths:
                t.start()
            for t in ths:
                t.join()
            stats["burst_ok"] += sum(1 for r in res if r == 200)
            stats["burst_fail"] += sum(1 for r in res if r != 200)
            for junk in (b"\x00\x01\xff\xfe\r\n\r\n", b"GET\r\n\r\n", b"\r\n" * 50):
                try:
                    s = socket.create_connection(("127.0.0.1", a.port), timeout=2)
                    s.sendall(junk)
                    s.recv(100)
                    s.close()
                except OSError:
                    pass
            try:
                get(a.port, 3, b"X-Big: " + b"a" * 65536 + b"\r\n")
            except OSError:
                pass
            for _ in range(20):     # half-closed: a partial head, then FIN
                try:
                    s = socket.create_connection(("127.0.0.1", a.port), timeout=2)
                    s.sendall(b"GET /metr")
                    s.shutdown(socket.SHUT_WR)
                    s.close()
                except OSError:
                    pass
            time.sleep(2)

    th = threading.Thread(target=others)
    th.start()
    next_byte = time.monotonic()
    while time.monotonic() < stop:
        timeout = max(0.0, next_byte - time.monotonic())
        for key, _ in sel.select(timeout):
            s = key.fileobj
            try:
                b = s.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                b = b""
            if not b:   # cut by the server: come back at once
                sel.unregister(s)
                del conns[s]
                s.close()
                stats["cut"] += 1
                stats["reconnects"] += 1
                open_one()
        if time.monotonic() >= next_byte:
            next_byte += 0.5
            for s in list(conns):
                i = conns[s]
                try:
                    s.send(HEAD[i % len(HEAD):i % len(HEAD) + 1])
                    conns[s] = i + 1
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    pass
    th.join()
    for s in conns:
        s.close()
    print("slow=%d cut=%d reconnects=%d bursts=%d burst_ok=%d burst_fail=%d" % (
        a.slow, stats["cut"], stats["reconnects"], stats["bursts"], stats["burst_ok"], stats["burst_fail"]))


def safe_get(port):
    try:
        return get(port, 10)[0]
    except OSError:
        return 0


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def probe(a):
    stop = time.monotonic() + a.seconds
    lat, fails, why = [], 0, ""
    rss0 = rss_kb(a.pid)
    rssmax = rss0
    while time.monotonic() < stop:
        t0 = time.monotonic()
        try:
            st, body = get(a.port, 5)
            if st != 200 or b"tapflow_scrape_duration_seconds" not in body:
                fails += 1
                why = "status %d" % st
        except OSError as e:
            fails += 1
            why = str(e)
        lat.append(time.monotonic() - t0)
        rssmax = max(rssmax, rss_kb(a.pid))
        time.sleep(0.25)
    lat.sort()
    print("scrapes=%d fails=%d max_ms=%d p50_ms=%d rss_start_kb=%d rss_max_kb=%d%s" % (
        len(lat), fails, lat[-1] * 1000 if lat else 0, lat[len(lat) // 2] * 1000 if lat else 0,
        rss0, rssmax, (" last_failure=" + why.replace(" ", "_")) if why else ""))
    return 1 if fails else 0


def trickle(a):
    s = connect(a.port, block=True)
    s.settimeout(0.5)
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < a.seconds:
        try:
            if not a.idle:
                s.send(HEAD[i:i + 1])
                i += 1
            if not s.recv(4096):
                print("cut=%.1f" % (time.monotonic() - t0))
                return 0
        except socket.timeout:
            continue
        except OSError:
            print("cut=%.1f" % (time.monotonic() - t0))
            return 0
    print("open")
    return 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["attack", "probe", "trickle"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--slow", type=int, default=300)
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--pid", type=int, default=0)
    p.add_argument("--idle", action="store_true")
    a = p.parse_args()
    return {"attack": attack, "probe": probe, "trickle": trickle}[a.mode](a) or 0


if __name__ == "__main__":
    sys.exit(main())
