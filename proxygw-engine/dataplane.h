// Dataplane: what the engine's targets need from the forwarding layer:
// switch a target's mappings on and off, flush their flows, and know how many
// flows reach each destination. NetdDataplane (netd_dataplane.h) implements it
// over proxygw-netd; tests drive the state machines with a fake. Event loop
// only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/ipc/netd_protocol.h"
#include "common/status.h"

namespace engine {

using Done = std::function<void(common::Status)>;

class Dataplane {
 public:
  // What the dataplane tells the engine.
  struct Listener {
    std::function<void(bool connected)> connection_changed;
    // Flow counts changed (Flows() answers anew).
    std::function<void()> counts_changed;
    // `owner`'s mappings were left out of a sync because netd would refuse
    // them (`why`, InvalidArgument); they are not installed.
    std::function<void(const std::string& owner, const common::Status& why)> refused;
    // netd holds packets for a key (a hold's first packet, a later knock,
    // or, at subscribe, one still held from before): see ipc::netd::Hold.
    std::function<void(const ipc::netd::KnockPush&)> knocked{};
  };

  virtual ~Dataplane() = default;
  virtual void SetListener(Listener listener) = 0;
  // Called with the time from sending each change of mappings (Enable,
  // Disable) to netd's reply, success or error, in seconds; not for requests
  // that got no reply. For the metrics. Default: not measured.
  virtual void SetChangeObserver(std::function<void(double seconds)> /*observer*/) {}

  // True when connected to netd, in sync, and netd's flow snapshot has
  // arrived: flow counts are current.
  virtual bool connected() const = 0;

  // Installs `owner`'s mappings (replacing what it had). Done(ok) once netd
  // applied them; Done(error) changed nothing: InvalidArgument when netd
  // would refuse them (checked before sending; asking again is refused
  // again), Unavailable when netd is unreachable or did not answer in time
  // (what it may have applied is undone by the sync of the next connection).
  virtual void Enable(const std::string& owner, const std::vector<ipc::netd::Mapping>& mappings,
                      Done done) = 0;
  // Removes `owner`'s mappings. Done(error) changed nothing: they stay on.
  virtual void Disable(const std::string& owner, Done done) = 0;
  // Deletes the conntrack entries of these mappings (already disabled or not).
  // NotFound: netd knows no such mapping (it restarted since): nothing to do.
  virtual void Flush(const std::vector<ipc::netd::MappingKey>& keys, Done done) = 0;
  // At start, before connecting: `owner`'s mappings are believed installed
  // (an engine restart adopting an active target); the first sync keeps them.
  virtual void Preset(const std::string& owner, const std::vector<ipc::netd::Mapping>& mappings) = 0;

  // Sets `owner`'s (a frontend's) holds, replacing what it had; empty clears
  // them. They are part of every full sync, and go to netd at once when
  // connected (keys it no longer holds are cleared, refusing what they held).
  // InvalidArgument, and nothing changed, when netd would refuse one (a bad
  // prefix list, a key another owner holds).
  virtual common::Status SetHolds(const std::string& owner,
                                  const std::vector<ipc::netd::Hold>& holds) = 0;
  // Refuses the packets held for `keys` now (their warm failed). Not
  // connected: nothing to do (netd refuses them when their hold runs out).
  virtual void Release(const std::vector<ipc::netd::MappingKey>& keys) = 0;

  // Active DNATed flows to a destination, as netd last reported (0 when
  // unknown or disconnected).
  virtual std::uint32_t Flows(ipc::netd::Proto proto, const common::AddrPort& dest) const = 0;
};

}  // namespace engine
