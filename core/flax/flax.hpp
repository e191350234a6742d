// What Flax does around the JAX PRNG: the key each parameter receives in Module.init (the
// SHA-1-hashed scope path, docs/flax_jax_spec.md section 11), nn.Embed's initial table, and
// token_embed_forward, the Flax-compatible embedding lookup. Not a module system.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/array.hpp"
#include "core/init/random.hpp"

namespace xgrad::flax {

// One item of a Flax RNG path: a module name (hashed as its UTF-8 bytes) or a non-negative
// integer such as an rng counter (hashed as its minimal big-endian bytes; 0 is no bytes).
class RngPathItem {
 public:
  RngPathItem(std::string name) : name_(std::move(name)), is_name_(true) {}
  RngPathItem(const char* name) : name_(name), is_name_(true) {}
  template <typename Int, std::enable_if_t<std::is_integral_v<Int>, int> = 0>
  RngPathItem(Int value) : number_(static_cast<std::uint64_t>(value)) {
    // Python's int.to_bytes(..., 'big') refuses negative numbers.
    if constexpr (std::is_signed_v<Int>) {
      if (value < 0) throw std::invalid_argument("flax: an rng path integer must be non-negative");
    }
  }

  // The bytes this item contributes to the SHA-1 input (without any separator).
  std::string bytes() const;

 private:
  std::string name_;
  std::uint64_t number_ = 0;
  bool is_name_ = false;
};

// flax_fix_rng_separator (Flax config, default False): with it, each item is preceded by 0x00.
enum class RngSeparator { none, zero_byte };

// The first 4 bytes, big-endian, of SHA-1 over all items' bytes (Flax's _fold_in_static hash).
// rng_path_hash({1}) == 0xBF8B4530.
std::uint32_t rng_path_hash(const std::vector<RngPathItem>& items,
                            RngSeparator separator = RngSeparator::none);

// Flax's _fold_in_static(rng, items): rng itself for no items, else fold_in(rng, hash(items)).
Key fold_in_static(const Key& rng, const std::vector<RngPathItem>& items,
                   RngSeparator separator = RngSeparator::none);

// The key Scope.make_rng('params') returns during Module.init(root, ...): module_path names
// the scopes from the top-level module down ({} for the top-level module itself, {"Embed_0"}
// for a child, {"Encoder_0", "Embed_0"} for a grandchild), and rng_call counts that scope's
// make_rng('params') calls from 1 (every self.param() makes one, in declaration order).
// Top-level nn.Embed's table: param_key(root, {}, 1) == fold_in(root, 3213575472).
Key param_key(const Key& root, const std::vector<std::string>& module_path,
              std::uint64_t rng_call = 1, RngSeparator separator = RngSeparator::none);

// flax.nnx: the count-th key an nnx.Rngs stream hands out is fold_in(stream key, count),
// counting from 0 (nnx.Rngs(0).params() -> fold_in(key(0), 0)).
Key nnx_stream_key(const Key& stream_key, std::uint32_t count);

// The (V, D) table Embed(num_embeddings=V, features=D).init(PRNGKey(seed), ids) stores:
// flax_embed_default() drawn with param_key(prng_key(seed), {}, 1).
// Throws ShapeError when V or D is 0 (Flax raises ZeroDivisionError there).
Array embed_table(std::int64_t seed, std::size_t vocab_size, std::size_t d_model,
                  random::Layout layout = random::default_layout());

// How token_embed_forward treats ids that are not valid rows.
//   strict (default): every id must be a finite integer in [0, V); otherwise it throws,
//     naming the position, the value and V, as xgrad::TokenIds words it (InvalidTokenId for
//     2.5, NaN, inf or a whole number outside int32; TokenIdOutOfRange for -1 or V).
//     Nothing is computed for a rejected call.
//   flax: what Flax computes: the id is rounded to float32, then cast to int32 as XLA does
//     (truncation toward zero, NaN -> 0, saturating at the int32 limits); a negative id gets
//     V added once; a row still outside [0, V) is all NaN; V == 1 returns row 0 for any id.
enum class IdsPolicy { strict, flax };

// token_embed_forward(seed, token_ids, vocab_size, d_model): the flattened (T * D) output of
//   ids = jnp.asarray(token_ids).astype(jnp.int32)
//   embed = flax.linen.Embed(num_embeddings=V, features=D)
//   embed.apply(embed.init(jax.random.PRNGKey(seed), ids), ids).reshape(-1)
// Ids arrive as floats (as Python floats, hence double). An empty id list gives an empty
// output. Only the table rows the ids read are drawn, bit for bit as in the whole table, so
// a call costs O(T * D) time and memory whatever V is. Throws ShapeError when V or D is 0,
// and std::length_error where drawing the whole table would (random::random_bits).
std::vector<float> token_embed_forward(std::int64_t seed, const std::vector<double>& token_ids,
                                       std::size_t vocab_size, std::size_t d_model,
                                       IdsPolicy ids_policy = IdsPolicy::strict,
                                       random::Layout layout = random::default_layout());

// The row each id selects under a policy, checked as that policy says; -1 marks a NaN row
// (flax policy only); no ids give no rows. Exposed so other front ends share the rules.
std::vector<std::int64_t> embedding_rows(const std::vector<double>& token_ids, std::size_t vocab_size,
                                         IdsPolicy ids_policy, const char* caller = "token_embed_forward");

}  // namespace xgrad::flax
