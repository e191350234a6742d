// Saving and loading checkpoints: .npy per parameter (core/io/npy), manifest.json last, the
// whole directory swapped in at once (core/io/atomic_file).
#include "checkpoint.hpp"

#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "core/io/atomic_file.hpp"
#include "core/io/message_text.hpp"
#include "core/io/npy.hpp"
#include "limits.hpp"
#include "optimizer_choice.hpp"

namespace next_token {

using nlohmann::json;
using xgrad::Array;
using xgrad::Shape;
using xgrad::io::printable_bytes;
namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "xgrad next_token checkpoint";
constexpr int kVersion = 3;  // 2: the vocabulary has a checksum; 3: model kind, optimiser state, sampler
constexpr int kOldestVersion = 2;  // read as an MLP with no training state
constexpr const char* kByteVocabulary = "bytes 0-255";
// A word vocabulary at the largest V, with long words, is a few tens of MB of JSON.
constexpr std::uintmax_t kMaxManifestBytes = std::uintmax_t{256} << 20;

std::string join(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

std::string fnv1a64(const unsigned char* bytes, std::size_t size) {
  std::uint64_t hash = 0xCBF29CE484222325ull;
  for (std::size_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= 0x100000001B3ull;
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

std::optional<std::size_t> first_non_finite(const Array& array) {
  for (std::size_t i = 0; i < array.size(); ++i) {
    if (!std::isfinite(array.data()[i])) return i;
  }
  return std::nullopt;
}

// "hidden.kernel holds nan at element 17 of its 10 x 7 values"
std::string non_finite_text(const std::string& name, const Array& array, std::size_t at) {
  const float value = array.data()[at];
  return name + " holds " + (std::isnan(value) ? "nan" : value > 0 ? "inf" : "-inf") + " at element " +
         std::to_string(at) + " of " + std::to_string(array.size());
}

// A whole number from the manifest in [lo, hi]; JSON's numbers may be negative, fractional
// or huge, and nlohmann's get<std::size_t>() would wrap or truncate them silently.
std::int64_t whole_field(const json& object, const char* key, std::int64_t lo, std::int64_t hi, const std::string& where) {
  if (!object.is_object() || !object.contains(key)) throw CheckpointError(where + ": missing field \"" + key + "\"");
  const json& value = object[key];
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (!value.is_number_integer()) {
    throw CheckpointError(where + ": \"" + key + "\" is " + printable_bytes(value.dump()) + ", not a whole number");
  }
  bool in_range = false;
  if (value.is_number_unsigned()) {
    const auto v = value.get<std::uint64_t>();
    in_range = v <= static_cast<std::uint64_t>(hi) && (lo <= 0 || v >= static_cast<std::uint64_t>(lo));
  } else {
    const auto v = value.get<std::int64_t>();
    in_range = v >= lo && v <= hi;
  }
  if (!in_range) throw CheckpointError(where + ": \"" + key + "\" is " + value.dump() + ", out of range " + range);
  return value.get<std::int64_t>();
}

// A finite number from the manifest in [lo, hi].
float number_field(const json& object, const char* key, double lo, double hi, const std::string& where) {
  if (!object.is_object() || !object.contains(key)) throw CheckpointError(where + ": missing field \"" + key + "\"");
  const json& value = object[key];
  if (!value.is_number() || !(value.get<double>() >= lo && value.get<double>() <= hi)) {
    throw CheckpointError(where + ": \"" + key + "\" is " + printable_bytes(value.dump()) + ", not a number in [" +
                          std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return static_cast<float>(value.get<double>());
}

// The saved hyperparameters over `kind`'s defaults (the run length and evaluation are never saved).
TrainOptions parse_training(const json& t, ModelKind kind, const std::string& path) {
  namespace lim = limits;
  TrainOptions o = default_training(kind);
  const std::string where = path + " (training)";
  const std::string optimizer = t.at("optimizer").get<std::string>();
  const std::string schedule = t.at("schedule").get<std::string>();
  if (optimizer != "sgd" && optimizer != "adamw") {
    throw CheckpointError(where + ": unknown optimizer \"" + printable_bytes(optimizer) + "\"");
  }
  if (schedule != "linear" && schedule != "cosine") {
    throw CheckpointError(where + ": unknown schedule \"" + printable_bytes(schedule) + "\"");
  }
  o.optimizer = optimizer == "sgd" ? OptimizerKind::sgd : OptimizerKind::adamw;
  o.schedule = schedule == "linear" ? ScheduleKind::linear : ScheduleKind::cosine;
  o.batch = static_cast<std::size_t>(whole_field(t, "batch_size", 1, lim::kMaxBatch, where));
  o.lr = number_field(t, "lr", 0.0, 1e3, where);
  o.lr_final = number_field(t, "lr_final", 0.0, 1e3, where);
  o.warmup = static_cast<std::size_t>(whole_field(t, "warmup", 0, lim::kMaxTotalSteps, where));
  o.schedule_steps = static_cast<std::size_t>(whole_field(t, "schedule_steps", 0, lim::kMaxTotalSteps, where));
  o.momentum = number_field(t, "momentum", 0.0, 0.999, where);
  o.weight_decay = number_field(t, "weight_decay", 0.0, 1.0, where);
  o.beta1 = number_field(t, "beta1", 0.0, 0.999999, where);
  o.beta2 = number_field(t, "beta2", 0.0, 0.999999, where);
  o.eps = number_field(t, "eps", 0.0, 1.0, where);
  o.clip = number_field(t, "clip", 0.0, 1e6, where);
  return o;
}

json parse_manifest(const std::string& text, const std::string& path) {
  json manifest;
  try {
    manifest = json::parse(text);
  } catch (const json::exception& e) {
    throw CheckpointError(path + ": not valid JSON (" + printable_bytes(e.what()) + ")");
  }
  const auto field = [&](const char* key) { return manifest.is_object() && manifest.contains(key) ? manifest[key] : json(); };
  if (field("format") != kFormat) {
    throw CheckpointError(path + ": not a next_token checkpoint manifest (\"format\" is not \"" + kFormat + "\")");
  }
  const json version = field("version");
  if (!version.is_number_integer() || version.get<std::int64_t>() < kOldestVersion ||
      version.get<std::int64_t>() > kVersion) {
    throw CheckpointError(path + ": manifest version " + printable_bytes(version.dump()) + ", this program reads " +
                          std::to_string(kOldestVersion) + " to " + std::to_string(kVersion) +
                          " (save it again with the program that wrote it, or train anew)");
  }
  return manifest;
}

std::string read_manifest_text(const std::string& dir) {
  const std::string path = join(dir, kManifestName);
  if (!fs::is_directory(dir)) throw CheckpointError("cannot load checkpoint " + dir + ": no such directory");
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    throw CheckpointError("cannot load checkpoint " + dir + ": " + path + " is missing (not a checkpoint?)");
  }
  // A FIFO or a device would block the read or never end.
  if (!S_ISREG(info.st_mode)) throw CheckpointError(path + ": is not a regular file (a FIFO or a device?)");
  if (static_cast<std::uintmax_t>(info.st_size) > kMaxManifestBytes) {
    throw CheckpointError(path + ": " + std::to_string(info.st_size) + " bytes, more than a manifest can be (" +
                          std::to_string(kMaxManifestBytes) + ")");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CheckpointError(path + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw CheckpointError(path + ": read error");
  return text.str();
}

json read_manifest(const std::string& dir) { return parse_manifest(read_manifest_text(dir), join(dir, kManifestName)); }

void check_complete(const std::string& dir);

}  // namespace

std::string checksum(const Array& array) {
  return fnv1a64(reinterpret_cast<const unsigned char*>(array.data()), array.size() * sizeof(float));
}

std::string checksum(const Vocabulary& vocabulary) {
  std::string text;
  if (vocabulary.kind() == TokenKind::byte) {
    text = kByteVocabulary;
  } else if (vocabulary.kind() == TokenKind::bpe) {
    text = bpe::canonical_text(vocabulary.merges());
  } else if (vocabulary.kind() == TokenKind::character) {
    text = "characters ";  // then each one; a character is one code point, so no separator is needed
    for (const std::string& c : vocabulary.character_list()) text += c;
  } else {
    for (const std::string& word : vocabulary.word_list()) text += word + "\n";
  }
  return fnv1a64(reinterpret_cast<const unsigned char*>(text.data()), text.size());
}

void check_checkpoint_target(const std::string& dir) {
  std::error_code error;
  const fs::file_status status = fs::symlink_status(dir, error);
  if (!fs::exists(status)) return;
  if (!fs::is_directory(status)) throw CheckpointError(dir + " exists and is not a directory");
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    const bool checkpoint_file = entry.is_regular_file() && (name == kManifestName || entry.path().extension() == ".npy");
    if (!checkpoint_file) {
      throw CheckpointError(dir + " holds " + printable_bytes(name) +
                            ", which is not part of a checkpoint; a save replaces the whole directory, so "
                            "choose a new or empty one");
    }
  }
  if (error) throw CheckpointError("cannot list " + dir + ": " + error.message());
}

namespace {

json training_json(const TrainOptions& o) {
  return json{{"optimizer", optimizer_kind_name(o.optimizer)},
              {"schedule", schedule_kind_name(o.schedule)},
              {"batch_size", o.batch},
              {"lr", o.lr},
              {"lr_final", o.lr_final},
              {"warmup", o.warmup},
              {"schedule_steps", o.total_schedule_steps()},
              {"momentum", o.momentum},
              {"weight_decay", o.weight_decay},
              {"beta1", o.beta1},
              {"beta2", o.beta2},
              {"eps", o.eps},
              {"clip", o.clip}};
}

json model_json(const ModelSpec& spec, const Vocabulary& vocabulary) {
  json m{{"kind", model_kind_name(spec.kind)},
         {"tokens", token_kind_name(vocabulary.kind())},
         {"vocab", spec.vocab()},
         {"layers", describe(spec)}};
  if (spec.kind == ModelKind::mlp) {
    const ModelConfig& c = spec.mlp;
    m.update({{"context", c.context}, {"embed_dim", c.embed_dim}, {"hidden", c.hidden}, {"tie", c.tie}});
  } else {
    const TransformerConfig& c = spec.transformer;
    m.update({{"context", c.context}, {"embed_dim", c.embed_dim}, {"blocks", c.layers}, {"heads", c.heads},
              {"dropout", c.dropout}, {"attention_dropout", c.attention_dropout}, {"bias", spec.transformer.bias},
              {"tie", spec.transformer.tie}});
  }
  return m;
}

json vocabulary_json(const Vocabulary& vocabulary) {
  switch (vocabulary.kind()) {
    case TokenKind::word: return vocabulary.word_list();
    case TokenKind::bpe: return bpe::merges_to_json(vocabulary.merges());
    case TokenKind::character: return vocabulary.character_list();
    case TokenKind::byte: break;
  }
  return kByteVocabulary;
}

std::string hex64(std::uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

// Saves `array` as `file` in `staging` and returns its manifest entry.
json save_array(const std::string& staging, const std::string& name, const std::string& file, const Array& array) {
  xgrad::npy::save(join(staging, file), array);
  return json{{"name", name}, {"file", file}, {"shape", array.shape()}, {"dtype", "<f4"}, {"fnv1a64", checksum(array)}};
}

}  // namespace

void save_checkpoint(const std::string& dir, const LanguageModel& model, const Vocabulary& vocabulary,
                     std::size_t step, std::uint64_t seed, const json& extra) {
  TrainingState state;
  state.step = step;
  state.seed = seed;
  save_checkpoint(dir, model, vocabulary, state, extra);
}

void save_checkpoint(const std::string& dir, const LanguageModel& model, const Vocabulary& vocabulary,
                     const TrainingState& state, const json& extra) {
  const std::vector<LanguageModel::Parameter> parameters = model.parameters();
  for (const LanguageModel::Parameter& p : parameters) {
    if (const auto at = first_non_finite(p.tensor.value())) {
      throw CheckpointError("not saving a checkpoint in " + dir + ": parameter " +
                            non_finite_text(p.name, p.tensor.value(), *at) + " (the run diverged?)");
    }
  }
  if (state.optimizer) {
    for (const auto& [name, array] : state.optimizer->arrays) {
      if (const auto at = first_non_finite(array)) {
        throw CheckpointError("not saving a checkpoint in " + dir + ": optimizer state " +
                              non_finite_text(name, array, *at) + " (the run diverged?)");
      }
    }
  }
  check_checkpoint_target(dir);
  try {
    xgrad::io::replace_directory_atomically(dir, [&](const std::string& staging) {
      json entries = json::array();
      for (const LanguageModel::Parameter& p : parameters) {
        entries.push_back(save_array(staging, p.name, p.name + ".npy", p.tensor.value()));
      }
      json manifest{
          {"format", kFormat},
          {"version", kVersion},
          {"step", state.step},
          {"seed", state.seed},
          {"model", model_json(model.spec(), vocabulary)},
          {"vocabulary", vocabulary_json(vocabulary)},
          {"vocabulary_fnv1a64", checksum(vocabulary)},
          {"parameters", entries},
          {"run", extra},
      };
      if (state.training) manifest["training"] = training_json(*state.training);
      if (state.sampler_state) manifest["sampler"] = {{"rng_state", hex64(*state.sampler_state)}};
      if (state.optimizer) {
        json arrays = json::array();
        for (std::size_t i = 0; i < state.optimizer->arrays.size(); ++i) {
          const auto& [name, array] = state.optimizer->arrays[i];
          arrays.push_back(save_array(staging, name, "optimizer." + std::to_string(i) + ".npy", array));
        }
        manifest["optimizer"] = {{"kind", state.optimizer->kind}, {"step", state.optimizer->step}, {"arrays", arrays}};
      }
      xgrad::io::write_file_atomically(join(staging, kManifestName), manifest.dump(2) + "\n");
    }, check_complete);
  } catch (const xgrad::npy::NpyError& e) {
    throw CheckpointError(std::string("cannot save the checkpoint: ") + e.what());
  } catch (const xgrad::io::WriteError& e) {
    throw CheckpointError(std::string("cannot save the checkpoint: ") + e.what());
  }
}

long double parameter_count(const ModelSpec& spec) {
  if (spec.kind == ModelKind::mlp) {
    const ModelConfig& c = spec.mlp;
    const long double C = c.context, D = c.embed_dim, H = c.hidden, V = c.vocab;
    const long double dense_in = c.hidden > 0 ? H : C * D;
    const long double output = c.tie ? D : V;
    return V * D + (c.hidden > 0 ? C * D * H + H : 0) + dense_in * output + output;
  }
  // wte, wpe, per block 12 C^2 weights (qkv, proj, fc, proj) plus 13 C biases and norms (2 C
  // norm weights alone without biases), ln_f, and the head unless it is wte.
  const TransformerConfig& c = spec.transformer;
  const long double T = c.context, C = c.embed_dim, L = c.layers, V = c.vocab;
  const long double per_block = 12 * C * C + (c.bias ? 13 * C : 2 * C);
  return V * C + T * C + L * per_block + (c.bias ? 2 * C : C) + (c.tie ? 0 : V * C);
}

namespace {

ModelSpec parse_model_spec(const json& m, int version, const std::string& path) {
  namespace lim = limits;
  ModelSpec spec;
  const std::string kind = version == 2 ? "mlp" : m.at("kind").get<std::string>();
  if (kind != "mlp" && kind != "transformer") {
    throw CheckpointError(path + ": unknown model kind \"" + printable_bytes(kind) + "\"");
  }
  spec.kind = kind == "mlp" ? ModelKind::mlp : ModelKind::transformer;
  spec.set_vocab(static_cast<std::size_t>(whole_field(m, "vocab", lim::kMinVocab, lim::kMaxVocab, path)));
  if (spec.kind == ModelKind::mlp) {
    ModelConfig& c = spec.mlp;
    c.context = static_cast<std::size_t>(whole_field(m, "context", 1, lim::kMaxContext, path));
    c.embed_dim = static_cast<std::size_t>(whole_field(m, "embed_dim", 1, lim::kMaxEmbedDim, path));
    c.hidden = static_cast<std::size_t>(whole_field(m, "hidden", 0, lim::kMaxHidden, path));
    c.tie = m.at("tie").get<bool>();
  } else {
    TransformerConfig& c = spec.transformer;
    c.context = static_cast<std::size_t>(whole_field(m, "context", 1, lim::kMaxBlock, path));
    c.embed_dim = static_cast<std::size_t>(whole_field(m, "embed_dim", 1, lim::kMaxEmbedDim, path));
    c.layers = static_cast<std::size_t>(whole_field(m, "blocks", 1, lim::kMaxLayers, path));
    c.heads = static_cast<std::size_t>(whole_field(m, "heads", 1, lim::kMaxHeads, path));
    c.dropout = number_field(m, "dropout", 0.0, 0.99, path);
    // Checkpoints from before attention dropout have no field: they trained without it.
    c.attention_dropout = m.contains("attention_dropout") ? number_field(m, "attention_dropout", 0.0, 0.99, path) : 0.0f;
    // Nor before nanoGPT's options: they had biases and an untied head.
    spec.transformer.bias = m.contains("bias") ? m.at("bias").get<bool>() : true;
    spec.transformer.tie = m.contains("tie") ? m.at("tie").get<bool>() : false;
  }
  if (const long double n = parameter_count(spec); n > static_cast<long double>(lim::kMaxParameters)) {
    char count[64];
    std::snprintf(count, sizeof count, "%.0Lf", n);
    throw CheckpointError(path + ": the model (" + describe(spec) + ") has " + count +
                          " parameters, more than the largest next_token builds (" +
                          std::to_string(lim::kMaxParameters) + ")");
  }
  return spec;
}

// The vocabulary the manifest holds, checked against its checksum and the model's V.
Vocabulary parse_vocabulary(const json& manifest, const ModelSpec& spec, const std::string& path) {
  const std::string tokens = manifest["model"].at("tokens").get<std::string>();
  Vocabulary vocabulary;
  if (tokens == "word") {
    vocabulary = Vocabulary::words(manifest.at("vocabulary").get<std::vector<std::string>>());
  } else if (tokens == "bpe") {
    vocabulary = Vocabulary::bpe(bpe::merges_from_json(manifest.at("vocabulary")));
  } else if (tokens == "char") {
    vocabulary = Vocabulary::characters(manifest.at("vocabulary").get<std::vector<std::string>>());
  } else if (tokens != "byte") {
    throw CheckpointError(path + ": unknown token kind \"" + printable_bytes(tokens) + "\"");
  }
  if (vocabulary.size() != spec.vocab()) {
    throw CheckpointError(path + ": the vocabulary has " + std::to_string(vocabulary.size()) +
                          " entries but the model's V is " + std::to_string(spec.vocab()));
  }
  if (manifest.at("vocabulary_fnv1a64").get<std::string>() != checksum(vocabulary)) {
    throw CheckpointError(path + ": the vocabulary does not match its checksum (edited by hand?)");
  }
  return vocabulary;
}

std::uint64_t parse_sampler_state(const json& sampler, const std::string& path) {
  const std::string hex = sampler.at("rng_state").get<std::string>();
  char* end = nullptr;
  const unsigned long long value = std::strtoull(hex.c_str(), &end, 16);
  if (hex.size() != 16 || end != hex.c_str() + 16) {
    throw CheckpointError(path + ": sampler \"rng_state\" is \"" + printable_bytes(hex) + "\", not 16 hex digits");
  }
  return static_cast<std::uint64_t>(value);
}

}  // namespace

CheckpointInfo parse_checkpoint_info(const std::string& manifest_text, const std::string& path) {
  namespace lim = limits;
  const json manifest = parse_manifest(manifest_text, path);
  try {
    CheckpointInfo info;
    if (!manifest.contains("model") || !manifest["model"].is_object()) {
      throw CheckpointError(path + ": missing field \"model\"");
    }
    info.version = manifest["version"].get<int>();
    info.spec = parse_model_spec(manifest["model"], info.version, path);
    info.step = static_cast<std::size_t>(whole_field(manifest, "step", 0, lim::kMaxTotalSteps, path));
    info.seed = static_cast<std::uint64_t>(whole_field(manifest, "seed", 0, lim::kMaxSeed, path));
    if (manifest.contains("training")) info.training = parse_training(manifest["training"], info.spec.kind, path);
    if (manifest.contains("sampler")) info.sampler_state = parse_sampler_state(manifest["sampler"], path);
    info.has_optimizer_state = manifest.contains("optimizer");
    info.vocabulary = parse_vocabulary(manifest, info.spec, path);
    return info;
  } catch (const json::exception& e) {
    throw CheckpointError(path + ": missing or mistyped field (" + printable_bytes(e.what()) + ")");
  } catch (const std::invalid_argument& e) {
    throw CheckpointError(path + ": bad vocabulary (" + printable_bytes(e.what()) + ")");
  }
}

CheckpointInfo read_checkpoint_info(const std::string& dir) {
  return parse_checkpoint_info(read_manifest_text(dir), join(dir, kManifestName));
}

namespace {

// The optimiser state's name for a parameter's array. Before the GPT was built from a Scope its
// two tables' tensors were named "wte.embedding" and "wpe.embedding" (their file names were
// already "wte", "wpe"), so older checkpoints name their moments "wte.embedding.exp_avg".
std::string current_state_name(const std::string& name) {
  for (const char* table : {"wte", "wpe"}) {
    const std::string old_prefix = std::string(table) + ".embedding.";
    if (name.rfind(old_prefix, 0) == 0) return std::string(table) + "." + name.substr(old_prefix.size());
  }
  return name;
}

// Reads the array an entry of the manifest ("parameters" or "optimizer"."arrays") names,
// checked against the entry (plain file name, dtype, checksum), `expected` (a parameter's
// shape) or the entry's shape, and, unless allowed, for NaN and inf.
Array read_entry(const std::string& dir, const json& entry, const std::string& what, const Shape* expected,
                 NonFinite non_finite) {
  const std::string manifest_path = join(dir, kManifestName);
  std::string file, dtype, sum;
  Shape shape;
  try {
    file = entry.at("file").get<std::string>();
    dtype = entry.at("dtype").get<std::string>();
    sum = entry.at("fnv1a64").get<std::string>();
    if (!expected) shape = entry.at("shape").get<Shape>();
  } catch (const json::exception& e) {
    throw CheckpointError(manifest_path + ": bad entry for " + what + " (" + printable_bytes(e.what()) + ")");
  }
  if (file.find('/') != std::string::npos || file.empty()) {
    throw CheckpointError(manifest_path + ": file name \"" + printable_bytes(file) + "\" for " + what +
                          " is not a plain name");
  }
  if (dtype != "<f4") {
    throw CheckpointError(manifest_path + ": " + what + " has dtype " + printable_bytes(dtype) + ", expected <f4");
  }
  const std::string path = join(dir, file);
  if (!fs::exists(path)) {
    throw CheckpointError("checkpoint " + dir + " is missing " + printable_bytes(file) + " (" + what + ")");
  }
  Array value;
  try {
    value = xgrad::npy::load(path, expected ? *expected : shape);
  } catch (const xgrad::npy::NpyError& e) {
    throw CheckpointError("cannot load " + what + ": " + e.what());
  }
  if (checksum(value) != sum) {
    throw CheckpointError(path + ": its data does not match the checksum in " + kManifestName +
                          " (an interrupted save, or a file replaced by hand?)");
  }
  if (const auto at = first_non_finite(value); at && non_finite == NonFinite::refuse) {
    throw CheckpointError("checkpoint " + dir + ": " + non_finite_text(what, value, *at) +
                          "; pass --allow-non-finite to load it anyway");
  }
  return value;
}

// What a save is about to swap in loads: the manifest parses and every array it lists is
// there with its shape and checksum. A save whose files went missing or were changed under
// it fails here, before the old checkpoint is touched.
void check_complete(const std::string& dir) {
  try {
    read_checkpoint_info(dir);
    const json manifest = read_manifest(dir);
    for (const json& entry : manifest.at("parameters")) {
      read_entry(dir, entry, "parameter " + entry.at("name").get<std::string>(), nullptr, NonFinite::allow);
    }
    if (manifest.contains("optimizer")) {
      for (const json& entry : manifest["optimizer"].at("arrays")) {
        read_entry(dir, entry, "optimizer state " + entry.at("name").get<std::string>(), nullptr, NonFinite::allow);
      }
    }
  } catch (const std::exception& e) {
    throw CheckpointError("the checkpoint written in " + dir + " is not complete, not swapping it in: " + e.what());
  }
}

void load(const std::string& dir, const LanguageModel& model, xgrad::optim::Optimizer* optimizer, NonFinite non_finite) {
  const json manifest = read_manifest(dir);
  const std::string manifest_path = join(dir, kManifestName);
  std::map<std::string, json> entries;
  try {
    for (const json& entry : manifest.at("parameters")) entries[entry.at("name").get<std::string>()] = entry;
  } catch (const json::exception& e) {
    throw CheckpointError(manifest_path + ": bad \"parameters\" list (" + printable_bytes(e.what()) + ")");
  }
  const std::vector<LanguageModel::Parameter> parameters = model.parameters();
  if (entries.size() != parameters.size()) {
    throw CheckpointError(manifest_path + ": lists " + std::to_string(entries.size()) + " parameters, the model has " +
                          std::to_string(parameters.size()));
  }
  // Read and check everything first, then assign: a bad file changes nothing.
  std::vector<Array> values;
  for (const LanguageModel::Parameter& p : parameters) {
    const auto found = entries.find(p.name);
    if (found == entries.end()) throw CheckpointError(manifest_path + ": no entry for parameter " + p.name);
    const Shape shape = p.tensor.shape();
    values.push_back(read_entry(dir, found->second, "parameter " + p.name, &shape, non_finite));
  }
  if (optimizer && manifest.contains("optimizer")) {
    xgrad::optim::OptimizerState state;
    try {
      const json& o = manifest["optimizer"];
      state.kind = o.at("kind").get<std::string>();
      state.step = static_cast<std::size_t>(whole_field(o, "step", 0, limits::kMaxTotalSteps, manifest_path));
      for (const json& entry : o.at("arrays")) {
        const std::string name = entry.at("name").get<std::string>();
        state.arrays.emplace_back(current_state_name(name), read_entry(dir, entry, "optimizer state " + name, nullptr, non_finite));
      }
    } catch (const json::exception& e) {
      throw CheckpointError(manifest_path + ": bad \"optimizer\" entry (" + printable_bytes(e.what()) + ")");
    }
    try {
      optimizer->load_state(state);  // validates the whole state before it changes anything
    } catch (const std::exception& e) {
      throw CheckpointError("checkpoint " + dir + ": the optimizer state does not fit this run (" +
                            printable_bytes(e.what()) + ")");
    }
  }
  for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i].tensor.mutable_value() = std::move(values[i]);
}

}  // namespace

void load_parameters(const std::string& dir, const LanguageModel& model, NonFinite non_finite) {
  load(dir, model, nullptr, non_finite);
}

void load_checkpoint(const std::string& dir, const LanguageModel& model, xgrad::optim::Optimizer& optimizer,
                     NonFinite non_finite) {
  load(dir, model, &optimizer, non_finite);
}

}  // namespace next_token
