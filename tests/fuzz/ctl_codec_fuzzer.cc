// Fuzzes the ctl stream decoder: what the engine's ctl plugin reads from any
// local client, and proxygwctl from the engine. Each input is decoded as a
// JSON-lines stream and as a CBOR sequence, fed whole and fed in pieces of
// pseudo-random sizes derived from the input: both feedings must yield the
// same packets and the same error. Every body that decodes must encode to a
// packet that decodes to a body encoding to the same bytes.
// Seeds: tests/fuzz/seeds/ctl.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/ipc/ctl_protocol.h"
#include "common/ipc/ctl_stream.h"

using namespace ipc::ctl;

namespace {

struct Outcome {
  std::vector<std::string> packets;  // a fingerprint of each
  std::string error;
  bool operator==(const Outcome&) const = default;
};

void CheckRoundTrip(Codec codec, std::uint32_t id, const Body& body) {
  const std::string bytes = EncodePacket(codec, id, body);
  StreamDecoder d(codec, kMaxResponseBytes);
  d.Feed(bytes);
  auto r = d.Next();
  if (!r.ok() || !r->has_value() || !(*r)->body.ok()) __builtin_trap();
  const Packet& p = **r;
  if (p.id != id || EncodePacket(codec, p.id, *p.body) != bytes) __builtin_trap();
  auto rest = d.Next();
  if (!rest.ok() || rest->has_value() || !d.Idle()) __builtin_trap();
}

std::string Fingerprint(Codec codec, const Packet& p) {
  std::string f = std::to_string(p.id) + "/" + std::to_string(p.method) + "/";
  if (!p.body.ok()) return f + "error: " + p.body.status().message();
  if (std::holds_alternative<std::monostate>(*p.body)) return f + "-";
  CheckRoundTrip(codec, p.id, *p.body);
  return f + EncodePacket(codec, p.id, *p.body);
}

// Feeds `data` in pieces whose sizes come from `seed` (0: all at once).
Outcome Decode(Codec codec, std::string_view data, std::uint64_t seed) {
  StreamDecoder d(codec, kMaxRequestBytes);
  Outcome out;
  std::size_t pos = 0;
  while (pos < data.size()) {
    std::size_t n = data.size() - pos;
    if (seed != 0) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      n = std::min<std::size_t>(n, 1 + (seed >> 33) % ((seed >> 60) < 2 ? 4096 : 17));
    }
    d.Feed(data.substr(pos, n));
    pos += n;
    for (;;) {
      auto r = d.Next();
      if (!r.ok()) {
        out.error = r.status().message();
        return out;
      }
      if (!r->has_value()) break;
      out.packets.push_back(Fingerprint(codec, **r));
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::uint64_t seed = 1469598103934665603ull;  // FNV-1a of the input
  for (unsigned char c : input) seed = (seed ^ c) * 1099511628211ull;
  seed |= 1;
  for (Codec codec : {Codec::kJson, Codec::kCbor}) {
    if (!(Decode(codec, input, 0) == Decode(codec, input, seed))) __builtin_trap();
  }
  return 0;
}
