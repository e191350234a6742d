// The one place xtensor headers are included from.
// GCC 12 reports two false positives inside these system headers after inlining
// (-Warray-bounds from xt::argmax, -Wmaybe-uninitialized from AVX-512 intrinsics); the
// pragmas silence them here only, so warnings in our own code still fire.
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xadapt.hpp>
#include <xtensor/xview.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xio.hpp>
#pragma GCC diagnostic pop
