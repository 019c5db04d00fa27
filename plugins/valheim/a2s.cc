// A2S requests and answers (see the header). Little-endian integers,
// NUL-ended strings, every read bounded by the datagram.
#include "plugins/valheim/a2s.h"

namespace plugins::valheim {

using common::Status;

namespace {

constexpr std::string_view kInfoPayload{"Source Engine Query\0", 20};

std::uint32_t Le32(std::string_view b) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(b[0])) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[1])) << 8) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[2])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[3])) << 24);
}

void PutLe(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void PutString(std::string& out, std::string_view s) {
  out.append(s.substr(0, s.find('\0')));
  out.push_back('\0');
}

bool AllZero(std::string_view s) { return s.find_first_not_of('\0') == std::string_view::npos; }

std::optional<std::uint32_t> Challenge(std::string_view four) {
  std::uint32_t c = Le32(four);
  if (c == kNoChallenge) return std::nullopt;
  return c;
}

// A cursor over an answer.
class In {
 public:
  explicit In(std::string_view d) : d_(d) {}
  bool ok() const { return ok_; }
  std::size_t left() const { return d_.size(); }
  std::uint64_t Le(int bytes) {
    if (!ok_ || d_.size() < static_cast<std::size_t>(bytes)) return Fail();
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
      v |= static_cast<std::uint64_t>(static_cast<unsigned char>(d_[i])) << (8 * i);
    d_.remove_prefix(static_cast<std::size_t>(bytes));
    return v;
  }
  std::string String() {
    std::size_t end = d_.find('\0');
    if (!ok_ || end == std::string_view::npos) return Fail(), std::string();
    std::string s(d_.substr(0, end));
    d_.remove_prefix(end + 1);
    return s;
  }

 private:
  std::uint64_t Fail() {
    ok_ = false;
    d_ = {};
    return 0;
  }
  std::string_view d_;
  bool ok_ = true;
};

}  // namespace

std::optional<Query> ParseQuery(std::string_view d) {
  if (d.size() < 5 || d.substr(0, 4) != kSimpleHeader) return std::nullopt;
  const auto kind = static_cast<unsigned char>(d[4]);
  std::string_view rest = d.substr(5);
  switch (kind) {
    case static_cast<unsigned char>(QueryKind::kInfo): {
      if (rest.substr(0, kInfoPayload.size()) != kInfoPayload) return std::nullopt;
      rest.remove_prefix(kInfoPayload.size());
      if (rest.empty()) return Query{QueryKind::kInfo, std::nullopt};
      // Some clients pad the request to 1200 bytes; the challenge comes first.
      if (rest.size() < 4 || !AllZero(rest.substr(4))) return std::nullopt;
      return Query{QueryKind::kInfo, Challenge(rest.substr(0, 4))};
    }
    case static_cast<unsigned char>(QueryKind::kPlayer):
    case static_cast<unsigned char>(QueryKind::kRules):
      if (rest.size() < 4 || !AllZero(rest.substr(4))) return std::nullopt;
      return Query{static_cast<QueryKind>(kind), Challenge(rest.substr(0, 4))};
    case static_cast<unsigned char>(QueryKind::kGetChallenge):
    case static_cast<unsigned char>(QueryKind::kPing):
      if (!AllZero(rest)) return std::nullopt;
      return Query{static_cast<QueryKind>(kind), std::nullopt};
    default:
      return std::nullopt;
  }
}

std::string BuildInfo(const Info& i) {
  std::string out(kSimpleHeader);
  out.push_back('I');
  out.push_back(static_cast<char>(i.protocol));
  PutString(out, i.name);
  PutString(out, i.map);
  PutString(out, i.folder);
  PutString(out, i.game);
  PutLe(out, i.app_id, 2);
  out.push_back(static_cast<char>(i.players));
  out.push_back(static_cast<char>(i.max_players));
  out.push_back(static_cast<char>(i.bots));
  out.push_back(static_cast<char>(i.server_type));
  out.push_back(static_cast<char>(i.environment));
  out.push_back(i.password ? 1 : 0);
  out.push_back(i.vac ? 1 : 0);
  PutString(out, i.version);
  out.push_back(static_cast<char>(i.edf));
  if (i.edf & kEdfPort) PutLe(out, i.port, 2);
  if (i.edf & kEdfSteamId) PutLe(out, i.steam_id, 8);
  if (i.edf & kEdfKeywords) PutString(out, i.keywords);
  if (i.edf & kEdfGameId) PutLe(out, i.game_id, 8);
  return out;
}

common::Result<Info> ParseInfo(std::string_view d) {
  if (d.size() < 6 || d.substr(0, 4) != kSimpleHeader || d[4] != 'I') {
    return Status::InvalidArgument("not an A2S_INFO answer");
  }
  In in(d.substr(5));
  Info i;
  i.protocol = static_cast<std::uint8_t>(in.Le(1));
  i.name = in.String();
  i.map = in.String();
  i.folder = in.String();
  i.game = in.String();
  i.app_id = static_cast<std::uint16_t>(in.Le(2));
  i.players = static_cast<std::uint8_t>(in.Le(1));
  i.max_players = static_cast<std::uint8_t>(in.Le(1));
  i.bots = static_cast<std::uint8_t>(in.Le(1));
  i.server_type = static_cast<ServerType>(in.Le(1));
  i.environment = static_cast<Environment>(in.Le(1));
  i.password = in.Le(1) != 0;
  i.vac = in.Le(1) != 0;
  i.version = in.String();
  if (!in.ok()) return Status::InvalidArgument("A2S_INFO answer: truncated");
  if (in.left() == 0) return i;  // no extra data
  i.edf = static_cast<std::uint8_t>(in.Le(1));
  if (i.edf & kEdfPort) i.port = static_cast<std::uint16_t>(in.Le(2));
  if (i.edf & kEdfSteamId) i.steam_id = in.Le(8);
  if (i.edf & 0x40) {  // SourceTV: port and name
    in.Le(2);
    in.String();
  }
  if (i.edf & kEdfKeywords) i.keywords = in.String();
  if (i.edf & kEdfGameId) i.game_id = in.Le(8);
  if (!in.ok()) return Status::InvalidArgument("A2S_INFO answer: truncated extra data");
  if (in.left() != 0) return Status::InvalidArgument("A2S_INFO answer: trailing bytes");
  return i;
}

std::string BuildChallenge(std::uint32_t challenge) {
  std::string out(kSimpleHeader);
  out.push_back('A');
  PutLe(out, challenge, 4);
  return out;
}

std::string BuildNoPlayers() { return std::string(kSimpleHeader) + "D" + std::string(1, '\0'); }

std::string BuildNoRules() { return std::string(kSimpleHeader) + "E" + std::string(2, '\0'); }

std::string BuildPingReply() {
  return std::string(kSimpleHeader) + "j00000000000000" + std::string(1, '\0');
}

}  // namespace plugins::valheim
