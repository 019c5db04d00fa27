// Minecraft Java Edition framing and the packets of the handshaking, status
// and login states (see the header). Every length is checked against what is
// left before anything is read or allocated.
#include "plugins/minecraft/mc_codec.h"

#include <cstring>
#include <vector>

namespace plugins::minecraft {

using common::Status;

void AppendVarInt(std::string& out, std::int32_t value) {
  auto v = static_cast<std::uint32_t>(value);
  do {
    auto byte = static_cast<unsigned char>(v & 0x7F);
    v >>= 7;
    if (v != 0) byte |= 0x80;
    out.push_back(static_cast<char>(byte));
  } while (v != 0);
}

void AppendString(std::string& out, std::string_view s) {
  AppendVarInt(out, static_cast<std::int32_t>(s.size()));
  out.append(s);
}

namespace {

enum class VarIntState { kNeedMore, kOk, kError };

struct DecodedVarInt {
  VarIntState state = VarIntState::kNeedMore;
  std::int32_t value = 0;
  std::size_t length = 0;
};

// A VarInt at the start of `in`: at most 5 bytes, the fifth carrying only
// the top 4 bits of the 32.
DecodedVarInt DecodeVarInt(std::string_view in) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < kMaxVarIntBytes; ++i) {
    if (i == in.size()) return {};
    const auto byte = static_cast<unsigned char>(in[i]);
    if (i == kMaxVarIntBytes - 1 && (byte & 0xF0) != 0) return {VarIntState::kError, 0, 0};
    value |= static_cast<std::uint32_t>(byte & 0x7F) << (7 * i);
    if ((byte & 0x80) == 0) {
      return {VarIntState::kOk, static_cast<std::int32_t>(value), i + 1};
    }
  }
  return {VarIntState::kError, 0, 0};  // unreachable: the fifth byte ends it
}

}  // namespace

std::optional<std::int32_t> Reader::VarInt() {
  DecodedVarInt d = DecodeVarInt(data_.substr(pos_));
  if (d.state != VarIntState::kOk) {
    pos_ = data_.size();
    return std::nullopt;
  }
  pos_ += d.length;
  return d.value;
}

std::optional<std::string_view> Reader::Bytes(std::size_t n) {
  if (n > left()) {
    pos_ = data_.size();
    return std::nullopt;
  }
  std::string_view out = data_.substr(pos_, n);
  pos_ += n;
  return out;
}

std::optional<std::string> Reader::String(std::size_t max_bytes) {
  auto n = VarInt();
  if (!n || *n < 0 || static_cast<std::size_t>(*n) > max_bytes) {
    pos_ = data_.size();
    return std::nullopt;
  }
  auto bytes = Bytes(static_cast<std::size_t>(*n));
  if (!bytes || !ValidUtf8(*bytes)) return std::nullopt;
  return std::string(*bytes);
}

std::optional<std::uint16_t> Reader::UnsignedShort() {
  auto b = Bytes(2);
  if (!b) return std::nullopt;
  return static_cast<std::uint16_t>((static_cast<unsigned char>((*b)[0]) << 8) |
                                    static_cast<unsigned char>((*b)[1]));
}

Frame NextFrame(std::string_view buffer, std::size_t max_length) {
  DecodedVarInt len = DecodeVarInt(buffer);
  if (len.state == VarIntState::kNeedMore) return {};
  if (len.state == VarIntState::kError) {
    return {FrameState::kError, {}, 0, "malformed packet length"};
  }
  if (len.value <= 0) {
    return {FrameState::kError,
            {},
            0,
            "packet length " + std::to_string(len.value) + " is not positive"};
  }
  const auto n = static_cast<std::size_t>(len.value);
  if (n > max_length) {
    return {
        FrameState::kError,
        {},
        0,
        "packet length " + std::to_string(n) + " over the limit of " + std::to_string(max_length)};
  }
  if (buffer.size() - len.length < n) return {};
  return {FrameState::kFrame, buffer.substr(len.length, n), len.length + n, {}};
}

std::string Framed(std::string_view payload) {
  std::string out;
  AppendVarInt(out, static_cast<std::int32_t>(payload.size()));
  out.append(payload);
  return out;
}

common::Result<Handshake> ParseHandshake(std::string_view payload) {
  Reader r(payload);
  auto id = r.VarInt();
  if (!id || *id != 0x00) return Status::InvalidArgument("not a handshake (packet id)");
  Handshake h;
  auto protocol = r.VarInt();
  if (!protocol) return Status::InvalidArgument("handshake: bad protocol version");
  h.protocol = *protocol;
  auto address = r.String(kMaxAddressBytes);
  if (!address) return Status::InvalidArgument("handshake: bad server address");
  h.address = std::move(*address);
  auto port = r.UnsignedShort();
  if (!port) return Status::InvalidArgument("handshake: bad server port");
  h.port = *port;
  auto next = r.VarInt();
  if (!next || *next < 1 || *next > 3) return Status::InvalidArgument("handshake: bad next state");
  h.next = static_cast<NextState>(*next);
  if (r.left() != 0) return Status::InvalidArgument("handshake: trailing bytes");
  return h;
}

bool IsStatusRequest(std::string_view payload) { return payload.size() == 1 && payload[0] == 0; }

std::optional<std::string_view> ParsePing(std::string_view payload) {
  if (payload.size() != 9 || payload[0] != 0x01) return std::nullopt;
  return payload.substr(1);
}

common::Result<std::string> ParseLoginStart(std::string_view payload) {
  Reader r(payload);
  auto id = r.VarInt();
  if (!id || *id != 0x00) return Status::InvalidArgument("not a login start (packet id)");
  auto name = r.String(kMaxNameBytes);
  if (!name || name->empty()) return Status::InvalidArgument("login start: bad player name");
  return std::move(*name);
}

std::string StatusResponse(std::string_view json) {
  std::string p(1, '\x00');
  AppendString(p, json);
  return Framed(p);
}

std::string Pong(std::string_view payload8) {
  std::string p(1, '\x01');
  p.append(payload8);
  return Framed(p);
}

std::string LoginDisconnect(std::string_view text_component_json) {
  std::string p(1, '\x00');
  AppendString(p, text_component_json);
  return Framed(p);
}

bool ValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i - 1 < n) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

namespace {

// UTF-8 to UTF-16 code units; an invalid byte becomes U+FFFD.
std::vector<std::uint16_t> Utf16(std::string_view s) {
  std::vector<std::uint16_t> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : 3;
    if (c >= 0x80 && !ValidUtf8(s.substr(i, n + 1))) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    std::uint32_t cp = n == 0 ? c : n == 1 ? c & 0x1F : n == 2 ? c & 0x0F : c & 0x07;
    for (std::size_t k = 1; k <= n; ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<std::uint16_t>(0xD800 | (cp >> 10)));
      out.push_back(static_cast<std::uint16_t>(0xDC00 | (cp & 0x3FF)));
    } else {
      out.push_back(static_cast<std::uint16_t>(cp));
    }
    i += n + 1;
  }
  return out;
}

}  // namespace

std::string LegacyKick(std::string_view ping, const LegacyInfo& info) {
  const bool v14 = ping.size() >= 2 && static_cast<unsigned char>(ping[1]) == 0x01;
  std::string text;
  if (v14) {
    text =
        "\xC2\xA7"
        "1";
    text += '\0' + std::to_string(info.protocol) + '\0' + info.version_name + '\0' + info.motd +
            '\0' + std::to_string(info.online) + '\0' + std::to_string(info.max);
  } else {
    // '§' separates the fields of the Beta format.
    std::string motd = info.motd;
    for (std::size_t p; (p = motd.find("\xC2\xA7")) != std::string::npos;) motd.erase(p, 2);
    text = motd + "\xC2\xA7" + std::to_string(info.online) + "\xC2\xA7" + std::to_string(info.max);
  }
  std::vector<std::uint16_t> units = Utf16(text);
  if (units.size() > 0xFFFF) units.resize(0xFFFF);
  std::string out;
  out.reserve(3 + 2 * units.size());
  out.push_back(static_cast<char>(0xFF));
  out.push_back(static_cast<char>(units.size() >> 8));
  out.push_back(static_cast<char>(units.size() & 0xFF));
  for (std::uint16_t u : units) {
    out.push_back(static_cast<char>(u >> 8));
    out.push_back(static_cast<char>(u & 0xFF));
  }
  return out;
}

}  // namespace plugins::minecraft
