// Fuzzes what minecraft:server reads from any client while its target is
// cold: the frame splitter (VarInt lengths, the packet limit) and the
// handshake, status, ping and login start parsers, driven as the server
// drives them, plus the legacy ping's answer. The input is fed whole and in
// pieces of pseudo-random sizes derived from it: both feedings must give the
// same packets and the same verdict. A parsed handshake must encode back to
// a packet that parses the same.
// Seeds: tests/fuzz/seeds/minecraft.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/minecraft/mc_codec.h"
#include "plugins/minecraft/status_json.h"

using namespace plugins::minecraft;

namespace {

constexpr std::size_t kMaxPacket = 4096;

void CheckHandshakeRoundTrip(const Handshake& h) {
  std::string p(1, '\0');
  AppendVarInt(p, h.protocol);
  AppendString(p, h.address);
  p += static_cast<char>(h.port >> 8);
  p += static_cast<char>(h.port & 0xff);
  AppendVarInt(p, static_cast<std::int32_t>(h.next));
  auto again = ParseHandshake(p);
  if (!again.ok() || again->protocol != h.protocol || again->address != h.address ||
      again->port != h.port || again->next != h.next) {
    __builtin_trap();
  }
}

// What the server makes of the packets it has: one fingerprint per packet.
std::string OnPacket(std::string_view payload, int& phase) {
  if (phase == 0) {
    auto h = ParseHandshake(payload);
    if (!h.ok()) return "E:" + h.status().message();
    CheckHandshakeRoundTrip(*h);
    phase = h->next == NextState::kStatus ? 1 : 2;
    // The answer is built from the client's protocol number as well.
    StatusInfo info{"v", h->protocol, 0, 0, h->address, ""};
    if (StatusJson(info).empty()) __builtin_trap();
    return "H" + std::to_string(h->protocol);
  }
  if (phase == 1) {
    if (IsStatusRequest(payload)) return "S";
    if (auto ping = ParsePing(payload)) {
      if (Pong(*ping).size() != 10) __builtin_trap();
      return "P";
    }
    return "E:status";
  }
  auto name = ParseLoginStart(payload);
  if (!name.ok()) return "E:" + name.status().message();
  if (TextComponent(*name).empty()) __builtin_trap();
  return "L" + *name;
}

std::vector<std::string> Serve(std::string_view data, std::uint64_t seed) {
  std::vector<std::string> out;
  std::string buffer;
  int phase = 0;
  std::size_t pos = 0;
  while (pos < data.size()) {
    std::size_t n = data.size() - pos;
    if (seed != 0) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      n = std::min<std::size_t>(n, 1 + (seed >> 33) % 17);
    }
    buffer.append(data.substr(pos, n));
    pos += n;
    if (phase == 0 && out.empty() && IsLegacyPing(buffer)) {
      // The server answers at its first read; the answer depends on what it
      // has by then, so only its shape is checked.
      std::string kick = LegacyKick(buffer, {"motd", "v", 127, 0, 20});
      if (kick.size() < 3 || static_cast<unsigned char>(kick[0]) != 0xFF) __builtin_trap();
      out.push_back("legacy");
      return out;
    }
    for (;;) {
      Frame f = NextFrame(buffer, kMaxPacket);
      if (f.state == FrameState::kNeedMore) break;
      if (f.state == FrameState::kError) {
        out.push_back("E:" + f.error);
        return out;
      }
      if (f.payload.size() > kMaxPacket || f.consumed > buffer.size()) __builtin_trap();
      std::string fp = OnPacket(f.payload, phase);
      buffer.erase(0, f.consumed);
      out.push_back(fp);
      if (fp[0] == 'E' || fp[0] == 'L' || fp[0] == 'P') return out;
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
  auto whole = Serve(input, 0);
  auto pieces = Serve(input, seed);
  // A legacy ping is decided on the first read, which differs by feeding.
  if (!(whole.size() == 1 && whole[0] == "legacy") && whole != pieces) __builtin_trap();
  return 0;
}
