// Rounding of FP32 values to the inputs of the tensor cores, shared by the CUDA kernels (which
// round operands as they stage them into shared memory) and the CPU convolution (which rounds its
// inputs the same way to emulate the tensor-core numerics). Both formats keep FP32's 8-bit
// exponent and cut the mantissa, so the rounding is integer arithmetic on the bit pattern:
//   BF16: 7 explicit mantissa bits (relative spacing 2^-7, rounding error <= 2^-8), stored in 16
//         bits; round to nearest, ties to even (what __float2bfloat16_rn does).
//   TF32: 10 explicit mantissa bits (rounding error <= 2^-11), stored as an FP32 whose low 13 bits
//         are zero; round to nearest, ties AWAY from zero, the rounding of cvt.rna.tf32.f32, which
//         is what wmma::__float_to_tf32 compiles to.
// Infinities stay infinite, NaN stays NaN (made quiet), finite values too large for the shortened
// mantissa round to infinity, and subnormals round like any other value (same exponent field).
// The product of two rounded values has at most 2 x 8 (BF16) or 2 x 11 (TF32) significant bits,
// so it is exact in FP32: with FP32 accumulation, a rounded-input GEMM differs from the tensor
// cores' result only by the order (and rounding) of the FP32 sums.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/host_device.h"

namespace cuviz {

CUVIZ_HD uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

CUVIZ_HD float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

// The BF16 bit pattern nearest to f (ties to even). Adding 0x7fff plus the lowest kept bit and
// truncating rounds up exactly when the dropped 16 bits exceed half an ulp, or equal it with an
// odd kept part; a carry out of the mantissa bumps the exponent, which is the correct rounding.
CUVIZ_HD uint16_t bf16_bits(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x0040u);  // NaN: quiet, sign kept
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// f rounded to BF16, as an FP32 value (the low 16 bits zero).
CUVIZ_HD float round_to_bf16(float f) { return bits_float(uint32_t(bf16_bits(f)) << 16); }

// f rounded to TF32 (ties away from zero), as an FP32 value whose low 13 bits are zero. Adding
// half an ulp (bit 12) and truncating rounds a magnitude up exactly when the dropped bits are at
// least half an ulp: ties go away from zero because the sign bit is not part of the magnitude.
CUVIZ_HD float round_to_tf32(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bits_float((u | 0x00400000u) & ~0x1fffu);  // NaN: quiet
  if ((u & 0x7fffffffu) == 0x7f800000u) return f;                                       // +-inf
  return bits_float((u + 0x1000u) & ~0x1fffu);
}

}  // namespace cuviz
