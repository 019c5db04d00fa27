#include "common/ipc/ctl_reload_codec.h"

#include <utility>

namespace ipc::ctl {
namespace detail {
namespace {

using common::Result;
using common::Status;

constexpr const char* kLists[] = {"added", "removed", "changed", "unchanged"};

std::vector<std::string>* ListOf(ChangeList& c, std::size_t i) {
  std::vector<std::string>* lists[] = {&c.added, &c.removed, &c.changed, &c.unchanged};
  return lists[i];
}

OJson EncodeChanges(const ChangeList& c) {
  OJson o = OJson::object();
  ChangeList copy = c;
  for (std::size_t i = 0; i < std::size(kLists); ++i) {
    if (!ListOf(copy, i)->empty()) o[kLists[i]] = *ListOf(copy, i);
  }
  return o;
}

Status ReadChanges(const Json& b, std::string_view key, ChangeList* out) {
  const Json* v = Optional(b, key);
  if (v == nullptr) return Status::Ok();
  const std::string path = Join("body", key);
  if (!v->is_object()) return Wrong(path, "an object", *v);
  ChangeList c;
  for (std::size_t i = 0; i < std::size(kLists); ++i) {
    if (Status st = ReadStrings(*v, path, kLists[i], ListOf(c, i)); !st.ok()) return st;
  }
  *out = std::move(c);
  return Status::Ok();
}

}  // namespace

OJson EncodeReload(const ReloadResponse& r) {
  OJson o = OJson::object();
  o["applied"] = r.applied;
  if (!r.errors.empty()) o["errors"] = r.errors;
  OJson targets = EncodeChanges(r.targets);
  if (!targets.empty()) o["targets"] = std::move(targets);
  OJson frontends = EncodeChanges(r.frontends);
  if (!frontends.empty()) o["frontends"] = std::move(frontends);
  if (!r.remapped.empty()) o["remapped"] = r.remapped;
  return o;
}

Result<Body> ReadReload(const Json& b) {
  ReloadResponse r;
  if (const Json* v = Optional(b, "applied")) {
    if (!v->is_boolean()) return Wrong("body.applied", "true or false", *v);
    r.applied = v->get<bool>();
  }
  Status st = ReadStrings(b, "body", "errors", &r.errors);
  if (st.ok()) st = ReadChanges(b, "targets", &r.targets);
  if (st.ok()) st = ReadChanges(b, "frontends", &r.frontends);
  if (st.ok()) st = ReadStrings(b, "body", "remapped", &r.remapped);
  if (!st.ok()) return st;
  return Body(std::move(r));
}

}  // namespace detail

std::string ReloadResponseText(const ReloadResponse& r) {
  std::string out;
  if (!r.applied) {
    for (const auto& e : r.errors) out += e + "\n";
    return out;
  }
  auto line = [&out](const std::string& what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    out += what + ":";
    for (std::size_t i = 0; i < names.size(); ++i) out += (i == 0 ? " " : ", ") + names[i];
    out += "\n";
  };
  for (const auto& [noun, c] : {std::pair{"targets", &r.targets}, {"frontends", &r.frontends}}) {
    ChangeList copy = *c;
    for (std::size_t i = 0; i < std::size(detail::kLists); ++i) {
      line(std::string(noun) + " " + detail::kLists[i], *detail::ListOf(copy, i));
    }
  }
  line("targets remapped", r.remapped);
  if (out.empty()) out = "nothing to change\n";
  return out;
}

}  // namespace ipc::ctl
