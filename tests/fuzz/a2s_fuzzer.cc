// Fuzzes valheim:status's A2S request parser, which reads any datagram that
// reaches the query port, and the A2S_INFO answer parser (used by tests and
// tools): no crash, and an answer that parses must build back to bytes that
// parse to the same fields.
// Seeds: tests/fuzz/seeds/a2s.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "plugins/valheim/a2s.h"

using namespace plugins::valheim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto q = ParseQuery(input)) {
    if (q->challenge && *q->challenge == kNoChallenge) __builtin_trap();
  }
  auto info = ParseInfo(input);
  if (info.ok()) {
    Info i = *info;
    i.edf &= static_cast<std::uint8_t>(~0x40);  // BuildInfo writes no SourceTV data
    auto again = ParseInfo(BuildInfo(i));
    if (!again.ok() || again->name != i.name || again->map != i.map || again->folder != i.folder ||
        again->version != i.version || again->keywords != i.keywords || again->port != i.port ||
        again->game_id != i.game_id || again->password != i.password) {
      __builtin_trap();
    }
  }
  return 0;
}
