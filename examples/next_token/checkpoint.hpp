// Checkpoints of the toy language model: one NumPy .npy file per parameter, named by its
// path ("embed.embedding.npy"), and manifest.json (model config, step, seed, vocabulary, and
// each file's shape, dtype and FNV-1a checksum). Every file is written atomically (temp file
// + rename, core/npy.hpp) and the manifest last, so an interrupted save leaves either the
// old checkpoint or files the manifest does not vouch for, which loading refuses.
// Not a general serialisation format: it holds exactly what next_token needs to resume.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "corpus.hpp"
#include "model.hpp"

namespace next_token {

// A checkpoint that cannot be read or does not fit: the message names the file.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

constexpr const char* kManifestName = "manifest.json";

struct CheckpointInfo {
  ModelConfig config;
  Vocabulary vocabulary;
  std::size_t step = 0;      // training steps the saved parameters have taken
  std::uint64_t seed = 0;    // the seed of the run that started the model
};

// Creates `dir` if needed, writes every parameter and then the manifest. `extra` (e.g. the
// losses at save time) is stored under "run" in the manifest. Throws CheckpointError.
void save_checkpoint(const std::string& dir, const Model& model, const Vocabulary& vocabulary,
                     std::size_t step, std::uint64_t seed, const nlohmann::json& extra = nlohmann::json::object());

// Reads and checks dir/manifest.json. Throws CheckpointError.
CheckpointInfo read_checkpoint_info(const std::string& dir);

// Overwrites every parameter of `model` from `dir`, after checking each file against the
// model (shape) and the manifest (dtype, checksum); on any error nothing is changed.
void load_parameters(const std::string& dir, const Model& model);

// FNV-1a, 64 bits, over the float data of an array, as 16 hex digits.
std::string checksum(const xgrad::Array& array);

}  // namespace next_token
