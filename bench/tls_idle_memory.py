#!/usr/bin/env python3
"""Memory of a bus holding idle TLS connections, and whether it is given back.

Starts `govesb serve` (TLS, a temporary data directory, loopback, a free port), then runs
BURSTS bursts: open N connections that complete the TCP handshake and send nothing (or, with
--handshake, finish the TLS handshake and then idle), read the bus's VmRSS while they are held,
close them all, wait, read VmRSS again. Prints one line per step and the cost per connection.
Bounded: at most 15,000 connections at once, loopback only; stops the bus when done.

    python3 bench/tls_idle_memory.py --govesb build/apps/govesb/govesb [-n 15000] [--handshake]
"""
import argparse
import os
import re
import resource
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_connections(port, n, handshake, ca_file):
    ctx = None
    if handshake:
        ctx = ssl.create_default_context(cafile=ca_file)
    conns = []
    for i in range(n):
        # Spread over source addresses so that ephemeral ports never run short.
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((f"127.0.{1 + i // 10000}.{1 + (i // 100) % 100}", 0))
        s.connect(("127.0.0.1", port))
        if ctx is not None:
            s = ctx.wrap_socket(s, server_hostname="localhost")
        conns.append(s)
    return conns


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--govesb", required=True)
    ap.add_argument("-n", type=int, default=15000)
    ap.add_argument("--bursts", type=int, default=3)
    ap.add_argument("--handshake", action="store_true", help="finish the TLS handshake, then idle")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds to wait before reading RSS")
    ap.add_argument("--baseline", action="store_true",
                    help="a bus from before admission control (no --max-connections flags)")
    ap.add_argument("extra", nargs="*", help="extra arguments for govesb serve (after --)")
    args = ap.parse_args()
    n = min(args.n, 15000)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if n + 100 > hard:
        sys.exit(f"need {n + 100} file descriptors, the limit is {hard}")

    data = tempfile.mkdtemp(prefix="govesb-tls-mem-")
    cmd = [args.govesb, "serve", "--data-dir", data, "--listen", "127.0.0.1:0", "--threads", "2",
           "--log-level", "warn"]
    if not args.baseline:
        cmd += ["--max-connections", "100000", "--max-connections-per-address", "0",
                "--tls-handshake-timeout-ms", "120000"]
    cmd += args.extra
    bus = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        port, ca = None, os.path.join(data, "tls", "ca.pem")
        deadline = time.time() + 30
        while port is None and time.time() < deadline:
            line = bus.stdout.readline()
            if not line:
                sys.exit("govesb serve exited")
            m = re.search(r"listening on https://127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
        time.sleep(1)
        base = vm_rss_kib(bus.pid)
        mode = "TLS handshake done, then idle" if args.handshake else "TCP only, silent"
        print(f"{mode}; {n} connections per burst")
        print(f"start: VmRSS {base / 1024:.1f} MiB")
        for burst in range(1, args.bursts + 1):
            conns = open_connections(port, n, args.handshake, ca)
            time.sleep(args.settle)
            held = vm_rss_kib(bus.pid)
            for s in conns:
                s.close()
            time.sleep(args.settle)
            after = vm_rss_kib(bus.pid)
            print(f"burst {burst}: held {held / 1024:.1f} MiB "
                  f"({(held - base) * 1024 / n / 1024:.1f} KiB/connection), "
                  f"after close {after / 1024:.1f} MiB")
    finally:
        bus.send_signal(signal.SIGTERM)
        try:
            bus.wait(timeout=30)
        except subprocess.TimeoutExpired:
            bus.kill()
        subprocess.run(["rm", "-rf", data])


if __name__ == "__main__":
    main()
