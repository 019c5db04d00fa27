// The engine's log: one line per event, `time=... level=INFO msg="..." k=v`,
// to stdout, stderr or a file (log.output), at the configured level. A Logger
// carries fields of its object (target=web, frontend=public), so that every
// line of a target names it. Backed by spdlog; call from the event loop or
// any thread (spdlog's sinks are thread-safe).
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "proxygw-engine/config/config.h"

namespace engine {

using LogFields = std::initializer_list<std::pair<std::string_view, std::string>>;

class Logger {
 public:
  Logger() = default;
  // A logger whose lines all carry `fields` ("target=web").
  Logger With(LogFields fields) const;

  void Debug(std::string_view msg, LogFields fields = {}) const;
  void Info(std::string_view msg, LogFields fields = {}) const;
  void Warn(std::string_view msg, LogFields fields = {}) const;
  void Error(std::string_view msg, LogFields fields = {}) const;
  bool DebugEnabled() const;

 private:
  void Write(config::LogLevel level, std::string_view msg, LogFields fields) const;
  std::string context_;  // " target=web"
};

// Sends every Logger's lines to `output` ("stdout", "stderr" or a file opened
// for appending) from `level` up. Before this, lines go to stderr at INFO.
common::Status SetUpLogging(const std::string& output, config::LogLevel level);

// `value` quoted for a key=value field when it needs it.
std::string LogValue(std::string_view value);

}  // namespace engine
