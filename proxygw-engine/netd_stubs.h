// The engine's side of netd's requests that carry mappings (Change, Flush,
// Sync): each stub builds its request from what the engine wants and checks
// it with the rules netd's validator applies (proxygw-netd/validate.h, the
// same code, linked on both sides) and the limit netd announced in its hello,
// before anything is sent. netd closes the connection on any request it
// refuses, so a request it would refuse must never leave the engine: one
// target's bad mapping would disconnect every target. Pure functions; run in
// the engine.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/ipc/netd_protocol.h"
#include "common/status.h"
#include "proxygw-netd/validate.h"

namespace engine::netd_stubs {

// What each owner (target) has, or wants, installed.
using Owned = std::map<std::string, std::vector<ipc::netd::Mapping>>;

// What each owner has installed, indexed by key and port, so that checking
// a change costs what the change touches, not the size of the table (with
// 10,000 targets, rebuilding the index for every change made starting them
// all quadratic).
class Installed {
 public:
  Installed() = default;
  explicit Installed(const Owned& owned);

  const Owned& owned() const { return owned_; }
  bool Has(const std::string& owner) const { return owned_.count(owner) > 0; }
  // Records that `owner` now has exactly `mappings` (none: Erase).
  void Set(const std::string& owner, const std::vector<ipc::netd::Mapping>& mappings);
  void Erase(const std::string& owner);

  // The Change that makes `owner`'s mappings `mappings` (enabling them, and
  // disabling those it had that are not among them). InvalidArgument, naming
  // the mapping and the rule, when netd would refuse it: a bad mapping, a key
  // listed twice or held by another owner, more than one message carries,
  // more than `max_mappings` in all, a wildcard and a specific listen address
  // of the same port.
  common::Result<ipc::netd::ChangeRequest> Enable(const std::string& owner,
                                                  const std::vector<ipc::netd::Mapping>& mappings,
                                                  std::uint32_t max_mappings) const;

  // The Change that removes everything `owner` has installed (nothing to
  // check: netd accepted these keys when they went in).
  ipc::netd::ChangeRequest Disable(const std::string& owner) const;

 private:
  Owned owned_;
  std::map<ipc::netd::MappingKey, std::string> owner_of_;
  netd::PortIndex index_;
  std::size_t total_ = 0;
};

// Installed(installed).Enable(...) and .Disable(...), for one-off checks.
common::Result<ipc::netd::ChangeRequest> Enable(const Owned& installed, const std::string& owner,
                                                const std::vector<ipc::netd::Mapping>& mappings,
                                                std::uint32_t max_mappings);
ipc::netd::ChangeRequest Disable(const Owned& installed, const std::string& owner);

// The Flush of `keys`. InvalidArgument when netd would refuse a key, or when
// there are more than one message carries.
common::Result<ipc::netd::FlushRequest> Flush(const std::vector<ipc::netd::MappingKey>& keys);

// A full sync of `desired` split into what netd accepts and what it would
// refuse, by owner in name order: an owner whose mappings would make the set
// unacceptable (see Enable) is left out, with the reason, and the others
// still go in.
struct SyncPlan {
  std::vector<ipc::netd::Mapping> mappings;
  std::vector<std::pair<std::string, common::Status>> refused;  // owner, why
};
SyncPlan PlanSync(const Owned& desired, std::uint32_t max_mappings);

}  // namespace engine::netd_stubs
