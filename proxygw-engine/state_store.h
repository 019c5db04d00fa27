// StateStore: what the engine must remember across its own restart, one small
// JSON file per target under engine.state_dir (written atomically: temp file,
// rename; no fsync, see Put). A restarted engine reads it to adopt targets that were
// active and backends (static:cmd processes) that are still running, instead
// of tearing down forwarding that clients use. Event loop only.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace engine {

class StateStore {
 public:
  // `dir` empty: remember nothing (every Get is empty, Put succeeds).
  explicit StateStore(std::string dir) : dir_(std::move(dir)) {}

  // Creates the directory (mode 0700) if missing; an error names it.
  common::Status Open();

  // The record of target `name` (an object; empty when none or unreadable).
  nlohmann::json Get(const std::string& name) const;
  // Replaces the record of target `name`.
  common::Status Put(const std::string& name, const nlohmann::json& record);
  // Sets one key of the record.
  common::Status Set(const std::string& name, const std::string& key, nlohmann::json value);

  const std::string& dir() const { return dir_; }
  // A file next to the records, for a target's data (its backend's output).
  std::string PathFor(const std::string& name, const std::string& suffix) const;

 private:
  std::string File(const std::string& name) const;
  std::string dir_;
};

}  // namespace engine
