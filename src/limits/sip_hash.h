#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace govesb::limits {

// SipHash-2-4 (Aumasson and Bernstein): a keyed hash for tables whose keys an attacker chooses
// (client ids, addresses, digests of signed data). With a secret random key nobody outside
// can make keys collide in one bucket, so lookups stay O(1) under attack.
using SipKey = std::array<uint64_t, 2>;

uint64_t SipHash24(const SipKey& key, std::string_view data);

// A fresh random key (std::random_device: the kernel's getrandom on Linux).
SipKey RandomSipKey();

}  // namespace govesb::limits
