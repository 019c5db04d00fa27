#include "common/ipc/ctl_json.h"

namespace ipc::ctl::detail {

using common::Status;

bool EqualFoldAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

const Json* Find(const Json& obj, std::string_view key) {
  auto it = obj.find(std::string(key));
  if (it != obj.end()) return &*it;
  for (auto i = obj.begin(); i != obj.end(); ++i) {
    if (EqualFoldAscii(i.key(), key)) return &i.value();
  }
  return nullptr;
}

std::string Shown(const Json& v) {
  std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

std::optional<std::uint64_t> AsUnsigned(const Json& v) {
  if (const auto* u = v.get_ptr<const Json::number_unsigned_t*>()) return *u;
  if (const auto* i = v.get_ptr<const Json::number_integer_t*>()) {
    if (*i >= 0) return static_cast<std::uint64_t>(*i);
  }
  return std::nullopt;
}

Status Missing(std::string_view path) {
  return Status::InvalidArgument(std::string(path) + " is missing");
}

Status Wrong(std::string_view path, std::string_view expected, const Json& got) {
  return Status::InvalidArgument(std::string(path) + ": expected " + std::string(expected) +
                                 ", got " + Shown(got));
}

const Json* Optional(const Json& obj, std::string_view key) {
  const Json* v = Find(obj, key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

Status ReadString(const Json& obj, std::string_view path, std::string_view key, bool required,
                  std::string* out) {
  const Json* v = required ? Find(obj, key) : Optional(obj, key);
  if (v == nullptr) return required ? Missing(Join(path, key)) : Status::Ok();
  const auto* s = v->get_ptr<const Json::string_t*>();
  if (s == nullptr) return Wrong(Join(path, key), "a string", *v);
  *out = *s;
  return Status::Ok();
}

Status ReadStrings(const Json& obj, std::string_view path, std::string_view key,
                   std::vector<std::string>* out) {
  const Json* v = Optional(obj, key);
  if (v == nullptr) return Status::Ok();
  if (!v->is_array()) return Wrong(Join(path, key), "a list of strings", *v);
  std::vector<std::string> list;
  for (std::size_t i = 0; i < v->size(); ++i) {
    const auto* s = (*v)[i].get_ptr<const Json::string_t*>();
    if (s == nullptr) return Wrong(Index(Join(path, key), i), "a string", (*v)[i]);
    list.push_back(*s);
  }
  *out = std::move(list);
  return Status::Ok();
}

}  // namespace ipc::ctl::detail
