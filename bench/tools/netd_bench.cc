// netd-bench: section 2 of `make bench`. Speaks proxygw-netd's real protocol
// (common/ipc/netd_protocol.h) as the engine does, over netd's socket, as the
// engine's uid, and times what the engine would wait for:
//
//   - full syncs of N mappings (sync-begin, sync-add chunks, sync-commit,
//     pipelined as the engine sends them): into an empty table, again with
//     the same set (nothing to change), and back to empty;
//   - with N mappings present, `--toggles` times: a Change enabling one
//     mapping (until netd's reply, i.e. the kernel transaction committed),
//     then, with --probe, a TCP connect through that mapping until it
//     succeeds (the mapping is live for a client), then a Change disabling it.
//
// Run it inside the gateway's network namespace (the probe connects to the
// mapping's listen address from there: local clients go through netd's
// output-hook DNAT). It prints one JSON object per line; the harness
// (bench/pgwbench/control.py) computes the statistics.
//
//   netd-bench --socket PATH --uid UID --gid GID [--sizes 1,1000,10000,50000]
//              [--toggles 1000] [--toggle-listen 198.18.100.1:9000]
//              [--dest 198.18.11.2:80] [--timeout 60] [--probe] [--subscribe]
//              [--toggle-seconds 30]
//
// --toggle-seconds bounds the toggles at each size in time (the count is
// reported): a change that grows with the table must not stall the run.
#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/ipc/netd_protocol.h"

using namespace ipc::netd;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void Die(const std::string& why) {
  std::printf("{\"event\":\"fatal\",\"message\":\"%s\"}\n", why.c_str());
  std::fflush(stdout);
  std::exit(1);
}

double Us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

class Conn {
 public:
  explicit Conn(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd_ < 0) Die(std::string("socket: ") + std::strerror(errno));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      Die("connect " + path + ": " + std::strerror(errno));
    }
  }

  std::uint32_t Send(RequestBody body) {
    std::uint32_t id = next_id_++;
    auto bytes = EncodeRequest(Request{id, std::move(body)});
    if (send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size())) {
      Die(std::string("send: ") + std::strerror(errno));
    }
    return id;
  }

  // The reply to request `id` (netd answers in order); pushes are counted and skipped.
  NetdMessage Wait(std::uint32_t id) {
    for (;;) {
      ssize_t n = recv(fd_, buf_.data(), buf_.size(), 0);
      if (n <= 0) Die(n == 0 ? "netd closed the connection" : std::string("recv: ") + std::strerror(errno));
      auto m = DecodeMessage(std::span<const std::uint8_t>(buf_.data(), static_cast<std::size_t>(n)));
      if (!m.ok()) Die("undecodable message: " + m.status().message());
      if (m->id == 0 && std::holds_alternative<FlowCountsPush>(m->body)) {
        ++pushes;
        continue;
      }
      if (auto* e = std::get_if<ErrorReply>(&m->body)) {
        Die(std::string("netd error ") + ErrorCodeName(e->code) + " for request " +
            std::to_string(m->id) + ": " + e->message);
      }
      if (m->id != id) Die("reply for request " + std::to_string(m->id) + ", expected " + std::to_string(id));
      return std::move(m).value();
    }
  }

  NetdMessage Call(RequestBody body) { return Wait(Send(std::move(body))); }

  std::uint64_t pushes = 0;

 private:
  int fd_ = -1;
  std::uint32_t next_id_ = 1;
  std::vector<std::uint8_t> buf_ = std::vector<std::uint8_t>(kMaxMessageBytes + 1);
};

common::AddrPort ParseAddrPort(const std::string& s) {
  auto r = common::AddrPort::Parse(s);
  if (!r.ok()) Die("bad address " + s + ": " + r.status().message());
  return *r;
}

// Filler mapping i (1-based): tcp 198.19.(i>>8).(i&255):80 -> dest. Keys are
// unique for i < 65536; none of these addresses exists anywhere.
Mapping Filler(std::uint32_t i, const common::AddrPort& dest, std::uint32_t timeout) {
  std::array<std::uint8_t, 4> b{198, 19, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i & 255)};
  return Mapping{MappingKey{Proto::kTcp, common::IpAddress::V4(b), 80}, dest, timeout};
}

struct SyncResult {
  double seconds;
  ApplyReply reply;
};

// One full sync as the engine sends it: begin, every chunk, commit, pipelined.
SyncResult Sync(Conn& c, const std::vector<Mapping>& all) {
  auto t0 = Clock::now();
  std::vector<std::uint32_t> ids;
  ids.push_back(c.Send(SyncBeginRequest{static_cast<std::uint32_t>(all.size())}));
  for (std::size_t i = 0; i < all.size(); i += kMaxItemsPerMessage) {
    auto end = std::min(all.size(), i + kMaxItemsPerMessage);
    ids.push_back(c.Send(SyncAddRequest{std::vector<Mapping>(all.begin() + static_cast<std::ptrdiff_t>(i),
                                                             all.begin() + static_cast<std::ptrdiff_t>(end))}));
  }
  ids.push_back(c.Send(SyncCommitRequest{}));
  NetdMessage last;
  for (auto id : ids) last = c.Wait(id);
  auto t1 = Clock::now();
  const auto* a = std::get_if<ApplyReply>(&std::get<ReplyBody>(last.body));
  if (a == nullptr) Die("sync-commit: not an apply reply");
  return {std::chrono::duration<double>(t1 - t0).count(), *a};
}

// Connects to `to` until it succeeds (a refused connect means the mapping is
// not live yet); gives up after 2 s. Returns false on give-up. The socket is
// closed with RST (SO_LINGER 0) so that no TIME_WAIT piles up.
bool ConnectUntilLive(const common::AddrPort& to) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(to.port);
  std::memcpy(&sa.sin_addr, to.address.data(), 4);
  auto deadline = Clock::now() + std::chrono::seconds(2);
  while (Clock::now() < deadline) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) Die(std::string("probe socket: ") + std::strerror(errno));
    timeval tv{1, 0};
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int rc = connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    linger lg{1, 0};
    setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(s);
    if (rc == 0) return true;
    if (errno != ECONNREFUSED && errno != ETIMEDOUT && errno != EINPROGRESS) {
      Die(std::string("probe connect: ") + std::strerror(errno));
    }
  }
  return false;
}

bool RefusedNow(const common::AddrPort& to) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(to.port);
  std::memcpy(&sa.sin_addr, to.address.data(), 4);
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{1, 0};
  setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int rc = connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  int err = errno;
  close(s);
  return rc != 0 && err == ECONNREFUSED;
}

void PrintArray(const char* name, const std::vector<double>& v) {
  std::printf(",\"%s\":[", name);
  for (std::size_t i = 0; i < v.size(); ++i) std::printf(i ? ",%.1f" : "%.1f", v[i]);
  std::printf("]");
}

std::vector<std::uint32_t> ParseSizes(const std::string& s) {
  std::vector<std::uint32_t> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    auto comma = s.find(',', pos);
    out.push_back(static_cast<std::uint32_t>(std::stoul(s.substr(pos, comma - pos))));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string path, sizes_arg = "1,1000,10000,50000", toggle_listen = "198.18.100.1:9000",
                    dest_arg = "198.18.11.2:80";
  long uid = -1, gid = -1, toggles = 1000, timeout = 60, toggle_seconds = 30;
  bool probe = false, subscribe = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value for " + a);
      return argv[++i];
    };
    if (a == "--socket") path = next();
    else if (a == "--uid") uid = std::stol(next());
    else if (a == "--gid") gid = std::stol(next());
    else if (a == "--sizes") sizes_arg = next();
    else if (a == "--toggles") toggles = std::stol(next());
    else if (a == "--toggle-listen") toggle_listen = next();
    else if (a == "--dest") dest_arg = next();
    else if (a == "--timeout") timeout = std::stol(next());
    else if (a == "--toggle-seconds") toggle_seconds = std::stol(next());
    else if (a == "--probe") probe = true;
    else if (a == "--subscribe") subscribe = true;
    else Die("unknown argument " + a);
  }
  if (path.empty()) Die("--socket is required");
  if (gid < 0) gid = uid;
  if (uid >= 0 && (setgroups(0, nullptr) != 0 || setgid(static_cast<gid_t>(gid)) != 0 ||
                   setuid(static_cast<uid_t>(uid)) != 0)) {
    Die(std::string("dropping to the engine's uid: ") + std::strerror(errno));
  }
  const auto dest = ParseAddrPort(dest_arg);
  const auto tl = ParseAddrPort(toggle_listen);
  const Mapping toggled{MappingKey{Proto::kTcp, tl.address, tl.port}, dest, static_cast<std::uint32_t>(timeout)};

  Conn c(path);
  auto hello = c.Call(HelloRequest{});
  const auto& h = std::get<HelloReply>(std::get<ReplyBody>(hello.body));
  std::printf("{\"event\":\"hello\",\"persistent_table\":%s,\"max_mappings\":%u,\"mark_mask\":%u,\"installed\":%u}\n",
              h.persistent_table ? "true" : "false", h.max_mappings, h.mark_mask, h.installed);
  if (subscribe) c.Call(SubscribeRequest{});
  Sync(c, {});  // start from an empty table
  if (probe && !RefusedNow(tl)) Die("the toggled address accepts connections before any mapping exists");
  std::fflush(stdout);

  for (std::uint32_t n : ParseSizes(sizes_arg)) {
    std::vector<Mapping> fill;
    fill.reserve(n);
    for (std::uint32_t i = 1; i <= n; ++i) fill.push_back(Filler(i, dest, static_cast<std::uint32_t>(timeout)));
    for (const char* kind : {"add", "unchanged"}) {
      auto r = Sync(c, fill);
      std::printf("{\"event\":\"sync\",\"n\":%u,\"kind\":\"%s\",\"seconds\":%.6f,\"added\":%u,\"removed\":%u,\"unchanged\":%u}\n",
                  n, kind, r.seconds, r.reply.added, r.reply.removed, r.reply.unchanged);
      std::fflush(stdout);
    }
    std::vector<double> enable_us, live_us, disable_us;
    long probe_failures = 0, done = 0;
    const auto budget_end = Clock::now() + std::chrono::seconds(toggle_seconds);
    for (long i = 0; i < toggles && Clock::now() < budget_end; ++i, ++done) {
      auto t0 = Clock::now();
      c.Call(ChangeRequest{{toggled}, {}});
      auto t1 = Clock::now();
      enable_us.push_back(Us(t1 - t0));
      if (probe) {
        if (ConnectUntilLive(tl)) {
          live_us.push_back(Us(Clock::now() - t0));
        } else {
          ++probe_failures;
        }
      }
      auto t2 = Clock::now();
      c.Call(ChangeRequest{{}, {toggled.key}});
      disable_us.push_back(Us(Clock::now() - t2));
    }
    std::printf("{\"event\":\"toggles\",\"present\":%u,\"count\":%ld,\"asked\":%ld,\"probe_failures\":%ld", n, done,
                toggles, probe_failures);
    PrintArray("enable_us", enable_us);
    PrintArray("live_us", live_us);
    PrintArray("disable_us", disable_us);
    std::printf("}\n");
    auto r = Sync(c, {});
    std::printf("{\"event\":\"sync\",\"n\":%u,\"kind\":\"remove\",\"seconds\":%.6f,\"added\":%u,\"removed\":%u,\"unchanged\":%u}\n",
                n, r.seconds, r.reply.added, r.reply.removed, r.reply.unchanged);
    std::fflush(stdout);
  }
  std::printf("{\"event\":\"done\",\"pushes\":%llu}\n", static_cast<unsigned long long>(c.pushes));
  return 0;
}
