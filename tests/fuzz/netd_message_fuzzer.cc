// Fuzzes the engine's side of the netd protocol: DecodeMessage on whatever
// netd (or a process impersonating it) sends, and the codec round trip.
// Seeds: tests/fuzz/seeds/netd_message.
#include <cstddef>
#include <cstdint>
#include <span>

#include "common/ipc/netd_protocol.h"

using namespace ipc::netd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto m = DecodeMessage(std::span<const std::uint8_t>(data, size));
  if (!m.ok()) return 0;
  auto again = EncodeMessage(*m);
  auto m2 = DecodeMessage(again);
  if (!m2.ok() || m2->id != m->id || EncodeMessage(*m2) != again) __builtin_trap();
  return 0;
}
