// Status response and text components for minecraft:server (see the header).
#include "plugins/minecraft/status_json.h"

#include <nlohmann/json.hpp>

namespace plugins::minecraft {

namespace {

using Json = nlohmann::ordered_json;

std::string Dump(const Json& j) {
  // `replace`: a byte that is not UTF-8 becomes U+FFFD instead of throwing.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

std::string StatusJson(const StatusInfo& info) {
  Json j;
  j["version"] = {{"name", info.version_name}, {"protocol", info.protocol}};
  j["players"] = {{"max", info.max_players}, {"online", info.online}};
  j["description"] = {{"text", info.description}};
  if (!info.favicon.empty()) j["favicon"] = info.favicon;
  return Dump(j);
}

std::string TextComponent(std::string_view text) {
  Json j;
  j["text"] = std::string(text);
  return Dump(j);
}

}  // namespace plugins::minecraft
