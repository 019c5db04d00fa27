// The mapping policy: which (protocol, listen, destination) netd may install,
// decided on the root side, never by the engine. A root-side step derives it
// from the config (`proxygw-engine --write-netd-policy`, run as root by the
// unit's ExecStartPre=+; the supervisor writes it itself) and netd reads it
// once at start-up, before it drops privileges. Both sides use this file's
// format: one mapping per line, "tcp 0.0.0.0:80 198.18.2.2:8080", blank lines
// and lines starting with '#' ignored. A config change that adds a mapping
// needs a netd restart (docs/privileged-surface.md).
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

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

  // The policy's text for `mappings`, in the format Parse reads.
  static std::string Format(const std::vector<ipc::netd::Mapping>& mappings);

  // Whether the mapping's protocol, listen key and destination are declared
  // (its flow timeout is the engine's choice).
  bool Allows(const ipc::netd::Mapping& m) const;
  // Whether some declared mapping listens on `key` (a hold needs one).
  bool Declares(const ipc::netd::MappingKey& key) const { return allowed_.count(key) > 0; }
  std::size_t size() const { return size_; }

 private:
  std::map<ipc::netd::MappingKey, std::set<common::AddrPort>> allowed_;
  std::size_t size_ = 0;
};

}  // namespace netd
