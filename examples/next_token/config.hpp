// One run's configuration, as plain values: what to read, what to build, how to train, what
// to write. Filled once: the model kind's defaults or a loaded checkpoint's settings, then
// the flags (and --config FILE) on top (flags.hpp). Not a parser: flags.hpp fills it.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "checkpoint.hpp"
#include "inspect.hpp"
#include "language_model.hpp"
#include "train.hpp"

#ifndef XGRAD_DEFAULT_CORPUS
#define XGRAD_DEFAULT_CORPUS "examples/data/genesis_kjv.txt"
#endif

namespace next_token {

struct RunConfig {
  // Data.
  std::string corpus = XGRAD_DEFAULT_CORPUS;
  TokenKind tokens = TokenKind::byte;
  std::size_t vocab_size = 2000;      // word: at most this; bpe: exactly this (512 unless given)
  double validation_fraction = 0.1;
  // Model and training.
  ModelSpec spec;
  TrainOptions train;                 // train.seed is the run's seed (parameters, batches, samples)
  int threads = 1;
  // Sampling.
  std::size_t samples = 3;
  std::size_t sample_length = 0;      // 0: 200 bytes or characters, 40 words, 80 BPE tokens
  double temperature = 0.8;
  std::string prompt;
  // Inputs and outputs.
  std::string config, load, json, plot, save;
  bool allow_non_finite = false;
  bool quiet = false;
  InspectOptions inspect;             // --graph, --stats
};

// The defaults of a fresh run of `kind` (README.md, next_token, has the runs behind the
// transformer's).
RunConfig default_config(ModelKind kind);

// The defaults of a run that loads `checkpoint`: its model, its training hyperparameters
// where it saved them, and its step and batch position to go on from.
RunConfig checkpoint_config(const CheckpointInfo& checkpoint);

// The resolved configuration, keyed by flag name (a TOML file of these keys is a --config).
nlohmann::json config_json(const RunConfig& config);

}  // namespace next_token
