#include "plugins/ctl/request_handler.h"

#include <algorithm>

namespace ctl_plugin {
namespace {

namespace wire = ipc::ctl;

wire::Protocol ToWire(config::Protocol p) {
  switch (p) {
    case config::Protocol::kTcp:
      return wire::Protocol::kTcp;
    case config::Protocol::kUdp:
      return wire::Protocol::kUdp;
  }
  return wire::Protocol::kTcp;
}

template <class T>
void SortByName(std::vector<T>& v) {
  std::stable_sort(v.begin(), v.end(), [](const T& a, const T& b) { return a.name < b.name; });
}

}  // namespace

wire::StatusResponse ToStatusResponse(const engine::StatusSnapshot& s) {
  wire::StatusResponse out;
  out.closed = s.closed;
  out.dataplane_connected = s.dataplane_connected;
  out.role = s.role;
  for (const auto& t : s.targets) {
    wire::TargetStatus w;
    w.name = t.name;
    w.kind = t.kind;
    w.state = t.state;
    w.last_error = t.last_error;
    w.kept_warm_by = t.kept_warm_by;
    w.follow = t.follow;
    w.flows = t.flows;
    w.since = t.since;
    for (const auto& e : t.endpoints) {
      w.endpoints.push_back(wire::EndpointStatus{e.name, ToWire(e.protocol), e.addresses});
    }
    SortByName(w.endpoints);
    out.targets.push_back(std::move(w));
  }
  for (const auto& f : s.frontends) {
    wire::FrontendStatus w;
    w.name = f.name;
    w.kind = f.kind;
    w.state = f.state;
    w.last_error = f.last_error;
    w.protocol = ToWire(f.protocol);
    w.listen = f.listen;
    w.target_name = f.target_name;
    w.endpoint_name = f.endpoint_name;
    w.proxy_addresses = f.proxy_addresses;
    w.knocks = f.knocks;
    w.last_knock_from = f.last_knock_from;
    out.frontends.push_back(std::move(w));
  }
  SortByName(out.targets);
  SortByName(out.frontends);
  return out;
}

namespace {

wire::ChangeList ToWire(const engine::ChangeList& c) {
  return wire::ChangeList{c.added, c.removed, c.changed, c.unchanged};
}

wire::ReloadResponse ToReloadResponse(const engine::ReloadReport& r) {
  return wire::ReloadResponse{r.applied, r.errors, ToWire(r.targets), ToWire(r.frontends),
                              r.remapped};
}

}  // namespace

std::optional<wire::Body> Respond(engine::Control& control, const wire::Packet& packet) {
  if (packet.id == 0 || wire::IsResponse(packet.method)) return std::nullopt;
  if (!packet.body.ok()) return wire::Body(wire::ErrorFrom(packet.body.status()));
  const wire::Body& body = *packet.body;
  if (std::holds_alternative<wire::StatusRequest>(body)) {
    return wire::Body(ToStatusResponse(control.Status()));
  }
  if (const auto* warm = std::get_if<wire::WarmTargetRequest>(&body)) {
    common::Status st = control.Warm(warm->name);
    if (!st.ok()) return wire::Body(wire::ErrorFrom(st));
    return wire::Body(wire::WarmTargetResponse{});
  }
  if (const auto* drain = std::get_if<wire::DrainTargetRequest>(&body)) {
    common::Status st = control.Drain(drain->name);
    if (!st.ok()) return wire::Body(wire::ErrorFrom(st));
    return wire::Body(wire::DrainTargetResponse{});
  }
  if (const auto* role = std::get_if<wire::RoleRequest>(&body)) {
    common::HaRole previous = role->role;
    common::Status st = control.SetRole(role->role, &previous);
    if (!st.ok()) return wire::Body(wire::ErrorFrom(st));
    return wire::Body(wire::RoleResponse{role->role, previous});
  }
  if (std::holds_alternative<wire::ReloadRequest>(body)) {
    // Refused or applied, the answer is a ReloadResponse: a refusal's errors
    // are located config errors, not a protocol failure.
    return wire::Body(ToReloadResponse(control.Reload()));
  }
  return wire::Body(wire::ErrorFrom(common::Status::InvalidArgument(
      "unsupported method " + std::to_string(packet.method))));
}

}  // namespace ctl_plugin
