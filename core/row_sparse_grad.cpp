// RowSparseGrad: scatter-add into unique rows without touching V x D memory.
#include "core/row_sparse_grad.hpp"

#include <algorithm>
#include <limits>

#include "core/errors.hpp"
#include "core/detail/parallel.hpp"
#include "core/detail/prefetch.hpp"

namespace xgrad {
namespace {

// dst[j] = 0 + src[j]: the bits adding to a zeroed row gives (-0 becomes +0).
// (Not __restrict: that made repeated rows slower in the scatter benchmark.)
void start_row(float* dst, const float* src, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) dst[j] = 0.0f + src[j];
}

void add_row(float* dst, const float* src, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) dst[j] += src[j];
}

constexpr std::int32_t kSkipped = std::numeric_limits<std::int32_t>::min();

// Pass 2 of scatter_add for the slots in [first, last): each token's row is added to its
// slot in token order. codes[t] is the token's slot, ~slot when it opens it, or kSkipped.
void add_owned_rows(const std::int32_t* codes, std::size_t count, const float* values,
                    std::size_t width, float* out, std::size_t first, std::size_t last) {
  for (std::size_t t = 0; t < count; ++t) {
    const std::int32_t code = codes[t];
    if (code == kSkipped) continue;
    const std::size_t slot = static_cast<std::size_t>(code < 0 ? ~code : code);
    if (slot < first || slot >= last) continue;
    if (code < 0) {  // the row's first contribution: 0 + src, as if added to zeros
      start_row(out + slot * width, values + t * width, width);
    } else {
      add_row(out + slot * width, values + t * width, width);
    }
  }
}

}  // namespace

RowSparseGrad::RowSparseGrad(std::size_t num_rows, std::size_t row_width)
    : num_rows_(num_rows), row_width_(row_width) {}

void RowSparseGrad::ensure_slot_index() {
  if (slot_of_row_.empty()) slot_of_row_.assign(num_rows_, -1);
}

float* RowSparseGrad::accumulate_row(std::int32_t row) {
  ensure_slot_index();
  std::int32_t& slot = slot_of_row_[static_cast<std::size_t>(row)];
  if (slot < 0) {
    slot = static_cast<std::int32_t>(rows_.size());
    rows_.push_back(row);
    values_.resize(values_.size() + row_width_, 0.0f);
  }
  return values_.data() + static_cast<std::size_t>(slot) * row_width_;
}

void RowSparseGrad::scatter_add(const std::int32_t* rows, std::size_t count, const float* values,
                                std::optional<std::int32_t> skip) {
  ensure_slot_index();
  // Pass 1, in token order: each token's slot; a token whose row is new opens the slot.
  // Without branches on whether a row is new: with a vocabulary's few repeated ids that
  // branch is a coin toss, and its cost moved with where the linker put this loop.
  slot_of_token_.resize(count);
  const std::size_t before = rows_.size();
  rows_.resize(before + count);  // room for every token's row to be new; trimmed below
  std::int32_t* new_rows = rows_.data() + before;
  std::int32_t* slot_of_row = slot_of_row_.data();
  std::int32_t* slot_of_token = slot_of_token_.data();
  const std::int32_t skipped = skip.value_or(-1);  // ids are >= 0: -1 skips nothing
  std::size_t opened = 0;
  // slot_of_row_ holds V ints: fetch its entries ahead. Not made to depend on V, so a step
  // executes the same instructions at any vocabulary size (docs/DESIGN.md).
  const bool ahead = prefetch::pays(count, 1);
  for (std::size_t t = 0; t < count; ++t) {
    if (ahead && t + 2 * prefetch::kDistance < count) {
      __builtin_prefetch(slot_of_row + rows[t + 2 * prefetch::kDistance], 1);
    }
    const std::int32_t row = rows[t];
    if (row == skipped) {
      slot_of_token[t] = kSkipped;
      continue;
    }
    std::int32_t& slot = slot_of_row[static_cast<std::size_t>(row)];
    const std::int32_t seen = slot;
    const std::int32_t next = static_cast<std::int32_t>(before + opened);
    const bool is_new = seen < 0;
    new_rows[opened] = row;  // kept only if the row is new: otherwise the next new row overwrites it
    slot = is_new ? next : seen;
    slot_of_token[t] = is_new ? ~next : seen;
    opened += is_new ? 1 : 0;
  }
  rows_.resize(before + opened);
  values_.resize(rows_.size() * row_width_);
  // Pass 2: each thread adds the tokens of its own range of slots, in token order.
  const std::size_t width = row_width_;
  const std::int32_t* codes = slot_of_token_.data();
  float* out = values_.data();
  parallel::for_range(rows_.size(), count * width, [=](std::size_t first, std::size_t last) {
    add_owned_rows(codes, count, values, width, out, first, last);
  });
}

void RowSparseGrad::add(const RowSparseGrad& other) {
  if (other.num_rows_ != num_rows_ || other.row_width_ != row_width_) {
    throw ShapeError("RowSparseGrad::add: shapes differ: (" + std::to_string(num_rows_) + ", " +
                     std::to_string(row_width_) + ") vs (" + std::to_string(other.num_rows_) +
                     ", " + std::to_string(other.row_width_) + ")");
  }
  for (std::size_t i = 0; i < other.rows_.size(); ++i) {
    float* dst = accumulate_row(other.rows_[i]);
    const float* src = other.row_values(i);
    for (std::size_t j = 0; j < row_width_; ++j) dst[j] += src[j];
  }
}

void RowSparseGrad::add_to(float* dense) const {
  for (std::size_t i = 0; i < rows_.size(); ++i) {
    float* dst = dense + static_cast<std::size_t>(rows_[i]) * row_width_;
    const float* src = row_values(i);
    for (std::size_t j = 0; j < row_width_; ++j) dst[j] += src[j];
  }
}

void RowSparseGrad::scale(float factor) {
  float* values = values_.data();
  const std::size_t n = rows_.size() * row_width_;
  parallel::for_range(n, n, [=](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) values[i] *= factor;
  });
}

void RowSparseGrad::clear() {
  for (std::int32_t row : rows_) slot_of_row_[static_cast<std::size_t>(row)] = -1;
  rows_.clear();
  values_.clear();
}

Array RowSparseGrad::to_dense() const {
  Array dense = zeros_array({num_rows_, row_width_});
  add_to(dense.data());
  return dense;
}

}  // namespace xgrad
