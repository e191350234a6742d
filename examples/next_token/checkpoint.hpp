// Checkpoints of the toy language models: one NumPy .npy file per parameter, named by its
// path ("embed.embedding.npy"), one per array of the optimiser's state ("optimizer.0.npy":
// AdamW's moments, SGD's velocity), and manifest.json (model kind and config, step, seed,
// vocabulary and its FNV-1a checksum, the training hyperparameters, the batch sampler's
// position, the optimiser's kind and step, and each file's shape, dtype and FNV-1a
// checksum), so a resumed run continues exactly where the saved one stopped. A save replaces the
// directory as a whole (core/io/atomic_file.hpp): a kill or a full disk at any moment leaves
// the old checkpoint or the new one, complete. Parameters that are not finite are never
// saved, and loading them is refused unless asked for. Every number in the manifest is
// range-checked before use (limits.hpp), so a tampered manifest cannot ask for a huge model.
// Not a general serialisation format: it holds exactly what next_token needs to resume.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "corpus.hpp"
#include "language_model.hpp"
#include "optim/optimizer.hpp"
#include "train.hpp"

namespace next_token {

// A checkpoint that cannot be read or does not fit: the message names the file.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

constexpr const char* kManifestName = "manifest.json";

struct CheckpointInfo {
  int version = 0;           // 2: an MLP with no training state; 3: everything below
  ModelSpec spec;
  Vocabulary vocabulary;
  std::size_t step = 0;      // training steps the saved parameters have taken
  std::uint64_t seed = 0;    // the seed of the run that started the model
  // The batch generator's state after the last saved step (Rng::state()).
  std::optional<std::uint64_t> sampler_state;
  // The hyperparameters of the run that saved it (steps, first_step, seed and eval fields
  // unused), schedule_steps resolved to the schedule's full length.
  std::optional<TrainOptions> training;
  bool has_optimizer_state = false;
};

// What a save records besides the parameters; only step and seed are required.
struct TrainingState {
  std::size_t step = 0;
  std::uint64_t seed = 0;
  std::optional<std::uint64_t> sampler_state;
  std::optional<TrainOptions> training;
  std::optional<xgrad::optim::OptimizerState> optimizer;
};

// Replaces `dir` (created if needed, with its parents) by a checkpoint of `model`. `extra`
// (e.g. the losses at save time) is stored under "run" in the manifest. Throws
// CheckpointError, leaving `dir` as it was, when a parameter or an optimiser array holds
// NaN or inf, when `dir` holds anything but a checkpoint's files (check_checkpoint_target),
// or when writing fails.
void save_checkpoint(const std::string& dir, const LanguageModel& model, const Vocabulary& vocabulary,
                     const TrainingState& state, const nlohmann::json& extra = nlohmann::json::object());

// Parameters, step and seed only (no training state).
void save_checkpoint(const std::string& dir, const LanguageModel& model, const Vocabulary& vocabulary,
                     std::size_t step, std::uint64_t seed, const nlohmann::json& extra = nlohmann::json::object());

// Throws CheckpointError unless a save may replace `dir`: it is missing, empty, or holds only
// manifest.json and .npy files. A save replaces the whole directory, so anything else in it
// would be lost.
void check_checkpoint_target(const std::string& dir);

// Reads and checks dir/manifest.json. Throws CheckpointError.
// The parameters a model of `spec` has (token tables, blocks, heads), computed before it is
// built, in long double so that no size can overflow it.
long double parameter_count(const ModelSpec& spec);

CheckpointInfo read_checkpoint_info(const std::string& dir);

// The same checks on a manifest's text; `path` is what messages call it.
CheckpointInfo parse_checkpoint_info(const std::string& manifest_text, const std::string& path);

enum class NonFinite { refuse, allow };

// Overwrites every parameter of `model` from `dir`, after checking each file against the
// model (shape) and the manifest (dtype, checksum) and, unless `non_finite` is allow, that
// every value is finite; on any error nothing is changed.
void load_parameters(const std::string& dir, const LanguageModel& model, NonFinite non_finite = NonFinite::refuse);

// The same, and when the checkpoint holds an optimiser state, `optimizer` (built over
// model.tensors() with the saved hyperparameters) takes it: every optimiser file is checked
// (present, dtype, checksum, finite) and the state validated by the optimiser before
// anything, parameters or optimiser, changes.
void load_checkpoint(const std::string& dir, const LanguageModel& model, xgrad::optim::Optimizer& optimizer,
                     NonFinite non_finite = NonFinite::refuse);

// FNV-1a, 64 bits, over the float data of an array, as 16 hex digits.
std::string checksum(const xgrad::Array& array);

// The same over a vocabulary: its words in order, each followed by a newline (words hold no
// whitespace), bpe::canonical_text of BPE merges, "characters " and the characters in order,
// or the text "bytes 0-255" for byte tokens.
std::string checksum(const Vocabulary& vocabulary);

}  // namespace next_token
