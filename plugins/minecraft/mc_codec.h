// The slice of the Minecraft Java Edition protocol that minecraft:server
// speaks while its target is cold (wiki.vg, "Java Edition protocol"):
// VarInts, length-prefixed packet frames without compression, the handshake,
// status request, ping, login start, the status response, pong and login
// Disconnect, and the legacy (0xFE) server list ping. Pure functions over
// bytes, no I/O; runs inside proxygw-engine and in the fuzz target.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace plugins::minecraft {

inline constexpr std::size_t kMaxVarIntBytes = 5;
// The handshake's server address is a String of at most 255 characters;
// UTF-8 takes up to 3 bytes for each (wiki.vg's bound).
inline constexpr std::size_t kMaxAddressBytes = 255 * 3;
// A player name is a String of at most 16 characters.
inline constexpr std::size_t kMaxNameBytes = 16 * 3;

// --- VarInt and strings --------------------------------------------------------

void AppendVarInt(std::string& out, std::int32_t value);
// The protocol's String: VarInt byte length, then UTF-8.
void AppendString(std::string& out, std::string_view s);

// A cursor over one packet's bytes. Each read returns nullopt when the bytes
// are short or malformed, and then the cursor is no longer usable.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  std::optional<std::int32_t> VarInt();
  // A String of at most `max_bytes` bytes of UTF-8 (checked).
  std::optional<std::string> String(std::size_t max_bytes);
  std::optional<std::uint16_t> UnsignedShort();
  std::optional<std::string_view> Bytes(std::size_t n);
  std::size_t left() const { return data_.size() - pos_; }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

// --- Framing -----------------------------------------------------------------

enum class FrameState { kNeedMore, kFrame, kError };

struct Frame {
  FrameState state = FrameState::kNeedMore;
  std::string_view payload;  // kFrame: packet id and data, without the length
  std::size_t consumed = 0;  // kFrame: bytes of the buffer it took
  std::string error;         // kError: why, for the log
};

// The first frame of `buffer`. kNeedMore while the length or the packet is
// incomplete; kError for a malformed length (a sixth VarInt byte, a value
// past 32 bits), a length of 0 or over `max_length`. Never reads past
// `buffer`, and decides kError from the length alone, before the packet's
// bytes arrive.
Frame NextFrame(std::string_view buffer, std::size_t max_length);

// `payload` (packet id and data) with its VarInt length in front.
std::string Framed(std::string_view payload);

// --- Packets the client sends ----------------------------------------------------

enum class NextState : std::int32_t { kStatus = 1, kLogin = 2, kTransfer = 3 };

struct Handshake {
  std::int32_t protocol = 0;
  std::string address;
  std::uint16_t port = 0;
  NextState next = NextState::kStatus;
};

// Handshake (packet 0x00 of the handshaking state). Errors name the field.
common::Result<Handshake> ParseHandshake(std::string_view payload);
// Status Request (0x00, no data).
bool IsStatusRequest(std::string_view payload);
// Ping Request (0x01, a Long): its 8 bytes, or nullopt.
std::optional<std::string_view> ParsePing(std::string_view payload);
// Login Start (0x00 of the login state): the player's name. What follows the
// name differs between versions (signature data, UUID) and is not read.
common::Result<std::string> ParseLoginStart(std::string_view payload);

// --- Packets the server sends (whole frames) -------------------------------------

std::string StatusResponse(std::string_view json);
std::string Pong(std::string_view payload8);
std::string LoginDisconnect(std::string_view text_component_json);

// --- The legacy server list ping ---------------------------------------------------

// Clients before 1.7 (and newer ones, as a fallback) open with 0xFE: alone
// (Beta 1.8 to 1.3), followed by 0x01 (1.4, 1.5), or by 0x01 0xFA and a
// plugin message (1.6). A modern frame never starts with 0xFE, as vanilla
// servers assume too.
inline bool IsLegacyPing(std::string_view buffer) {
  return !buffer.empty() && static_cast<unsigned char>(buffer[0]) == 0xFE;
}

struct LegacyInfo {
  std::string motd;
  std::string version_name;
  std::int32_t protocol = 127;  // what 1.4+ clients compare with theirs
  std::int32_t online = 0;
  std::int32_t max = 0;
};

// The kick packet (0xFF, UTF-16BE) that answers a legacy ping: the 1.4+
// format ("§1\0protocol\0version\0motd\0online\0max") when the ping's second
// byte is 0x01, the Beta format ("motd§online§max", with '§' removed from
// the MOTD) otherwise. At most 65535 UTF-16 units: longer texts are cut.
std::string LegacyKick(std::string_view ping, const LegacyInfo& info);

// UTF-8 check (no overlongs, surrogates or values past U+10FFFF).
bool ValidUtf8(std::string_view s);

}  // namespace plugins::minecraft
