// Counter-based random numbers: every draw is a pure function of (seed, stream, index), so the
// CPU loop and the CUDA kernel (and a rerun) get the same numbers in any order, without state.
//   bits = splitmix64(splitmix64(splitmix64(seed) ^ stream) ^ index)
// Normals by Box-Muller in double; integers by modulo of 64 bits (bias below 2^-50 here).
#pragma once

#include <cmath>
#include <cstdint>

#include "core/host_device.h"

namespace cuviz {

// Streams keep unrelated uses of one seed independent.
inline constexpr uint64_t kStreamParamInit = 0x5041524dULL;      // "PARM": parameter initialisation
inline constexpr uint64_t kStreamTransform = 0x5452414eULL << 32;  // "TRAN" + step: transform draws

// Steele, Lea, Flood's splitmix64 finaliser: a bijective 64-bit mix with full avalanche.
CUVIZ_HD uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// 64 random bits for draw `index` of `stream` under `seed`.
CUVIZ_HD uint64_t random_bits(uint64_t seed, uint64_t stream, uint64_t index) {
  return splitmix64(splitmix64(splitmix64(seed) ^ stream) ^ index);
}

// Uniform integer in [lo, hi] (inclusive, hi >= lo).
CUVIZ_HD int random_int(uint64_t seed, uint64_t stream, uint64_t index, int lo, int hi) {
  return lo + int(random_bits(seed, stream, index) % uint64_t(hi - lo + 1));
}

// Standard normal: Box-Muller on two 26-bit uniforms, u1 in (0, 1] so the log is finite.
CUVIZ_HD double random_normal(uint64_t seed, uint64_t stream, uint64_t index) {
  const uint64_t b = random_bits(seed, stream, index);
  const double u1 = double((b >> 38) + 1) * (1.0 / 67108864.0);
  const double u2 = double(b & 0x3FFFFFFULL) * (1.0 / 67108864.0);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

}  // namespace cuviz
