// Saving and loading checkpoints: .npy per parameter (core/npy), manifest.json last.
#include "checkpoint.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include "core/io/npy.hpp"

namespace next_token {

using nlohmann::json;
using xgrad::Array;
namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "xgrad next_token checkpoint";
constexpr int kVersion = 1;

std::string join(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

}  // namespace

std::string checksum(const Array& array) {
  std::uint64_t hash = 0xCBF29CE484222325ull;
  const auto* bytes = reinterpret_cast<const unsigned char*>(array.data());
  for (std::size_t i = 0, n = array.size() * sizeof(float); i < n; ++i) {
    hash ^= bytes[i];
    hash *= 0x100000001B3ull;
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

void save_checkpoint(const std::string& dir, const Model& model, const Vocabulary& vocabulary, std::size_t step,
                     std::uint64_t seed, const json& extra) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error || !fs::is_directory(dir)) {
    throw CheckpointError("cannot save a checkpoint in " + dir + ": " +
                          (error ? error.message() : std::string("not a directory")));
  }
  const ModelConfig& c = model.config();
  json parameters = json::array();
  try {
    for (const Model::Parameter& p : model.parameters()) {
      const std::string file = p.name + ".npy";
      xgrad::npy::save(join(dir, file), p.tensor.value());
      parameters.push_back({{"name", p.name},
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
        {"vocabulary", vocabulary.kind() == TokenKind::word ? json(vocabulary.word_list()) : json("bytes 0-255")},
        {"parameters", parameters},
        {"run", extra},
    };
    xgrad::npy::write_file_atomically(join(dir, kManifestName), manifest.dump(2) + "\n");
  } catch (const xgrad::npy::NpyError& e) {
    throw CheckpointError(std::string("cannot save the checkpoint: ") + e.what());
  }
}

namespace {

json read_manifest(const std::string& dir) {
  const std::string path = join(dir, kManifestName);
  if (!fs::is_directory(dir)) throw CheckpointError("cannot load checkpoint " + dir + ": no such directory");
  std::ifstream in(path);
  if (!in) throw CheckpointError("cannot load checkpoint " + dir + ": " + path + " is missing (not a checkpoint?)");
  std::ostringstream text;
  text << in.rdbuf();
  json manifest;
  try {
    manifest = json::parse(text.str());
  } catch (const json::exception& e) {
    throw CheckpointError(path + ": not valid JSON (" + e.what() + ")");
  }
  const auto field = [&](const char* key) { return manifest.is_object() && manifest.contains(key) ? manifest[key] : json(); };
  if (field("format") != kFormat) {
    throw CheckpointError(path + ": not a next_token checkpoint manifest (\"format\" is not \"" + kFormat + "\")");
  }
  if (field("version") != kVersion) {
    throw CheckpointError(path + ": manifest version " + field("version").dump() + ", this program reads " +
                          std::to_string(kVersion));
  }
  return manifest;
}

}  // namespace

CheckpointInfo read_checkpoint_info(const std::string& dir) {
  const json manifest = read_manifest(dir);
  const std::string path = join(dir, kManifestName);
  try {
    CheckpointInfo info;
    const json& m = manifest.at("model");
    info.config.vocab = m.at("vocab").get<std::size_t>();
    info.config.context = m.at("context").get<std::size_t>();
    info.config.embed_dim = m.at("embed_dim").get<std::size_t>();
    info.config.hidden = m.at("hidden").get<std::size_t>();
    info.config.tie = m.at("tie").get<bool>();
    info.step = manifest.at("step").get<std::size_t>();
    info.seed = manifest.at("seed").get<std::uint64_t>();
    const std::string tokens = m.at("tokens").get<std::string>();
    if (tokens == "byte") {
      info.vocabulary = Vocabulary::bytes();
    } else if (tokens == "word") {
      info.vocabulary = Vocabulary::words(manifest.at("vocabulary").get<std::vector<std::string>>());
    } else {
      throw CheckpointError(path + ": unknown token kind \"" + tokens + "\"");
    }
    if (info.vocabulary.size() != info.config.vocab) {
      throw CheckpointError(path + ": the vocabulary has " + std::to_string(info.vocabulary.size()) +
                            " entries but the model's V is " + std::to_string(info.config.vocab));
    }
    if (info.config.vocab == 0 || info.config.context == 0 || info.config.embed_dim == 0) {
      throw CheckpointError(path + ": vocab, context and embed_dim must be positive");
    }
    return info;
  } catch (const json::exception& e) {
    throw CheckpointError(path + ": missing or mistyped field (" + e.what() + ")");
  } catch (const std::invalid_argument& e) {
    throw CheckpointError(path + ": bad vocabulary (" + e.what() + ")");
  }
}

void load_parameters(const std::string& dir, const Model& model) {
  const json manifest = read_manifest(dir);
  const std::string manifest_path = join(dir, kManifestName);
  std::map<std::string, json> entries;
  try {
    for (const json& entry : manifest.at("parameters")) entries[entry.at("name").get<std::string>()] = entry;
  } catch (const json::exception& e) {
    throw CheckpointError(manifest_path + ": bad \"parameters\" list (" + e.what() + ")");
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
      throw CheckpointError(manifest_path + ": bad entry for " + p.name + " (" + e.what() + ")");
    }
    if (file.find('/') != std::string::npos || file.empty()) {
      throw CheckpointError(manifest_path + ": file name \"" + file + "\" for " + p.name + " is not a plain name");
    }
    if (dtype != "<f4") throw CheckpointError(manifest_path + ": " + p.name + " has dtype " + dtype + ", expected <f4");
    const std::string path = join(dir, file);
    if (!fs::exists(path)) throw CheckpointError("checkpoint " + dir + " is missing " + file + " (parameter " + p.name + ")");
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
    values.push_back(std::move(value));
  }
  for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i].tensor.mutable_value() = std::move(values[i]);
}

}  // namespace next_token
