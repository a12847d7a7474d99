// Rendering of LoadReport and Progress (declared in loadgen.h).
#include <cstdio>
#include <string>

#include "bench/json_out.h"
#include "bench/loadgen.h"

namespace govesb::bench {

namespace {

double Ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

struct Percentiles {
  double p50, p90, p99, p999, max, mean, min;
};

Percentiles LatencyMs(const Histogram& h) {
  return {Ms(h.ValueAtPercentile(50)),
          Ms(h.ValueAtPercentile(90)),
          Ms(h.ValueAtPercentile(99)),
          Ms(h.ValueAtPercentile(99.9)),
          Ms(h.max()),
          h.mean() / 1e6,
          Ms(h.min())};
}

std::string Printf(const char* format, auto... args) {
  char buffer[512];
  std::snprintf(buffer, sizeof(buffer), format, args...);
  return buffer;
}

}  // namespace

std::string ProgressLine(const Progress& p) {
  std::string line =
      Printf("%6.1fs %-7s %9.0f req/s  p99 %8.2f ms  ok %llu  errors %llu", p.elapsed_s,
             std::string(p.phase).c_str(), p.recent_rps, p.recent_p99_ms,
             static_cast<unsigned long long>(p.ok), static_cast<unsigned long long>(p.errors));
  line += Printf("  in flight %zu", p.in_flight);
  if (p.backlog > 0) line += Printf("  queued %zu", p.backlog);
  return line;
}

std::string LoadReportJson(const LoadReport& r) {
  JsonObjectWriter errors;
  JsonObjectWriter samples;
  for (size_t k = 0; k < kErrorKinds; ++k) {
    auto name = ErrorKindName(static_cast<ErrorKind>(k));
    errors.Integer(name, r.errors[k]);
    if (!r.first_error[k].empty()) samples.String(name, r.first_error[k]);
  }
  Percentiles l = LatencyMs(r.latency_ns);
  JsonObjectWriter latency;
  latency.Number("p50", l.p50)
      .Number("p90", l.p90)
      .Number("p99", l.p99)
      .Number("p999", l.p999)
      .Number("max", l.max)
      .Number("mean", l.mean)
      .Number("min", l.min);
  JsonObjectWriter out;
  out.String("mode", ModeName(r.mode))
      .Integer("connections", r.connections)
      .Number("duration_s", r.duration_s)
      .Number("rate_target", r.rate_target)
      .Integer("requests", r.requests)
      .Integer("ok", r.ok)
      .Raw("errors", errors.Finish())
      .Number("throughput_rps", r.throughput_rps, 1)
      .Raw("latency_ms", latency.Finish())
      .Integer("body_size", r.body_size)
      .String("curve", r.curve)
      .Number("warmup_s", r.warmup_s)
      .Number("elapsed_s", r.elapsed_s)
      .Number("ok_rps", r.ok_rps, 1)
      .String("loop", r.rate_target > 0 ? "open" : "closed")
      .Integer("warmup_requests", r.warmup_requests)
      .Integer("presigned", r.presigned)
      .Integer("reused_envelopes", r.reused_envelopes)
      .Integer("connects", r.connects)
      .Integer("closed_while_idle", r.closed_while_idle)
      .Raw("error_samples", samples.Finish());
  return out.Finish();
}

std::string LoadReportTable(const LoadReport& r) {
  std::string out;
  out += Printf("mode            %s, %s loop%s\n", std::string(ModeName(r.mode)).c_str(),
                r.rate_target > 0 ? "open" : "closed",
                r.rate_target > 0 ? Printf(" at %.0f req/s", r.rate_target).c_str() : "");
  out += Printf("connections     %zu\n", r.connections);
  out += Printf("body            %zu bytes of esbBody, consumer key %s\n", r.body_size,
                r.curve.empty() ? "?" : r.curve.c_str());
  out += Printf("window          %.1f s after %.1f s of warmup (%.2f s until the last answer)\n",
                r.duration_s, r.warmup_s, r.elapsed_s);
  out += Printf("requests        %llu   ok %llu   errors %llu\n",
                static_cast<unsigned long long>(r.requests), static_cast<unsigned long long>(r.ok),
                static_cast<unsigned long long>(r.error_total()));
  out += Printf("throughput      %.1f req/s (ok %.1f req/s)\n", r.throughput_rps, r.ok_rps);
  Percentiles l = LatencyMs(r.latency_ns);
  out +=
      Printf("latency (ms)    p50 %.3f   p90 %.3f   p99 %.3f   p99.9 %.3f   max %.3f   mean %.3f\n",
             l.p50, l.p90, l.p99, l.p999, l.max, l.mean);
  for (size_t k = 0; k < kErrorKinds; ++k) {
    if (r.errors[k] == 0) continue;
    out += Printf("error %-9s %llu  e.g. %s\n",
                  std::string(ErrorKindName(static_cast<ErrorKind>(k))).c_str(),
                  static_cast<unsigned long long>(r.errors[k]), r.first_error[k].c_str());
  }
  if (r.reused_envelopes > 0) {
    out += Printf(
        "note            %llu requests re-sent one of the %zu pre-signed envelopes "
        "(raise --pool or --presign-seconds)\n",
        static_cast<unsigned long long>(r.reused_envelopes), r.presigned);
  }
  return out;
}

}  // namespace govesb::bench
