#pragma once

// Shared by the fuzz targets and the seed generator (make_seeds.cc).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace govesb::fuzz {

// Fixed keys, so that seeds signed by make_seeds verify in the targets. Test keys only: they
// sign nothing but fuzz seeds.
inline constexpr std::string_view kSecp256k1PrivateKey =
    "MIGEAgEAMBAGByqGSM49AgEGBSuBBAAKBG0wawIBAQQg/PhD+Vo8Xjub2rChKE33+D1mrE4WiuYOcb2IlDE45zmhRANC"
    "AATWMIuQw98s8MDXP91vdsOE2/1+Pj8hh4qIyEtrkRCkJfLzkcY8bMQGXf514M0JT1Tk88mg5SQdltkZleNrt0FV";
inline constexpr std::string_view kP256PrivateKey =
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgImxvzsvISZ9h73pfZb1Vt1GCr/87wWI8Biy9aF5mtQCh"
    "RANCAAQAzGB6pDTVuSm1IPU+s519OCcjCXPlvMvGF3yzmkVYkl/X0i6PZeHm6djjDNQRK+/X+Md0syaNruaeuWAcpKpe";

// The token targets' MAC secret (32 bytes at least, as TokenService requires).
inline constexpr std::string_view kTokenSecret = "govesb-fuzz-token-secret-0123456789abcdef";
// The token targets' clock: tokens made by make_seeds are valid at this time.
inline constexpr int64_t kTokenNowSeconds = 1'700'000'000;

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A property that does not hold is a finding: abort so that libFuzzer saves the input.
#define GOVESB_FUZZ_CHECK(cond)                                                        \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (false)

}  // namespace govesb::fuzz
