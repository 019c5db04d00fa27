// The engine's HA role (docs/ha.md): which role it starts in, and what a
// change of role (`proxygwctl role`, from keepalived's notify hook) asks of
// the targets. Part of Engine (engine_impl.h); event loop only.
#include "common/proc_file.h"
#include "proxygw-engine/engine.h"
#include "proxygw-engine/engine_impl.h"

namespace engine {
namespace {

// The state store's record of the node's role: a name no target can have
// (target names start with a letter or digit).
constexpr const char kRoleRecord[] = "_ha";

// This boot's id: a role recorded in an earlier boot is not the node's role
// now (after a reboot a node that was master must not start as master and
// warm backends the other node runs).
std::string BootId() {
  std::string id = common::ReadProcFile("/proc/sys/kernel/random/boot_id").value_or("");
  while (!id.empty() && id.back() == '\n') id.pop_back();
  return id;
}

}  // namespace

common::HaRole Engine::Impl::StartRole() {
  if (!current->ha.enabled) return common::HaRole::kMaster;
  const nlohmann::json rec = state.Get(kRoleRecord);
  const std::string boot = BootId();
  const std::string recorded =
      !boot.empty() && rec.value("boot", "") == boot ? rec.value("role", "") : "";
  if (auto r = common::ParseHaRole(recorded)) {
    log.Info("ha: role recorded by an earlier engine of this boot",
             {{"role", common::HaRoleName(*r)}});
    return *r;
  }
  log.Info("ha: initial role, until keepalived's notify hook says one",
           {{"role", common::HaRoleName(current->ha.initial_role)}});
  return current->ha.initial_role;
}

common::Status Engine::Impl::NotLeading() const {
  return common::Status::Unavailable(std::string("this node is the HA ") +
                                     common::HaRoleName(role) +
                                     "; the master decides warms and drains");
}

common::Status Engine::SetRole(common::HaRole role, common::HaRole* previous) {
  Impl& s = *impl_;
  if (s.closed) return common::Status::Unavailable("the engine is shutting down");
  if (!s.current->ha.enabled) {
    return common::Status::InvalidArgument(
        "this engine's config has no ha section; it is always master (see docs/ha.md)");
  }
  const common::HaRole before = s.role;
  if (common::Status st =
          s.state.Put(kRoleRecord, {{"role", common::HaRoleName(role)}, {"boot", BootId()}});
      !st.ok()) {
    s.log.Warn(
        "could not record the HA role; a restarted engine starts in ha.initial_role, "
        "ignoring",
        {{"error", st.message()}});
  }
  if (previous != nullptr) *previous = before;
  if (role == before) return common::Status::Ok();
  s.role = role;
  s.log.Info("ha: role changed",
             {{"role", common::HaRoleName(role)}, {"from", common::HaRoleName(before)}});
  if (role == common::HaRole::kMaster) {
    // Retiring targets close as they are; a running one decides again.
    for (auto& [name, slot] : s.targets) {
      if (slot.target) slot.target->Lead();
    }
  } else if (before == common::HaRole::kMaster) {
    s.warm_after_drain.clear();
    s.warm_after_probe.clear();
    for (Target* t : s.AllTargets()) t->Follow();
  }
  return common::Status::Ok();
}

}  // namespace engine
