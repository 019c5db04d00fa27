// The mapping policy: which (protocol, listen, destination) netd may install,
// and the ct mark of each listen key, decided on the root side, never by the
// engine. A root-side step derives it from the config (`proxygw-engine
// --write-netd-policy`, run as root by the unit's ExecStartPre=+; the
// supervisor writes it itself) and netd reads it once at start-up, before it
// drops privileges. The format (written by proxygw-engine/config/netd_policy.cc,
// read here): one mapping per line,
// "tcp 0.0.0.0:80 198.18.2.2:8080 mark 3", blank lines and lines starting
// with '#' ignored. The mark is a 1-based id per listen key (protocol and
// listen address): every line of a key gives it the same id, no two keys
// share one, and netd shifts it into its ct mark mask. So a key's flows carry
// one mark whatever was enabled before, and two netds given the same file
// agree on every mark. A config change that adds a mapping needs a netd
// restart (docs/privileged-surface.md).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "common/ipc/netd_protocol.h"
#include "common/status.h"

namespace netd {

// Most lines a policy may have; the largest file netd reads.
inline constexpr std::size_t kMaxPolicyLines = 1000000;
inline constexpr std::size_t kMaxPolicyBytes = 64 * 1024 * 1024;

class Policy {
 public:
  // Parses the text; an error names the line ("policy:3: ...").
  static common::Result<Policy> Parse(std::string_view text);
  // Reads and parses `path` (symlinks followed: /proc/self/fd/N is how the
  // supervisor hands its copy over). The file must be a regular file owned
  // by root and writable by nobody else: another user could change what
  // netd allows.
  static common::Result<Policy> Read(const std::string& path);
  // A policy that allows every valid mapping (--no-policy: tests, debugging).
  // It has no marks of its own: a key gets the lowest id no key has had when
  // it is first enabled (TakeMarkId), and keeps it while netd runs.
  static Policy AllowingAny();

  // A listen key from a line's first two words ("tcp", "0.0.0.0:80"); the
  // error says which word is wrong.
  static common::Result<ipc::netd::MappingKey> ParseKey(std::string_view proto,
                                                        std::string_view listen);

  // Whether the mapping's protocol, listen key and destination are declared
  // (its flow timeout is the engine's choice).
  bool Allows(const ipc::netd::Mapping& m) const;
  // Whether some declared mapping listens on `key` (a hold needs one).
  bool Declares(const ipc::netd::MappingKey& key) const;
  // The mark id of `key`'s flows; 0 when it has none (not declared, or,
  // under AllowingAny(), never enabled).
  std::uint32_t MarkId(const ipc::netd::MappingKey& key) const;
  // MarkId, except that under AllowingAny() a key without one gets the
  // lowest id up to `capacity` that no key has; 0 when none is left.
  std::uint32_t TakeMarkId(const ipc::netd::MappingKey& key, std::uint32_t capacity);
  // Under AllowingAny(): `key` keeps `id`, the mark its mapping carries in
  // an adopted table, unless either is taken. Otherwise nothing.
  void Adopt(const ipc::netd::MappingKey& key, std::uint32_t id);
  // Whether every mark id is at most `capacity` (the ids a ct mark mask
  // has); else an error naming the largest id and its key.
  common::Status FitsIn(std::uint32_t capacity) const;

  // The declared mark ids by key.
  std::map<ipc::netd::MappingKey, std::uint32_t> MarkIds() const;
  // Declared mappings (lines, duplicates aside).
  std::size_t size() const { return size_; }

 private:
  struct Entry {
    std::set<common::AddrPort> destinations;
    std::uint32_t mark_id = 0;
  };
  std::map<ipc::netd::MappingKey, Entry> keys_;
  std::map<std::uint32_t, ipc::netd::MappingKey> ids_;
  std::size_t size_ = 0;
  bool any_ = false;
  std::uint32_t next_id_ = 1;  // under AllowingAny(): no id below it is free
};

}  // namespace netd
