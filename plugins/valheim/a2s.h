// Valve's server queries (A2S) as a Valheim server answers them on its query
// port: classifying a request (A2S_INFO, A2S_PLAYER, A2S_RULES, the old
// challenge request, A2A_PING) and building the answers, plus a parser of
// A2S_INFO responses for tests and tools. Valve's "Server queries" page is
// the reference. Pure functions over bytes; runs inside proxygw-engine and
// in the fuzz target.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace plugins::valheim {

// Every datagram of the protocol starts with this (a "simple" packet).
inline constexpr std::string_view kSimpleHeader{"\xff\xff\xff\xff", 4};
// A challenge field of -1 asks for a challenge.
inline constexpr std::uint32_t kNoChallenge = 0xFFFFFFFF;

enum class QueryKind : std::uint8_t {
  kInfo = 0x54,          // 'T'
  kPlayer = 0x55,        // 'U'
  kRules = 0x56,         // 'V'
  kGetChallenge = 0x57,  // 'W', A2S_SERVERQUERY_GETCHALLENGE (deprecated)
  kPing = 0x69,          // 'i', A2A_PING (deprecated)
};

struct Query {
  QueryKind kind = QueryKind::kInfo;
  // The challenge the client sent back; nullopt when it sent none (an
  // A2S_INFO without one) or -1 (asking for one).
  std::optional<std::uint32_t> challenge;
};

// The request in `datagram`, or nullopt when it is not one of the above or
// not well formed: A2S_INFO must carry "Source Engine Query\0" and then
// nothing or a 4-byte challenge; A2S_PLAYER and A2S_RULES exactly a 4-byte
// challenge; the other two nothing (trailing zero padding is allowed).
std::optional<Query> ParseQuery(std::string_view datagram);

enum class ServerType : char { kDedicated = 'd', kListen = 'l', kProxy = 'p' };
enum class Environment : char { kLinux = 'l', kWindows = 'w', kMac = 'm' };

// Extra data flags of A2S_INFO.
inline constexpr std::uint8_t kEdfGameId = 0x01;
inline constexpr std::uint8_t kEdfSteamId = 0x10;
inline constexpr std::uint8_t kEdfKeywords = 0x20;
inline constexpr std::uint8_t kEdfPort = 0x80;

struct Info {
  std::uint8_t protocol = 17;
  std::string name;
  std::string map;
  std::string folder;
  std::string game;
  std::uint16_t app_id = 0;
  std::uint8_t players = 0;
  std::uint8_t max_players = 0;
  std::uint8_t bots = 0;
  ServerType server_type = ServerType::kDedicated;
  Environment environment = Environment::kLinux;
  bool password = false;  // "visibility": 1 when a password is needed
  bool vac = false;
  std::string version;
  std::uint8_t edf = 0;
  std::uint16_t port = 0;      // kEdfPort
  std::uint64_t steam_id = 0;  // kEdfSteamId
  std::string keywords;        // kEdfKeywords
  std::uint64_t game_id = 0;   // kEdfGameId
};

// Strings of an Info must not hold NUL bytes (the fields are NUL-ended);
// BuildInfo cuts each at its first NUL.
std::string BuildInfo(const Info& info);
common::Result<Info> ParseInfo(std::string_view datagram);

std::string BuildChallenge(std::uint32_t challenge);  // S2C_CHALLENGE ('A')
std::string BuildNoPlayers();                         // A2S_PLAYER answer, 0 players ('D')
std::string BuildNoRules();                           // A2S_RULES answer, 0 rules ('E')
std::string BuildPingReply();                         // A2A_PING answer ('j')

// The SteamID of an anonymous game server in the public universe (what a
// Valheim server without a Steam login reports).
inline constexpr std::uint64_t kAnonymousGameServerSteamId = (1ull << 56) | (4ull << 52);

}  // namespace plugins::valheim
