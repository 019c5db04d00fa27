// How one field of the config is read and checked (the loader's pieces,
// loader.cc): each reports a problem into the ErrorSink at the field's place
// and returns nullopt (or leaves `*out` alone); nothing is logged. Internal to
// proxygw_config.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/net_address.h"
#include "proxygw-engine/config/config.h"
#include "proxygw-engine/config/yaml_reader.h"

namespace config {

// `s` in double quotes, cut at 80 characters, for messages.
std::string Quoted(std::string_view s);

// Each written field's value (its key, for a null value: yaml-cpp places a
// null at the next token).
FieldLocations LocationsOf(const Fields& f);

// Names become log fields, status keys and state file names: keep them plain.
bool ValidName(const std::string& s);
inline constexpr char kNameRule[] =
    "1-63 characters: letters, digits, '.', '_' and '-', starting with a letter or digit";

// A required name at `key` (ValidName).
std::optional<std::string> ReadName(ErrorSink& sink, const Fields& f, std::string_view key);
// "a:b" with both parts names; `expected` is the example shown in errors.
std::optional<std::pair<std::string, std::string>> ReadPair(ErrorSink& sink, const Fields& f,
                                                            std::string_view key,
                                                            std::string_view expected);
// "namespace:kind" at "kind".
std::optional<KindRef> ReadKind(ErrorSink& sink, const Fields& f);
// "tcp" or "udp" at "protocol" (not required: nullopt without an error).
std::optional<Protocol> ParseProtocol(ErrorSink& sink, const Fields& f);
// A timeout in whole seconds within [1, max]. Missing and not required: `dflt`.
std::optional<std::uint32_t> ReadSeconds(ErrorSink& sink, const Fields& f, std::string_view key,
                                         bool required, std::uint32_t dflt, std::uint32_t max);
// An address:port whose port is not 0; zones are refused by the parser.
// A backend address (`endpoint`) must also be a real host, not 0.0.0.0 or [::].
std::optional<common::AddrPort> ParseAddress(ErrorSink& sink, const YAML::Node& node,
                                             const std::string& path, Location if_null,
                                             bool endpoint);
// A system user name at "user", not root; into `*out` when valid.
void ReadUser(ErrorSink& sink, const Fields& f, std::string* out);
// An absolute path; a Unix socket path also fits sockaddr_un (107 bytes).
void ReadPath(ErrorSink& sink, const Fields& f, std::string_view key, bool socket,
              std::string* out);
// A mapping (or nothing) at `key`, kept as YAML for a plugin to read.
Options ReadOptions(ErrorSink& sink, const Fields& f, std::string_view key);

}  // namespace config
