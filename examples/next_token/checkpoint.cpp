// Saving and loading checkpoints: .npy per parameter (core/io/npy), manifest.json last, the
// whole directory swapped in at once (core/io/atomic_file).
#include "checkpoint.hpp"

#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "core/io/atomic_file.hpp"
#include "core/io/message_text.hpp"
#include "core/io/npy.hpp"
#include "limits.hpp"

namespace next_token {

using nlohmann::json;
using xgrad::Array;
using xgrad::io::printable_bytes;
namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "xgrad next_token checkpoint";
constexpr int kVersion = 2;  // 2: the vocabulary has a checksum
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
  if (field("version") != kVersion) {
    throw CheckpointError(path + ": manifest version " + printable_bytes(field("version").dump()) +
                          ", this program reads " + std::to_string(kVersion));
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

void save_checkpoint(const std::string& dir, const Model& model, const Vocabulary& vocabulary, std::size_t step,
                     std::uint64_t seed, const json& extra) {
  const std::vector<Model::Parameter> parameters = model.parameters();
  for (const Model::Parameter& p : parameters) {
    if (const auto at = first_non_finite(p.tensor.value())) {
      throw CheckpointError("not saving a checkpoint in " + dir + ": parameter " +
                            non_finite_text(p.name, p.tensor.value(), *at) + " (the run diverged?)");
    }
  }
  check_checkpoint_target(dir);
  const ModelConfig& c = model.config();
  try {
    xgrad::io::replace_directory_atomically(dir, [&](const std::string& staging) {
      json entries = json::array();
      for (const Model::Parameter& p : parameters) {
        const std::string file = p.name + ".npy";
        xgrad::npy::save(join(staging, file), p.tensor.value());
        entries.push_back({{"name", p.name},
                           {"file", file},
                           {"flax_path", p.flax_path},
                           {"shape", p.tensor.shape()},
                           {"dtype", "<f4"},
                           {"fnv1a64", checksum(p.tensor.value())}});
      }
      const json manifest{
          {"format", kFormat},
          {"version", kVersion},
          {"step", step},
          {"seed", seed},
          {"model",
           {{"tokens", token_kind_name(vocabulary.kind())},
            {"vocab", c.vocab},
            {"context", c.context},
            {"embed_dim", c.embed_dim},
            {"hidden", c.hidden},
            {"tie", c.tie},
            {"layers", describe(c)}}},
          {"vocabulary", vocabulary.kind() == TokenKind::word  ? json(vocabulary.word_list())
                         : vocabulary.kind() == TokenKind::bpe ? bpe::merges_to_json(vocabulary.merges())
                                                               : json(kByteVocabulary)},
          {"vocabulary_fnv1a64", checksum(vocabulary)},
          {"parameters", entries},
          {"run", extra},
      };
      xgrad::io::write_file_atomically(join(staging, kManifestName), manifest.dump(2) + "\n");
    });
  } catch (const xgrad::npy::NpyError& e) {
    throw CheckpointError(std::string("cannot save the checkpoint: ") + e.what());
  } catch (const xgrad::io::WriteError& e) {
    throw CheckpointError(std::string("cannot save the checkpoint: ") + e.what());
  }
}

CheckpointInfo parse_checkpoint_info(const std::string& manifest_text, const std::string& path) {
  namespace lim = limits;
  const json manifest = parse_manifest(manifest_text, path);
  try {
    CheckpointInfo info;
    if (!manifest.contains("model") || !manifest["model"].is_object()) {
      throw CheckpointError(path + ": missing field \"model\"");
    }
    const json& m = manifest["model"];
    info.config.vocab = static_cast<std::size_t>(whole_field(m, "vocab", lim::kMinVocab, lim::kMaxVocab, path));
    info.config.context = static_cast<std::size_t>(whole_field(m, "context", 1, lim::kMaxContext, path));
    info.config.embed_dim = static_cast<std::size_t>(whole_field(m, "embed_dim", 1, lim::kMaxEmbedDim, path));
    info.config.hidden = static_cast<std::size_t>(whole_field(m, "hidden", 0, lim::kMaxHidden, path));
    info.config.tie = m.at("tie").get<bool>();
    info.step = static_cast<std::size_t>(whole_field(manifest, "step", 0, lim::kMaxTotalSteps, path));
    info.seed = static_cast<std::uint64_t>(whole_field(manifest, "seed", 0, lim::kMaxSeed, path));
    const std::string tokens = m.at("tokens").get<std::string>();
    if (tokens == "byte") {
      info.vocabulary = Vocabulary::bytes();
    } else if (tokens == "word") {
      info.vocabulary = Vocabulary::words(manifest.at("vocabulary").get<std::vector<std::string>>());
    } else if (tokens == "bpe") {
      info.vocabulary = Vocabulary::bpe(bpe::merges_from_json(manifest.at("vocabulary")));
    } else {
      throw CheckpointError(path + ": unknown token kind \"" + printable_bytes(tokens) + "\"");
    }
    if (info.vocabulary.size() != info.config.vocab) {
      throw CheckpointError(path + ": the vocabulary has " + std::to_string(info.vocabulary.size()) +
                            " entries but the model's V is " + std::to_string(info.config.vocab));
    }
    if (manifest.at("vocabulary_fnv1a64").get<std::string>() != checksum(info.vocabulary)) {
      throw CheckpointError(path + ": the vocabulary does not match its checksum (edited by hand?)");
    }
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

void load_parameters(const std::string& dir, const Model& model, NonFinite non_finite) {
  const json manifest = read_manifest(dir);
  const std::string manifest_path = join(dir, kManifestName);
  std::map<std::string, json> entries;
  try {
    for (const json& entry : manifest.at("parameters")) entries[entry.at("name").get<std::string>()] = entry;
  } catch (const json::exception& e) {
    throw CheckpointError(manifest_path + ": bad \"parameters\" list (" + printable_bytes(e.what()) + ")");
  }
  const std::vector<Model::Parameter> parameters = model.parameters();
  if (entries.size() != parameters.size()) {
    throw CheckpointError(manifest_path + ": lists " + std::to_string(entries.size()) + " parameters, the model has " +
                          std::to_string(parameters.size()));
  }
  // Read and check everything first, then assign: a bad file changes nothing.
  std::vector<Array> values;
  for (const Model::Parameter& p : parameters) {
    const auto found = entries.find(p.name);
    if (found == entries.end()) throw CheckpointError(manifest_path + ": no entry for parameter " + p.name);
    const json& entry = found->second;
    std::string file, dtype, sum;
    try {
      file = entry.at("file").get<std::string>();
      dtype = entry.at("dtype").get<std::string>();
      sum = entry.at("fnv1a64").get<std::string>();
    } catch (const json::exception& e) {
      throw CheckpointError(manifest_path + ": bad entry for " + p.name + " (" + printable_bytes(e.what()) + ")");
    }
    if (file.find('/') != std::string::npos || file.empty()) {
      throw CheckpointError(manifest_path + ": file name \"" + printable_bytes(file) + "\" for " + p.name +
                            " is not a plain name");
    }
    if (dtype != "<f4") {
      throw CheckpointError(manifest_path + ": " + p.name + " has dtype " + printable_bytes(dtype) + ", expected <f4");
    }
    const std::string path = join(dir, file);
    if (!fs::exists(path)) {
      throw CheckpointError("checkpoint " + dir + " is missing " + printable_bytes(file) + " (parameter " + p.name + ")");
    }
    Array value;
    try {
      value = xgrad::npy::load(path, p.tensor.shape());
    } catch (const xgrad::npy::NpyError& e) {
      throw CheckpointError(std::string("cannot load parameter ") + p.name + ": " + e.what());
    }
    if (checksum(value) != sum) {
      throw CheckpointError(path + ": its data does not match the checksum in " + kManifestName +
                            " (an interrupted save, or a file replaced by hand?)");
    }
    if (const auto at = first_non_finite(value); at && non_finite == NonFinite::refuse) {
      throw CheckpointError("checkpoint " + dir + ": parameter " + non_finite_text(p.name, value, *at) +
                            "; pass --allow-non-finite to load it anyway");
    }
    values.push_back(std::move(value));
  }
  for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i].tensor.mutable_value() = std::move(values[i]);
}

}  // namespace next_token
