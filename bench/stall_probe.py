#!/usr/bin/env python3
"""Whether this machine itself stalls a busy core while the disk syncs: the floor under the tail
latency of every answer that waits for its evidence (bench/run, the section on latency under
load). No bus runs during the probe.

    bench/stall_probe.py [--only PHASE] [--also-at R1,R2,...] DIR RATE [SECONDS] [BUS_CPU OTHER_CPU]

Four phases of SECONDS (default 3) each. In every phase a watcher process spins on BUS_CPU
(default 0) reading the clock, and counts the gaps over 0.5 ms between two readings: time the
core was taken from it (by the kernel, an interrupt, or the hypervisor running something else
on that virtual CPU).
  quiet        only the watcher;
  cpu          and a spinner at nice 19 on OTHER_CPU (default 1): both cores busy, no disk;
  disk         no spinner; on OTHER_CPU, RATE appends (as below): the disk busy, one core not;
  cpu+disk     the spinner, and on OTHER_CPU too, RATE appends a second of 1.5 KB into a preallocated file
               under DIR, open loop, committed as the evidence writer commits them: whatever has
               arrived goes in one write + fdatasync, the next commit starts when the previous
               one is done. For each append: the time from its arrival to the end of the
               fdatasync that made it durable.
--also-at adds a cpu+disk phase at each of those rates (after the four): how the machine's
stalls grow with the rate of syncs. --only runs that one of the four phases alone (bench/run
checks with --only cpu+disk that the host is calm before each tail-latency run).
Prints one JSON object: {"rate", "seconds", "phases": [{"name", "stalls_over_1ms",
"stalled_ms", "max_stall_ms", "steal_pct", ...}]}; the disk phases add "rate", "commits_per_s" and
the appends' "durable_p50_ms", "durable_p99_ms", "durable_p999_ms", "durable_max_ms".
steal_pct: the share of the machine's CPU time the hypervisor reports as stolen in the phase
(/proc/stat, all CPUs). The file is removed afterwards.
"""
import json
import os
import sys
import tempfile
import time

GAP_NS = 500_000  # a gap the watcher counts
RECORD = b"x" * 1536  # about one exchange's four evidence records


def steal_and_total():
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
    return fields[7], sum(fields[:8])


def watch(cpu, seconds, out_fd):
    """Child: spin on `cpu` for `seconds`, write the gaps (ns, one per line) to out_fd."""
    os.sched_setaffinity(0, {cpu})
    gaps = []
    clock = time.perf_counter_ns
    end = clock() + int(seconds * 1e9)
    last = clock()
    while last < end:
        now = clock()
        if now - last > GAP_NS:
            gaps.append(now - last)
        last = now
    os.write(out_fd, ("\n".join(str(g) for g in gaps) + "\n").encode())
    os._exit(0)


def spin(cpu, seconds):
    """Child: busy on `cpu` at the lowest priority until killed, or `seconds` at most (so that
    it cannot outlive a probe that failed)."""
    os.sched_setaffinity(0, {cpu})
    os.nice(19)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    os._exit(0)


def durable_writes(cpu, directory, rate, seconds, out_fd):
    """Child: open-loop appends at `rate`, group-committed; writes latencies (ns) and commits."""
    os.sched_setaffinity(0, {cpu})
    count = int(rate * seconds)
    fd, path = tempfile.mkstemp(prefix="stall-probe-", dir=directory)
    try:
        zeros = b"\0" * (1 << 20)
        written = 0
        while written < count * len(RECORD):
            written += os.write(fd, zeros)
        os.fsync(fd)
        latencies = []
        commits = 0
        done = 0
        offset = 0
        start = time.perf_counter_ns()
        period_ns = 1e9 / rate
        while done < count:
            now = time.perf_counter_ns() - start
            due = min(count, int(now / period_ns) + 1)  # arrivals so far
            if due <= done:
                time.sleep(max(0.0, (done * period_ns - now) / 1e9))
                continue
            batch = due - done
            os.pwrite(fd, RECORD * batch, offset)
            os.fdatasync(fd)
            offset += len(RECORD) * batch
            commits += 1
            durable = time.perf_counter_ns() - start
            latencies.extend(int(durable - i * period_ns) for i in range(done, due))
            done = due
    finally:
        os.close(fd)
        os.unlink(path)
    lines = [f"commits {commits}"] + [str(v) for v in latencies]
    os.write(out_fd, ("\n".join(lines) + "\n").encode())
    os._exit(0)


def run_child(target, *args):
    """Forks `target(*args, write_end)`; returns (pid, read_end)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            target(*args, write_end)
        finally:
            os._exit(1)
    os.close(write_end)
    return pid, read_end


def read_all(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode().split()


def percentile(sorted_values, q):
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def phase(name, bus_cpu, other_cpu, seconds, directory, rate):
    spinner = None
    writer = None
    if name in ("cpu", "cpu+disk"):
        spinner = os.fork()
        if spinner == 0:
            try:
                spin(other_cpu, seconds + 10)
            finally:
                os._exit(1)
    if name in ("disk", "cpu+disk"):
        writer, writer_out = run_child(durable_writes, other_cpu, directory, rate, seconds + 0.5)
    steal0, total0 = steal_and_total()
    watcher, watcher_out = run_child(watch, bus_cpu, seconds)
    gaps = [int(v) for v in read_all(watcher_out)]
    os.waitpid(watcher, 0)
    steal1, total1 = steal_and_total()
    result = {"name": name}
    if writer is not None:
        values = read_all(writer_out)
        os.waitpid(writer, 0)
        commits = int(values[1])
        latencies = sorted(int(v) for v in values[2:])
        ms = lambda ns: round(ns / 1e6, 3)
        result.update({
            "rate": rate,
            "commits_per_s": round(commits / (seconds + 0.5)),
            "durable_p50_ms": ms(percentile(latencies, 0.5)),
            "durable_p99_ms": ms(percentile(latencies, 0.99)),
            "durable_p999_ms": ms(percentile(latencies, 0.999)),
            "durable_max_ms": ms(latencies[-1]),
        })
    if spinner is not None:
        os.kill(spinner, 9)
        os.waitpid(spinner, 0)
    result.update({
        "stalls_over_1ms": sum(1 for g in gaps if g > 1_000_000),
        "stalled_ms": round(sum(gaps) / 1e6, 1),
        "max_stall_ms": round(max(gaps, default=0) / 1e6, 2),
        "steal_pct": round(100.0 * (steal1 - steal0) / max(1, total1 - total0), 1),
    })
    return result


def main() -> int:
    args = sys.argv[1:]
    also_at = []
    names = ("quiet", "cpu", "disk", "cpu+disk")
    if len(args) >= 2 and args[0] == "--only":
        if args[1] not in names:
            print(f"stall_probe: --only takes one of {', '.join(names)}", file=sys.stderr)
            return 2
        names = (args[1],)
        args = args[2:]
    if len(args) >= 2 and args[0] == "--also-at":
        try:
            also_at = [float(r) for r in args[1].split(",")]
        except ValueError:
            also_at = [0.0]
        args = args[2:]
    if len(args) not in (2, 3, 5):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    directory = args[0]
    rate = float(args[1])
    seconds = float(args[2]) if len(args) >= 3 else 3.0
    bus_cpu, other_cpu = (int(args[3]), int(args[4])) if len(args) == 5 else (0, 1)
    usable = os.sched_getaffinity(0)
    if bus_cpu not in usable or other_cpu not in usable:
        print(f"stall_probe: CPUs {bus_cpu} and {other_cpu} must both be usable here "
              f"(usable: {sorted(usable)})", file=sys.stderr)
        return 2
    if min([rate] + also_at) < 10 or seconds < 1:
        print("stall_probe: every rate must be at least 10 and SECONDS at least 1",
              file=sys.stderr)
        return 2
    phases = [phase(name, bus_cpu, other_cpu, seconds, directory, rate) for name in names]
    phases += [phase("cpu+disk", bus_cpu, other_cpu, seconds, directory, r) for r in also_at]
    print(json.dumps({"rate": rate, "seconds": seconds, "phases": phases}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
