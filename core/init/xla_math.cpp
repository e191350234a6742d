// XLA:CPU's float32 log, log1p, erf and erf_inv, bit for bit (docs/flax_jax_spec.md sections 9-10).
// Compiled with -ffp-contract=off: every fused multiply-add XLA emits is written as std::fmaf,
// every other product and sum is rounded on its own.
#include "core/init/xla_math.hpp"

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace xgrad::xla_math {
namespace {

std::uint32_t bits_of(float x) {
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}

float float_from_bits(std::uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

// Horner evaluation from 0 with one fused multiply-add per coefficient (the first gives c[0]).
template <std::size_t N>
float fused_horner(const float (&c)[N], float x) {
  float p = 0.0f;
  for (float coefficient : c) p = std::fmaf(p, x, coefficient);
  return p;
}

// log1p's rational approximation for |x| < sqrt(2) - 1 (numerator and denominator).
constexpr float kLog1pNumerator[] = {4.527e-05f,  0.49854103f, 6.5787325f, 29.911919f,
                                     60.94967f,   57.112965f,  20.039553f};
constexpr float kLog1pDenominator[] = {1.0f,      15.062909f, 83.04757f, 221.7624f,
                                       309.09872f, 216.42789f, 60.11866f};

float log1p_small(float x) {
  const float x2 = x * x;
  float s = fused_horner(kLog1pNumerator, x) / fused_horner(kLog1pDenominator, x);
  s = (x * x2) * s;
  s = std::fmaf(-0.5f, x2, s);
  return x + s;
}

// Giles' erf_inv coefficients, highest degree first: A for w < 5, B for w >= 5.
constexpr float kErfInvA[] = {2.81022636e-08f, 3.43273939e-07f, -3.5233877e-06f,
                              -4.39150654e-06f, 0.00021858087f, -0.00125372503f,
                              -0.00417768164f, 0.246640727f,    1.50140941f};
constexpr float kErfInvB[] = {-0.000200214257f, 0.000100950558f, 0.00134934322f,
                              -0.00367342844f,  0.00573950773f,  -0.0076224613f,
                              0.00943887047f,   1.00167406f,     2.83297682f};

template <std::size_t N>
float fused_horner_from_first(const float (&c)[N], float v) {
  float p = c[0];
  for (std::size_t i = 1; i < N; ++i) p = std::fmaf(p, v, c[i]);
  return p;
}

}  // namespace

float log_f32(float y) {
  if (std::isnan(y) || y < 0.0f) return std::numeric_limits<float>::quiet_NaN();
  if (y == 0.0f) return -std::numeric_limits<float>::infinity();
  if (std::isinf(y)) return y;

  const float t = std::fmax(FLT_MIN, y);  // subnormals are treated as FLT_MIN, as in XLA
  const std::uint32_t t_bits = bits_of(t);
  const auto e_raw = static_cast<std::int32_t>(t_bits >> 23);
  float m = float_from_bits((t_bits & 0x807FFFFFu) | 0x3F000000u);  // mantissa in [0.5, 1)
  float e = 1.0f + static_cast<float>(e_raw - 127);
  if (m < 0.70710677f) {
    e -= 1.0f;
    m = (m - 1.0f) + m;
  } else {
    m = m - 1.0f;
  }

  const float x2 = m * m;
  const float x3 = x2 * m;
  float a = std::fmaf(m, 7.0376836e-2f, -0.1151461f);
  float b = std::fmaf(m, -0.12420141f, 0.14249323f);
  float c = std::fmaf(m, 0.20000714f, -0.24999994f);
  a = std::fmaf(a, m, 0.116769984f);
  b = std::fmaf(b, m, -0.16668057f);
  c = std::fmaf(c, m, 0.3333333f);
  a = std::fmaf(a, x3, b);
  a = std::fmaf(a, x3, c);
  const float q1e = -2.1219444e-4f * e;
  a = std::fmaf(a, x3, q1e);  // LLVM fuses the a*x3 side of a*x3 + q1*e
  m = m - 0.5f * x2;
  m = m + a;
  m = m + 0.6933594f * e;
  return m;
}

float log1p_f32(float x) {
  // XLA computes both branches and selects; only the chosen one matters for the value.
  if (std::fabs(x) < 0.41421357f) return log1p_small(x);
  return log_f32(x + 1.0f);
}

float erf_inv_f32(float u) {
  const float t = u * (-u);  // the product has several uses, so it is never fused
  const float w = -log1p_f32(t);
  float r;
  if (w < 5.0f) {
    r = fused_horner_from_first(kErfInvA, w - 2.5f) * u;
  } else {
    r = fused_horner_from_first(kErfInvB, std::sqrt(w) - 3.0f) * u;
  }
  if (std::fabs(u) == 1.0f) r = u * std::numeric_limits<float>::infinity();
  return r;
}

float erf_f32(float x) {
  // Odd numerator and even denominator in x^2, each by fused Horner steps, as XLA emits them.
  const float x2 = x * x;
  float p = std::fmaf(x2, 0.00022905065861350646f, 0.0034082910107109506f);
  p = std::fmaf(x2, p, 0.050955695062380861f);
  p = std::fmaf(x2, p, 0.18520832239976145f);
  p = std::fmaf(x2, p, 1.128379143519084f);
  p = x * p;
  float q = std::fmaf(x2, -1.1791602954361697e-7f, 0.000023547966471313185f);
  q = std::fmaf(x2, q, 0.0010179625278914885f);
  q = std::fmaf(x2, q, 0.014070470171167667f);
  q = std::fmaf(x2, q, 0.11098505178285362f);
  q = std::fmaf(x2, q, 0.49746925110067538f);
  q = std::fmaf(x2, q, 1.0f);
  if (3.832506856900711f <= std::fabs(x)) return std::copysign(1.0f, x);
  return p / q;
}

}  // namespace xgrad::xla_math
