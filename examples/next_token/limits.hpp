// The largest model and run next_token accepts, shared by the command line's flags and the
// checks of a checkpoint's manifest, so a manifest cannot ask for a model no flag could.
#pragma once

#include <cstdint>

namespace next_token::limits {

constexpr std::int64_t kMinVocab = 2;            // <unk> and one word
constexpr std::int64_t kMaxVocab = 1 << 20;
constexpr std::int64_t kMaxContext = 64;        // the MLP's window
constexpr std::int64_t kMaxBlock = 4096;         // the transformer's block size T
constexpr std::int64_t kMaxLayers = 256;
constexpr std::int64_t kMaxHeads = 256;
constexpr std::int64_t kMaxEmbedDim = 4096;
constexpr std::int64_t kMaxHidden = 16384;
constexpr std::int64_t kMaxSteps = 100000000;    // in one run
constexpr std::int64_t kMaxTotalSteps = std::int64_t{1} << 53;  // a checkpoint's step count
constexpr std::int64_t kMaxBatch = 1 << 16;
constexpr std::int64_t kMaxSeed = 4294967295;   // JAX's PRNGKey takes 32 bits
// A whole model: 8 GiB of float32 parameters (each size above within its bound can still
// multiply to far more). A manifest asking for more is refused before any model is built.
constexpr std::int64_t kMaxParameters = std::int64_t{1} << 31;

}  // namespace next_token::limits
