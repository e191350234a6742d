// Specification of the learning-rate schedules at the steps that define them.
#include <catch2/catch.hpp>

#include <cmath>

#include "tests/test_support.hpp"

using namespace xgrad::optim;

TEST_CASE("ConstantSchedule gives its rate at every step", "[optim][schedule]") {
  const ConstantSchedule schedule(3e-4f);
  CHECK(schedule.lr(0) == 3e-4f);
  CHECK(schedule.lr(123456) == 3e-4f);
}

TEST_CASE("LinearDecaySchedule goes from lr_start at step 0 to lr_end at total_steps",
          "[optim][schedule]") {
  const LinearDecaySchedule schedule(1.0f, 0.2f, 8);
  CHECK(schedule.lr(0) == 1.0f);
  CHECK(schedule.lr(2) == Approx(0.8));  // 1 - 0.8 * 2/8
  CHECK(schedule.lr(4) == Approx(0.6));
  CHECK(schedule.lr(7) == Approx(0.3));
  CHECK(schedule.lr(8) == 0.2f);
  CHECK(schedule.lr(100) == 0.2f);
}

TEST_CASE("WarmupCosineSchedule follows nanoGPT's get_lr", "[optim][schedule]") {
  const float lr_max = 6e-4f, lr_min = 6e-5f;
  const WarmupCosineSchedule schedule(lr_max, 10, 110, lr_min);
  // Warmup: lr_max * (it + 1) / (warmup + 1).
  CHECK(schedule.lr(0) == Approx(6e-4 / 11.0).epsilon(1e-6));
  CHECK(schedule.lr(9) == Approx(6e-4 * 10.0 / 11.0).epsilon(1e-6));
  // End of warmup: cos(0) = 1, the full rate.
  CHECK(schedule.lr(10) == lr_max);
  // Halfway through the decay, cos(pi / 2) = 0: the mean of the two rates.
  CHECK(schedule.lr(60) == Approx((6e-4 + 6e-5) / 2.0).epsilon(1e-6));
  // A quarter of the way: lr_min + (1 + cos(pi / 4)) / 2 * (lr_max - lr_min).
  CHECK(schedule.lr(35) ==
        Approx(6e-5 + 0.5 * (1.0 + std::sqrt(0.5)) * (6e-4 - 6e-5)).epsilon(1e-6));
  // The last step of the decay and after it: lr_min.
  CHECK(schedule.lr(110) == Approx(lr_min).epsilon(1e-6));
  CHECK(schedule.lr(111) == lr_min);
  CHECK(schedule.lr(100000) == lr_min);
}

TEST_CASE("WarmupCosineSchedule without warmup starts at lr_max", "[optim][schedule]") {
  const WarmupCosineSchedule schedule(1.0f, 0, 4, 0.0f);
  CHECK(schedule.lr(0) == 1.0f);
  CHECK(schedule.lr(2) == Approx(0.5));
  CHECK(schedule.lr(4) == Approx(0.0).margin(1e-7));
}

TEST_CASE("Schedules refuse arguments they cannot follow", "[optim][schedule]") {
  CHECK_THROWS_AS(ConstantSchedule(-1.0f), std::invalid_argument);
  CHECK_THROWS_AS(ConstantSchedule(std::nanf("")), std::invalid_argument);
  CHECK_THROWS_AS(LinearDecaySchedule(1.0f, 0.0f, 0), std::invalid_argument);
  CHECK_THROWS_AS(LinearDecaySchedule(1.0f, -0.1f, 10), std::invalid_argument);
  CHECK_THROWS_AS(LinearDecaySchedule(INFINITY, 0.0f, 10), std::invalid_argument);
  CHECK_THROWS_AS(WarmupCosineSchedule(1.0f, 10, 10, 0.0f), std::invalid_argument);
  CHECK_THROWS_AS(WarmupCosineSchedule(1.0f, 11, 10, 0.0f), std::invalid_argument);
  CHECK_THROWS_AS(WarmupCosineSchedule(1.0f, 0, 10, 2.0f), std::invalid_argument);
  CHECK_THROWS_AS(WarmupCosineSchedule(-1.0f, 0, 10, -2.0f), std::invalid_argument);
}
