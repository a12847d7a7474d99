// How much a TrafficCounters::Record costs on the exchange path: ns per call from 1 and 2
// threads, over 1000 keys (50 APIs x 20 consumers, client ids as long as real ones). Not a
// test: prints numbers, never fails.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "traffic/counters.h"

namespace {

using govesb::traffic::Observation;
using govesb::traffic::TrafficCounters;

double NsPerRecord(int threads, int per_thread) {
  govesb::SimulatedClock clock;
  TrafficCounters counters(clock);
  std::vector<std::string> codes;
  std::vector<std::string> systems;
  for (int i = 0; i < 50; ++i) codes.push_back("API" + std::to_string(10000 + i));
  for (int i = 0; i < 20; ++i) {
    systems.push_back("5f0c2a1e-7b3d-4c8e-9a6f-" + std::to_string(100000000000 + i));
  }
  auto run = [&](int seed) {
    Observation o;
    o.at_ms = clock.NowMillis();
    o.provider = systems[0];
    for (int i = 0; i < per_thread; ++i) {
      const int k = (i * 7 + seed) % 1000;
      o.code = codes[static_cast<size_t>(k % 50)];
      o.consumer = systems[static_cast<size_t>(k / 50)];
      o.bus_us = 150 + (i & 1023);
      o.provider_us = 2000 + (i & 4095);
      o.request_bytes = 400;
      o.response_bytes = 900;
      counters.Record(o);
    }
  };
  run(0);  // the keys exist from here on: the steady state
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(run, t);
  for (auto& t : pool) t.join();
  const double ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  return ns / per_thread;  // wall time per call of one thread
}

}  // namespace

int main() {
  constexpr int kCalls = 5'000'000;
  std::printf("traffic Record, 1 thread:  %.1f ns per call\n", NsPerRecord(1, kCalls));
  std::printf("traffic Record, 2 threads: %.1f ns per call (each thread, wall time)\n",
              NsPerRecord(2, kCalls));
  return 0;
}
