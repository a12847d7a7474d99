#!/usr/bin/env bash
# Where a bus process's CPU goes, from `perf` samples: record PID for SECONDS, then classify
# every sample by its thread, shared object and function into the split docs/performance.md
# reports. Prints one JSON object:
#   {samples, shares: {category: fraction}, top: [{category, fn, share}]}
# (top: the 25 heaviest functions; fn is "category | symbol").
#
#   bench/perf_split.sh PID SECONDS [OUT_DIR]     record, then report
#   bench/perf_split.sh record PID SECONDS OUT_DIR record only (OUT_DIR/perf.data); SIGINT
#                                                  ends it sooner
#   bench/perf_split.sh report OUT_DIR             report a recording made earlier
#   bench/perf_split.sh classify                   report `perf script -F comm,ip,sym,dso`
#                                                  text read from standard input
#
# bench/run records during a loaded run and reports once the run is over, so that turning the
# samples into symbols (seconds of CPU) does not take CPU from the load generator meanwhile.
#
# Categories (the first that matches wins):
#   evidence  the evidence writer, its maintenance thread, and evidence/store code and SQLite
#             anywhere
#   crypto    libsecp256k1, libcrypto (SHA-256, the NIST curves), the signers and verifiers
#   loopback  the kernel on the I/O threads, in the network stack's receive path (call chains:
#             the recording is made with -g): the peers' side of a loopback send, their TCP
#             receive and wake-up, run on the sender's time
#   kernel    the rest of the kernel on the I/O threads: sockets, epoll, scheduling
#   http      Beast's parser and serializer, Asio, the bus's HTTP server and upstream client
#   json      JSON scanning and writing, envelopes, base64
#   alloc     malloc/free/new/delete and memcpy/memmove/memset (allocation and copies)
#   rest      everything else (the engine's stages, registry look-ups, coroutine frames, ...)
set -euo pipefail

record() { # pid seconds out-dir (perf itself in this process: SIGINT ends the recording early)
  mkdir -p "$3"
  exec perf record -q -F 3997 -g -p "$1" -o "$3/perf.data" -- sleep "$2" >/dev/null 2>&1
}

report() { # out-dir
  perf script -i "$1/perf.data" -F comm,ip,sym,dso 2>/dev/null | classify
}

classify() { # perf script -F comm,ip,sym,dso text on standard input -> the JSON object
  awk '
    function cat(comm, dso, sym, peer) {
      if (comm ~ /govesb-writer|govesb-evidenc/) return "evidence"
      if (sym ~ /govesb::evidence::|govesb::store::|sqlite3/ || dso ~ /libsqlite3/) return "evidence"
      if (dso ~ /libsecp256k1/ || dso ~ /libcrypto/) return "crypto"
      if (sym ~ /govesb::crypto::|secp256k1|sha256|SHA256/) return "crypto"
      if (dso ~ /kernel/) return peer ? "loopback" : "kernel"
      if (sym ~ /boost::beast|boost::asio|govesb::http::|epoll|basic_parser/) return "http"
      if (sym ~ /boost::json|govesb::wire::|[Bb]ase64|Json/) return "json"
      if (sym ~ /malloc|free|cfree|operator new|operator delete|memcpy|memmove|memset|realloc|tcache/) return "alloc"
      return "rest"
    }
    # "IP SYM (DSO)" -> sets fsym and fdso (sym may hold spaces)
    function frame(text) {
      fdso = ""
      if (match(text, /\([^()]*\)[ \t]*$/)) { fdso = substr(text, RSTART + 1, RLENGTH - 2) }
      fsym = text
      sub(/^[ \t]*[0-9a-f]+[ \t]+/, "", fsym)
      sub(/[ \t]*\([^()]*\)[ \t]*$/, "", fsym)
      gsub(/\t/, " ", fsym)
    }
    function emit(comm, dso, sym, peer,   c, d) {
      c = cat(comm, dso, sym, peer)
      # a library without symbols (libsecp256k1): name the library
      if (sym == "[unknown]" && dso != "") { d = dso; sub(/.*\//, "", d); sym = "[unknown] in " d }
      n[c "\t" sym]++
    }
    function flush() {
      if (have) emit(comm, leaf_dso, leaf_sym, peer)
      have = 0; peer = 0
    }
    # perf script -F comm,ip,sym,dso prints, for a recording with call chains (-g), a line with
    # the thread name, then one tab-indented line per frame (the sampled function first) and an
    # empty line; without call chains, one line "COMM IP SYM (DSO)". A kernel sample whose chain
    # passes through the receive path of the network stack (__netif_receive_skb) is the peer
    # side of loopback: the bus sent on a loopback socket, and the kernel ran the receiver TCP
    # receive and woke the receiver (the load generator or the provider stub) on the bus own
    # time. Over a network that work is the other machine.
    /^\t/ {
      if (!have) { frame($0); leaf_sym = fsym; leaf_dso = fdso; have = 1 }
      else if ($0 ~ /__netif_receive_skb|process_backlog/) peer = 1
      next
    }
    /^[ \t]*$/ { flush(); next }
    {
      flush()
      line = $0
      sub(/^[ \t]+/, "", line)
      comm = line
      sub(/[ \t].*$/, "", comm)
      rest = substr(line, length(comm) + 1)
      if (rest ~ /[0-9a-f]+[ \t]+.*\([^()]*\)[ \t]*$/) { frame(rest); emit(comm, fdso, fsym, 0) }
    }
    END { flush(); for (k in n) print n[k] "\t" k }' |
    jq -R -s -c '
      [split("\n")[] | select(length > 0) | split("\t") | {n: (.[0] | tonumber), category: .[1], sym: .[2]}]
      | (map(.n) | add // 0) as $total
      | {samples: $total,
         shares: (if $total == 0 then {} else
           group_by(.category) | map({key: .[0].category, value: ((map(.n) | add) / $total * 10000 | round / 10000)}) | from_entries end),
         top: (sort_by(-.n) | .[:25] | map({category, fn: "\(.category) | \(.sym)", share: (.n / $total * 10000 | round / 10000)}))}'
}

case "${1:-}" in
  record) record "$2" "$3" "$4" ;;
  report) report "$2" ;;
  classify) classify ;;
  *)
    out=${3:-$(mktemp -d)}
    ("$0" record "$1" "$2" "$out")
    report "$out"
    ;;
esac
