// Drawing the next token from one row of logits by temperature. GPT::generate and
// next_token's sampler both call it, so the library and the tool pick the same id from the
// same draw. Not top-k or nucleus sampling.
#pragma once

#include <cstddef>
#include <vector>

namespace xgrad::models {

// The index in z[0, vocab) that temperature sampling picks for the uniform draw u in [0, 1).
// Temperature 0 gives the first largest logit. Otherwise the weights exp((z - max) / T),
// summed in double, are walked until u * total falls inside one; a draw that rounding
// carries past every weight keeps the most likely index. `weights` is scratch (resized to
// vocab when smaller), passed in so that a long generation allocates it once.
// std::invalid_argument for vocab 0, a temperature that is negative or not finite, or u
// outside [0, 1).
std::size_t sample_token(const float* z, std::size_t vocab, double temperature, double u,
                         std::vector<double>& weights);

}  // namespace xgrad::models
