#!/usr/bin/env python3
"""How long one durable write takes on the disk under DIR, the floor of every answer that waits
for its evidence (bench/run, the section on latency under load).

    bench/fsync_probe.py DIR [COUNT]

Writes COUNT (default 5000) appends of 1.5 KB (about one exchange's four evidence records) into
a file preallocated with zeros, each followed by fdatasync, as the evidence writer does with its
segment files, and prints one JSON object: the latency of each write + fdatasync (p50, p99,
p99.9, max, in µs), how many took over 1 and 3 ms, the syncs per second, and the CPU the process
spent per sync (user + system; the disk's interrupts and the hypervisor's work are not in it).
The file is removed afterwards.
"""
import json
import os
import resource
import sys
import tempfile
import time


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    directory = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) == 3 else 5000
    if count < 100:
        print("fsync_probe: COUNT must be at least 100", file=sys.stderr)
        return 2
    record = b"x" * 1536
    size = count * len(record)
    fd, path = tempfile.mkstemp(prefix="fsync-probe-", dir=directory)
    try:
        # Zeros ahead, synced: the timed syncs then write data only (as the segment files do).
        zeros = b"\0" * (1 << 20)
        written = 0
        while written < size:
            written += os.write(fd, zeros)
        os.fsync(fd)
        latencies = []
        before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        for i in range(count):
            t0 = time.perf_counter_ns()
            os.pwrite(fd, record, i * len(record))
            os.fdatasync(fd)
            latencies.append((time.perf_counter_ns() - t0) / 1000.0)
        elapsed = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        os.close(fd)
        os.unlink(path)
    latencies.sort()

    def at(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1)

    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({
        "count": count,
        "syncs_per_s": round(count / elapsed),
        "p50_us": at(0.50),
        "p99_us": at(0.99),
        "p999_us": at(0.999),
        "max_us": round(latencies[-1], 1),
        "over_1ms": sum(1 for x in latencies if x > 1000),
        "over_3ms": sum(1 for x in latencies if x > 3000),
        "cpu_us_per_sync": round(cpu * 1e6 / count, 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
