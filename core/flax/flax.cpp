// Flax's parameter-key derivation (SHA-1 of the scope path, via nettle), nn.Embed's initial
// table and the Flax-compatible token_embed_forward with its two ids policies.
#include "core/flax/flax.hpp"

#include <nettle/sha1.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/errors.hpp"
#include "core/init/initializers.hpp"
#include "core/ops.hpp"
#include "core/token_ids.hpp"

namespace xgrad::flax {
namespace {

constexpr std::int64_t kNanRow = -1;

// Python's int.to_bytes((x.bit_length() + 7) // 8, 'big'): no leading zero bytes, 0 -> "".
std::string minimal_big_endian(std::uint64_t x) {
  std::string out;
  for (; x != 0; x >>= 8) out.insert(out.begin(), static_cast<char>(x & 0xFFu));
  return out;
}

std::string range_text(std::size_t vocab_size) { return "[0, " + std::to_string(vocab_size) + ")"; }

void require_table_shape(std::size_t vocab_size, std::size_t d_model, const char* caller) {
  if (vocab_size == 0 || d_model == 0) {
    throw ShapeError(std::string(caller) + ": the embedding table " +
                     shape_string({vocab_size, d_model}) +
                     " is empty; vocab_size and d_model must be positive");
  }
}

// The library's validator, so every front end words bad ids alike. It checks integrality
// before it knows V, so its message for 2.5 gets the valid range appended here.
TokenIds strict_ids(const std::vector<double>& token_ids, std::size_t vocab_size, const char* caller) {
  TokenIds ids;
  try {
    ids = TokenIds::from_floats(token_ids, {}, caller);
  } catch (const InvalidTokenId& e) {
    throw InvalidTokenId(std::string(e.what()) + "; ids must be whole numbers in " + range_text(vocab_size));
  }
  ids.check_range(vocab_size, caller);
  return ids;
}

// The key Embed(V, D).init(PRNGKey(seed), ids) gives its table.
Key embed_key(std::int64_t seed) { return param_key(random::prng_key(seed), {}, 1); }

// The table with one more row, all NaN: what jnp.take's fill mode reads outside [0, V).
Array with_nan_row(const Array& table) {
  const std::size_t rows = table.shape()[0];
  const std::size_t width = table.shape()[1];
  Array out = Array::from_shape({rows + 1, width});
  std::copy(table.begin(), table.end(), out.begin());
  std::fill(out.begin() + static_cast<std::ptrdiff_t>(rows * width), out.end(),
            std::numeric_limits<float>::quiet_NaN());
  return out;
}

// jnp.asarray(python float) with x64 off: round to nearest float32 (overflow gives inf).
float to_float32(double id) {
  constexpr double kRoundsToInfinity = 0x1.ffffffp127;  // halfway between FLT_MAX and 2^128
  if (std::fabs(id) >= kRoundsToInfinity) return static_cast<float>(std::copysign(INFINITY, id));
  return static_cast<float>(id);
}

// XLA's float -> int32 convert: truncation toward zero, NaN -> 0, saturating.
std::int32_t xla_to_int32(float x) {
  if (std::isnan(x)) return 0;
  if (x >= 2147483648.0f) return std::numeric_limits<std::int32_t>::max();
  if (x <= -2147483648.0f) return std::numeric_limits<std::int32_t>::min();
  return static_cast<std::int32_t>(x);
}

// nn.Embed.__call__ -> jnp.take(table, ids, axis=0, mode="fill"): negative ids wrap once,
// anything still outside [0, V) reads a NaN row. V == 1 broadcasts row 0 for every id.
std::int64_t flax_row(double id, std::size_t vocab_size) {
  if (vocab_size == 1) return 0;
  std::int64_t row = xla_to_int32(to_float32(id));
  // Rows fit in int32; capping V keeps the arithmetic in range for absurd V.
  const auto v = static_cast<std::int64_t>(std::min<std::size_t>(vocab_size, std::size_t{1} << 62));
  if (row < 0) row += v;
  return (row < 0 || row >= v) ? kNanRow : row;
}

}  // namespace

std::string RngPathItem::bytes() const { return is_name_ ? name_ : minimal_big_endian(number_); }

std::uint32_t rng_path_hash(const std::vector<RngPathItem>& items, RngSeparator separator) {
  sha1_ctx context;
  sha1_init(&context);
  const std::uint8_t zero = 0;
  for (const RngPathItem& item : items) {
    if (separator == RngSeparator::zero_byte) sha1_update(&context, 1, &zero);
    const std::string bytes = item.bytes();
    sha1_update(&context, bytes.size(), reinterpret_cast<const std::uint8_t*>(bytes.data()));
  }
  std::uint8_t digest[SHA1_DIGEST_SIZE];
  sha1_digest(&context, SHA1_DIGEST_SIZE, digest);
  return (std::uint32_t{digest[0]} << 24) | (std::uint32_t{digest[1]} << 16) |
         (std::uint32_t{digest[2]} << 8) | std::uint32_t{digest[3]};
}

Key fold_in_static(const Key& rng, const std::vector<RngPathItem>& items, RngSeparator separator) {
  if (items.empty()) return rng;
  return random::fold_in(rng, rng_path_hash(items, separator));
}

Key param_key(const Key& root, const std::vector<std::string>& module_path, std::uint64_t rng_call,
              RngSeparator separator) {
  // Each child scope appends its name to the lazy rng's suffix; make_rng appends the counter.
  std::vector<RngPathItem> items(module_path.begin(), module_path.end());
  items.emplace_back(rng_call);
  return fold_in_static(root, items, separator);
}

Key nnx_stream_key(const Key& stream_key, std::uint32_t count) {
  return random::fold_in(stream_key, count);
}

Array embed_table(std::int64_t seed, std::size_t vocab_size, std::size_t d_model,
                  random::Layout layout) {
  require_table_shape(vocab_size, d_model, "embed_table");
  return initializers::flax_embed_default(layout)(embed_key(seed), {vocab_size, d_model});
}

std::vector<std::int64_t> embedding_rows(const std::vector<double>& token_ids, std::size_t vocab_size,
                                         IdsPolicy ids_policy, const char* caller) {
  if (token_ids.empty()) return {};  // Flax takes no rows; TokenIds::check_range refuses none
  if (ids_policy == IdsPolicy::strict) {
    const TokenIds ids = strict_ids(token_ids, vocab_size, caller);
    return std::vector<std::int64_t>(ids.values().begin(), ids.values().end());
  }
  std::vector<std::int64_t> rows(token_ids.size());
  for (std::size_t t = 0; t < token_ids.size(); ++t) rows[t] = flax_row(token_ids[t], vocab_size);
  return rows;
}

std::vector<float> token_embed_forward(std::int64_t seed, const std::vector<double>& token_ids,
                                       std::size_t vocab_size, std::size_t d_model,
                                       IdsPolicy ids_policy, random::Layout layout) {
  require_table_shape(vocab_size, d_model, "token_embed_forward");
  // Ids first: a rejected call computes nothing.
  const std::vector<std::int64_t> rows = embedding_rows(token_ids, vocab_size, ids_policy);
  if (rows.empty()) return {};

  // Only the rows the ids read are drawn (in JAX's table each value depends on its index
  // alone), into a table of the distinct rows in ascending order, plus a NaN row when a
  // flax-policy id reads one; the ids are renumbered into it for the library's gather.
  std::vector<std::size_t> drawn;
  for (std::int64_t row : rows) {
    if (row != kNanRow) drawn.push_back(static_cast<std::size_t>(row));
  }
  std::sort(drawn.begin(), drawn.end());
  drawn.erase(std::unique(drawn.begin(), drawn.end()), drawn.end());
  Array table = initializers::flax_embed_default_rows(embed_key(seed), {vocab_size, d_model}, drawn, layout);
  std::vector<std::int64_t> gather_ids(rows.size());
  bool any_nan = false;
  for (std::size_t t = 0; t < rows.size(); ++t) {
    if (rows[t] == kNanRow) {
      gather_ids[t] = static_cast<std::int64_t>(drawn.size());
      any_nan = true;
    } else {
      gather_ids[t] = std::lower_bound(drawn.begin(), drawn.end(), static_cast<std::size_t>(rows[t])) - drawn.begin();
    }
  }
  if (any_nan) table = with_nan_row(table);

  Tape tape(Tape::Mode::inference);
  const Tensor out = embedding_lookup(tape, Tensor(std::move(table)), TokenIds(gather_ids));
  return std::vector<float>(out.value().begin(), out.value().end());
}

}  // namespace xgrad::flax
