// float32 log, log1p, erf and erf_inv computed the way XLA:CPU computes them (on an FMA
// host), so jax.random's floats come out bit for bit. Not a general math library.
// The algorithms follow docs/flax_jax_spec.md sections 9 and 10; erf is XLA's.
#pragma once

namespace xgrad::xla_math {

// XLA:CPU's inline float32 log (the Cephes/Eigen polynomial), not libm's logf.
float log_f32(float y);

// XLA:CPU's float32 log1p: a rational approximation near 0, log(1 + x) elsewhere.
float log1p_f32(float x);

// CHLO's float32 erf_inv (Giles' single-precision polynomial) over XLA's log1p.
float erf_inv_f32(float u);

// XLA:CPU's float32 erf: Eigen's rational interpolant, +-1 beyond |x| >= 3.8325069.
// It can differ from libm's erff by an ulp.
float erf_f32(float x);

}  // namespace xgrad::xla_math
