#!/usr/bin/env bash
# Where a bus process's CPU goes, from `perf` samples: record PID for SECONDS, then classify
# every sample by its thread, shared object and function into the split docs/performance.md
# reports. Prints one JSON object: {samples, shares: {category: fraction}, top: [...]}.
#
#   bench/perf_split.sh PID SECONDS [OUT_DIR]
#
# Categories (the first that matches wins):
#   evidence  the evidence writer, its maintenance thread, and evidence/store code anywhere
#   crypto    libsecp256k1, libcrypto (SHA-256, the NIST curves), the signers and verifiers
#   kernel    the kernel on the I/O threads: sockets, epoll, scheduling (HTTP's system calls)
#   http      Beast's parser and serializer, Asio, the bus's HTTP server and upstream client
#   json      JSON scanning and writing, envelopes, base64
#   alloc     malloc/free/new/delete and memcpy/memmove/memset (allocation and copies)
#   rest      everything else (the engine's stages, registry look-ups, coroutine frames, ...)
set -euo pipefail
pid=$1 seconds=$2 out=${3:-$(mktemp -d)}
mkdir -p "$out"
perf record -q -F 3997 -p "$pid" -o "$out/perf.data" -- sleep "$seconds" >/dev/null 2>&1
perf script -i "$out/perf.data" -F comm,ip,sym,dso 2>/dev/null | awk '
  function cat(comm, dso, sym) {
    if (comm ~ /govesb-writer|govesb-evidenc/) return "evidence"
    if (sym ~ /govesb::evidence::|govesb::store::|sqlite3/) return "evidence"
    if (dso ~ /libsecp256k1/ || dso ~ /libcrypto/) return "crypto"
    if (sym ~ /govesb::crypto::|secp256k1|sha256|SHA256/) return "crypto"
    if (dso ~ /kernel/) return "kernel"
    if (sym ~ /boost::beast|boost::asio|govesb::http::|epoll|basic_parser/) return "http"
    if (sym ~ /boost::json|govesb::wire::|[Bb]ase64|Json/) return "json"
    if (sym ~ /malloc|free|cfree|operator new|operator delete|memcpy|memmove|memset|realloc|tcache/) return "alloc"
    return "rest"
  }
  {
    # perf script -F comm,ip,sym,dso: "COMM  IP SYM (DSO)" (sym may hold spaces)
    line = $0
    comm = $1
    dso = ""
    if (match(line, /\([^()]*\)[ \t]*$/)) { dso = substr(line, RSTART + 1, RLENGTH - 2) }
    sym = line
    sub(/^[ \t]*[^ \t]+[ \t]+[0-9a-f]+[ \t]+/, "", sym)
    sub(/[ \t]*\([^()]*\)[ \t]*$/, "", sym)
    c = cat(comm, dso, sym)
    n[c]++; total++
    key = c " | " sym
    top[key]++
  }
  END {
    printf "{\"samples\":%d,\"shares\":{", total
    sep = ""
    for (c in n) { printf "%s\"%s\":%.4f", sep, c, n[c] / total; sep = "," }
    printf "},\"top\":["
    # the 25 heaviest functions
    k = 0
    for (key in top) { keys[k++] = key }
    for (i = 0; i < k; i++) for (j = i + 1; j < k; j++) if (top[keys[j]] > top[keys[i]]) { t = keys[i]; keys[i] = keys[j]; keys[j] = t }
    sep = ""
    for (i = 0; i < k && i < 25; i++) {
      s = keys[i]; gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s)
      printf "%s{\"fn\":\"%s\",\"share\":%.4f}", sep, s, top[keys[i]] / total; sep = ","
    }
    printf "]}\n"
  }'
