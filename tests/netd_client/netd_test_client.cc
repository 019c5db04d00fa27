// netd-test-client: speaks the real netd protocol (common/ipc) on behalf of
// the integration tests. It connects to netd's socket (after switching to
// --uid and --gid, by default the engine's), then reads one JSON command per line on stdin and
// writes one JSON line per message from netd on stdout, pushes included, as
// they arrive. Test-only; never installed.
//
// Commands:
//   {"op":"hello","version":2}
//   {"op":"sync","mappings":[M...],"holds":[H...]}
//                                        begin, add in chunks, commit; prints every reply
//   {"op":"sync-begin","total":N} / {"op":"sync-add","mappings":[M...]} / {"op":"sync-commit"}
//   {"op":"change","enable":[M...],"disable":[K...]}
//   {"op":"flush","keys":[K...]}
//   {"op":"subscribe"}
//   {"op":"shutdown","remove_table":true}
//   {"op":"hold","holds":[H...]}         sets (hold_s >= 1) or clears (hold_s 0) holds
//   {"op":"release","keys":[K...]}       refuses what is held for the keys
//   {"op":"raw","hex":"..."}             sends the bytes as one packet
//   {"op":"pause"} / {"op":"resume"}     stops / starts reading netd's messages
//                                        (an engine that does not read: backpressure)
//   {"op":"close"}                       closes the connection and exits
// M = {"proto":"tcp","listen":"198.18.0.1:80","dest":"198.18.2.2:8080","timeout":60}
// K = {"proto":"tcp","listen":"198.18.0.1:80"}
// H = {"proto":"tcp","listen":"198.18.0.1:80","hold_s":30,"allow":["198.18.1.0/24"]}
// Knock pushes print as {"type":"knock","key":K,"source":"198.18.1.2","held":N}.
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "common/ipc/netd_protocol.h"

using json = nlohmann::json;
using namespace ipc::netd;

namespace {

int g_fd = -1;
std::uint32_t g_next_id = 1;
bool g_paused = false;

[[noreturn]] void Die(const std::string& why) {
  std::cout << json{{"type", "fatal"}, {"message", why}}.dump() << std::endl;
  std::exit(1);
}

Proto ParseProto(const json& j) {
  std::string p = j.at("proto");
  if (p == "tcp") return Proto::kTcp;
  if (p == "udp") return Proto::kUdp;
  Die("bad proto " + p);
}

MappingKey ParseKey(const json& j) {
  auto a = common::AddrPort::Parse(j.at("listen").get<std::string>());
  if (!a.ok()) Die(a.status().message());
  return MappingKey{ParseProto(j), a->address, a->port};
}

Mapping ParseMapping(const json& j) {
  auto d = common::AddrPort::Parse(j.at("dest").get<std::string>());
  if (!d.ok()) Die(d.status().message());
  return Mapping{ParseKey(j), *d, j.value("timeout", 60u)};
}

Hold ParseHold(const json& j) {
  Hold h{ParseKey(j), j.value("hold_s", 30u), {}};
  for (const auto& a : j.value("allow", json::array())) {
    std::string text = a;
    auto slash = text.find('/');
    auto addr = common::IpAddress::Parse(text.substr(0, slash));
    if (!addr.ok() || slash == std::string::npos) Die("bad prefix " + text);
    h.allow.push_back({*addr, static_cast<std::uint8_t>(std::stoi(text.substr(slash + 1)))});
  }
  return h;
}

json KeyJson(const MappingKey& k) {
  return {{"proto", ProtoName(k.proto)}, {"listen", common::AddrPort{k.listen, k.port}.ToString()}};
}

void SendBytes(const std::vector<std::uint8_t>& b) {
  if (send(g_fd, b.data(), b.size(), MSG_NOSIGNAL) < 0) {
    std::cout << json{{"type", "send-error"}, {"message", std::strerror(errno)}}.dump() << std::endl;
  }
}

void SendRequest(RequestBody body) { SendBytes(EncodeRequest(Request{g_next_id++, std::move(body)})); }

// Prints one message from netd. Returns false when the connection closed.
bool ReadOne(bool block) {
  std::vector<std::uint8_t> buf(kMaxMessageBytes + 1);
  ssize_t n = recv(g_fd, buf.data(), buf.size(), block ? 0 : MSG_DONTWAIT);
  // netd closing with our requests unread resets the connection, and the
  // reset is reported before the replies it sent first (its refusal): read
  // on once to find them, as the engine does (netd_connection.cc).
  if (n < 0 && errno == ECONNRESET) n = recv(g_fd, buf.data(), buf.size(), block ? 0 : MSG_DONTWAIT);
  if (n < 0) {
    if (errno == EAGAIN) return true;
    std::cout << json{{"type", "closed"}, {"message", std::strerror(errno)}}.dump() << std::endl;
    return false;
  }
  if (n == 0) {
    std::cout << json{{"type", "closed"}}.dump() << std::endl;
    return false;
  }
  buf.resize(static_cast<std::size_t>(n));
  auto m = DecodeMessage(buf);
  if (!m.ok()) {
    std::cout << json{{"type", "undecodable"}, {"message", m.status().message()}}.dump() << std::endl;
    return true;
  }
  json out;
  out["id"] = m->id;
  if (auto* r = std::get_if<ReplyBody>(&m->body)) {
    out["type"] = "reply";
    if (auto* h = std::get_if<HelloReply>(r)) {
      out["kind"] = "hello";
      out["version"] = h->version;
      out["persistent_table"] = h->persistent_table;
      out["max_mappings"] = h->max_mappings;
      out["mark_mask"] = h->mark_mask;
      out["installed"] = h->installed;
    } else if (auto* a = std::get_if<ApplyReply>(r)) {
      out["kind"] = "apply";
      out["added"] = a->added;
      out["removed"] = a->removed;
      out["unchanged"] = a->unchanged;
      out["warnings"] = json::array();
      for (const auto& w : a->warnings) {
        out["warnings"].push_back({{"key", KeyJson(w.key)},
                                   {"code", w.code == WarningCode::kRouteLocalnetOff
                                                ? "route_localnet_off"
                                                : "ipv6_loopback_local_only"}});
      }
    } else {
      out["kind"] = "empty";
    }
  } else if (auto* e = std::get_if<ErrorReply>(&m->body)) {
    out["type"] = "error";
    out["code"] = ErrorCodeName(e->code);
    out["errno"] = e->err;
    out["message"] = e->message;
  } else if (auto* k = std::get_if<KnockPush>(&m->body)) {
    out["type"] = "knock";
    out["key"] = KeyJson(k->key);
    out["source"] = k->source.ToString();
    out["held"] = k->held;
  } else {
    const auto& p = std::get<FlowCountsPush>(m->body);
    out["type"] = "counts";
    out["reset"] = p.reset;
    out["counts"] = json::array();
    for (const auto& c : p.counts) {
      out["counts"].push_back(
          {{"proto", ProtoName(c.proto)}, {"dest", c.destination.ToString()}, {"flows", c.flows}});
    }
  }
  std::cout << out.dump() << std::endl;
  return true;
}

void Command(const json& c) {
  std::string op = c.at("op");
  if (op == "hello") {
    SendRequest(HelloRequest{c.value("version", kProtocolVersion)});
  } else if (op == "sync") {
    std::vector<Mapping> ms;
    for (const auto& j : c.at("mappings")) ms.push_back(ParseMapping(j));
    std::vector<Hold> hs;
    for (const auto& j : c.value("holds", json::array())) hs.push_back(ParseHold(j));
    SendRequest(SyncBeginRequest{static_cast<std::uint32_t>(ms.size()),
                                 static_cast<std::uint32_t>(hs.size())});
    for (std::size_t i = 0; i < ms.size(); i += kMaxItemsPerMessage) {
      auto end = std::min(ms.size(), i + kMaxItemsPerMessage);
      SendRequest(
          SyncAddRequest{std::vector<Mapping>(ms.begin() + static_cast<std::ptrdiff_t>(i),
                                              ms.begin() + static_cast<std::ptrdiff_t>(end)),
                         {}});
    }
    for (std::size_t i = 0; i < hs.size(); i += kMaxHoldsPerMessage) {
      auto end = std::min(hs.size(), i + kMaxHoldsPerMessage);
      SendRequest(SyncAddRequest{{},
                                 std::vector<Hold>(hs.begin() + static_cast<std::ptrdiff_t>(i),
                                                   hs.begin() + static_cast<std::ptrdiff_t>(end))});
    }
    SendRequest(SyncCommitRequest{});
  } else if (op == "sync-begin") {
    SendRequest(SyncBeginRequest{c.at("total").get<std::uint32_t>(), c.value("holds", 0u)});
  } else if (op == "sync-add") {
    std::vector<Mapping> ms;
    for (const auto& j : c.at("mappings")) ms.push_back(ParseMapping(j));
    std::vector<Hold> hs;
    for (const auto& j : c.value("holds", json::array())) hs.push_back(ParseHold(j));
    SendRequest(SyncAddRequest{std::move(ms), std::move(hs)});
  } else if (op == "sync-commit") {
    SendRequest(SyncCommitRequest{});
  } else if (op == "change") {
    ChangeRequest r;
    for (const auto& j : c.value("enable", json::array())) r.enable.push_back(ParseMapping(j));
    for (const auto& j : c.value("disable", json::array())) r.disable.push_back(ParseKey(j));
    SendRequest(std::move(r));
  } else if (op == "flush") {
    FlushRequest r;
    for (const auto& j : c.at("keys")) r.keys.push_back(ParseKey(j));
    SendRequest(std::move(r));
  } else if (op == "subscribe") {
    SendRequest(SubscribeRequest{});
  } else if (op == "shutdown") {
    SendRequest(ShutdownRequest{c.value("remove_table", false)});
  } else if (op == "hold") {
    HoldRequest r;
    for (const auto& j : c.at("holds")) r.holds.push_back(ParseHold(j));
    SendRequest(std::move(r));
  } else if (op == "release") {
    ReleaseRequest r;
    for (const auto& j : c.at("keys")) r.keys.push_back(ParseKey(j));
    SendRequest(std::move(r));
  } else if (op == "raw") {
    std::string hex = c.at("hex");
    std::vector<std::uint8_t> b;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
      b.push_back(static_cast<std::uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    if (c.contains("repeat")) {  // a large packet: the hex repeated
      std::vector<std::uint8_t> big;
      for (int i = 0; i < c["repeat"].get<int>(); ++i) big.insert(big.end(), b.begin(), b.end());
      b = std::move(big);
    }
    SendBytes(b);
  } else if (op == "pause" || op == "resume") {
    g_paused = op == "pause";
  } else if (op == "close") {
    close(g_fd);
    std::exit(0);
  } else {
    Die("unknown op " + op);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  long uid = -1, gid = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--socket") == 0) path = argv[i + 1];
    if (std::strcmp(argv[i], "--uid") == 0) uid = std::stol(argv[i + 1]);
    if (std::strcmp(argv[i], "--gid") == 0) gid = std::stol(argv[i + 1]);
  }
  if (path.empty()) Die("usage: netd-test-client --socket PATH [--uid UID [--gid GID]]");
  if (gid < 0) gid = uid;
  if (uid >= 0) {
    if (setgroups(0, nullptr) != 0 || setgid(static_cast<gid_t>(gid)) != 0 ||
        setuid(static_cast<uid_t>(uid)) != 0) {
      Die(std::string("setuid: ") + std::strerror(errno));
    }
  }
  g_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (connect(g_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    Die(std::string("connect: ") + std::strerror(errno));
  }
  std::cout << json{{"type", "connected"}}.dump() << std::endl;
  std::ios::sync_with_stdio(false);  // cin's own buffer, so that in_avail() sees it
  std::string line;
  pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {g_fd, POLLIN, 0}};
  bool stdin_open = true, sock_open = true;
  while (sock_open) {
    fds[0].fd = stdin_open ? STDIN_FILENO : -1;
    fds[1].fd = g_paused ? -1 : g_fd;
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      Die("poll");
    }
    if (!g_paused && fds[1].revents) sock_open = ReadOne(false);
    // Every command already read into cin's buffer, not only the first:
    // poll() cannot see those (commands sent back to back waited for more).
    if (stdin_open && fds[0].revents) {
      do {
        if (!std::getline(std::cin, line)) {
          stdin_open = false;
          break;
        }
        if (line.empty()) continue;
        try {
          Command(json::parse(line));
        } catch (const std::exception& e) {
          Die(std::string("bad command: ") + e.what());
        }
      } while (std::cin.rdbuf()->in_avail() > 0);
    }
  }
  return 0;
}
