// Helpers the ctl protocol's body codecs share (ctl_protocol.cc,
// ctl_status_codec.cc): finding keys as Go's decoders do, and reading typed
// fields with messages that name the field's path. Internal to
// proxygw_ipc_ctl; library code: no logging, no I/O, nothing throws.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/field_path.h"
#include "common/status.h"

namespace ipc::ctl::detail {

using Json = nlohmann::json;
using OJson = nlohmann::ordered_json;

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

bool EqualFoldAscii(std::string_view a, std::string_view b);

// The value of `key` in object `obj`: the exact key, else the first key equal
// to it ignoring ASCII case (as Go's decoders match struct fields). Null when
// absent.
const Json* Find(const Json& obj, std::string_view key);

// A short rendering of a wrong value for messages.
std::string Shown(const Json& v);

std::optional<std::uint64_t> AsUnsigned(const Json& v);

// Paths here always have a prefix ("body"), so JoinPath's empty case never applies.
inline std::string Join(std::string_view path, std::string_view key) {
  return common::JoinPath(path, key);
}
inline std::string Index(std::string_view path, std::size_t i) {
  return common::IndexPath(path, i);
}

common::Status Missing(std::string_view path);
common::Status Wrong(std::string_view path, std::string_view expected, const Json& got);

// An optional field is absent when missing or null (as Go leaves it zero).
const Json* Optional(const Json& obj, std::string_view key);

// A string field of `obj` (at `path`) into *out; missing is an error only
// when `required`.
common::Status ReadString(const Json& obj, std::string_view path, std::string_view key,
                          bool required, std::string* out);

// A list field: each element decoded by `read`. Missing or null: empty.
template <class T, class F>
common::Status ReadList(const Json& obj, std::string_view path, std::string_view key,
                        std::vector<T>* out, F read) {
  const Json* v = Optional(obj, key);
  if (v == nullptr) return common::Status::Ok();
  std::string p = Join(path, key);
  if (!v->is_array()) return Wrong(p, "a list", *v);
  for (std::size_t i = 0; i < v->size(); ++i) {
    std::string ip = Index(p, i);
    const Json& e = (*v)[i];
    if (!e.is_object()) return Wrong(ip, "an object", e);
    T item;
    if (auto st = read(e, ip, &item); !st.ok()) return st;
    out->push_back(std::move(item));
  }
  return common::Status::Ok();
}

// A list of strings (missing or null: empty).
common::Status ReadStrings(const Json& obj, std::string_view path, std::string_view key,
                           std::vector<std::string>* out);

}  // namespace ipc::ctl::detail
