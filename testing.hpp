// xgrad's testing kit in one include, <xgrad/testing.hpp>: link xgrad::testing.
// Catch2 matchers for it are in <xgrad/testing/catch_matchers.hpp>.
#pragma once

#include "testing/testing.hpp"
