// Fuzzes the config loader (yaml-cpp parsing plus every structural and
// semantic check) with arbitrary bytes. A config is written by an operator,
// but proxygwctl and the supervisor load it too, and a loader must fail with
// errors, never crash, hang or blow up memory. Seeds: tests/configs/, configs/.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proxygw-engine/config/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  config::LoadResult r = config::LoadConfigString(text, "fuzz.yaml");
  // Every error is located in the file or concerns the whole file; a valid
  // result has a config and no errors.
  if (r.ok() != r.config.has_value()) __builtin_trap();
  for (const auto& e : r.errors) {
    if (e.message.empty()) __builtin_trap();
    (void)e.ToString();
  }
  return 0;
}
