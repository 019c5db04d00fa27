// proxygw-netd: the privileged dataplane helper. main() reads the command line
// and then runs its steps in order, each with its own failure message: find the
// users, close inherited descriptors, get the listening socket, open the
// nftables table and the conntrack sockets, drop to CAP_NET_ADMIN and the netd
// user, load the seccomp filter, serve.
//
// Exit codes: 0 after SIGTERM/SIGINT or a shutdown request, 1 when a start-up
// step fails, 2 for a bad command line.
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>

#include "common/unique_fd.h"
#include "proxygw-netd/flow_tracker.h"
#include "proxygw-netd/hold_queue.h"
#include "proxygw-netd/log.h"
#include "proxygw-netd/nft_table.h"
#include "proxygw-netd/sandbox.h"
#include "proxygw-netd/server.h"

namespace {

using common::Result;
using common::Status;
using common::UniqueFd;

enum ExitCode : int { kExitOk = 0, kExitStart = 1, kExitUsage = 2 };

constexpr char kUsage[] =
    "usage: proxygw-netd [--socket PATH | --fd N] --engine-user USER --user USER\n"
    "                    --policy FILE | --no-policy [--seccomp=kill|log]\n"
    "                    [--ct-mark-mask MASK] [--max-mappings N]\n"
    "                    [--log-level debug|info|warn|error]\n"
    "\n"
    "The privileged helper of proxygw: the only process holding CAP_NET_ADMIN. It\n"
    "owns the nftables table inet proxygw and serves the engine's requests on a\n"
    "Unix SOCK_SEQPACKET socket. Start it as root (it drops to --user keeping only\n"
    "CAP_NET_ADMIN) or as --user with CAP_NET_ADMIN (systemd).\n"
    "\n"
    "  --socket PATH         create and listen on PATH (mode 0660, group of the engine\n"
    "                        user); a stale socket file there is replaced\n"
    "  --fd N                listen on inherited descriptor N (the supervisor)\n"
    "                        Without either: systemd socket activation (LISTEN_FDS=1).\n"
    "  --engine-user USER    the only user allowed to connect (name or numeric uid)\n"
    "  --user USER           the user netd runs as; must differ from the engine's and\n"
    "                        not be root (name or numeric uid)\n"
    "  --policy FILE         what may be mapped, and each listen key's ct mark: one\n"
    "                        \"tcp|udp LISTEN:PORT DEST:PORT mark ID\" per line,\n"
    "                        written from the config on the root side\n"
    "                        (proxygw-engine --write-netd-policy); a regular file\n"
    "                        owned by root, writable by root alone; read at start\n"
    "                        (a config change needs a netd restart)\n"
    "  --no-policy           allow any valid mapping, marked in the order keys are\n"
    "                        first enabled (tests, debugging)\n"
    "  --seccomp=kill|log    what happens on a syscall outside the allow-list: the\n"
    "                        process is killed (default) or the kernel logs it\n"
    "  --ct-mark-mask MASK   the ct mark bits netd uses to tag its flows: one run of\n"
    "                        contiguous bits (default 0xffff0000)\n"
    "  --max-mappings N      the most DNAT mappings netd holds (default 10000; at most\n"
    "                        the number of mark values of the mask)\n"
    "  --log-level LEVEL     debug, info (default), warn or error\n"
    "  --help                this text\n"
    "\n"
    "Exit codes: 0 after SIGTERM/SIGINT or a shutdown request (the table stays\n"
    "unless the shutdown asked to remove it), 1 when start-up fails, 2 for a bad\n"
    "command line.\n";

struct Args {
  std::string socket_path;
  int fd = -1;
  std::string engine_user;
  std::string user;
  std::string policy;
  bool no_policy = false;
  netd::SeccompMode seccomp = netd::SeccompMode::kKill;
  std::uint32_t mark_mask = 0xffff0000;
  std::uint32_t max_mappings = 10000;
  netd::LogLevel log_level = netd::LogLevel::kInfo;
};

struct User {
  uid_t uid;
  gid_t gid;
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr, "proxygw-netd: %s\n%s", why.c_str(), kUsage);
  std::exit(kExitUsage);
}

[[noreturn]] void Fail(const std::string& step, const Status& st) {
  netd::Log(netd::LogLevel::kError, step + ": " + st.message());
  std::exit(kExitStart);
}

std::optional<std::uint64_t> ParseNumber(const char* s, int base) {
  if (s == nullptr || *s == '\0') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, base);
  if (errno != 0 || *end != '\0' || s[0] == '-') return std::nullopt;
  return v;
}

// optarg as a number of `base` from `min` to `max`; else usage error `why`.
std::uint64_t NumberArg(int base, std::uint64_t min, std::uint64_t max, const char* why) {
  auto v = ParseNumber(optarg, base);
  if (!v || *v < min || *v > max) Usage(why);
  return *v;
}

// optarg as the value of one of `choices`; else usage error `why`.
template <class T>
T ChoiceArg(std::initializer_list<std::pair<const char*, T>> choices, const std::string& why) {
  for (const auto& [name, value] : choices) {
    if (std::strcmp(optarg, name) == 0) return value;
  }
  Usage(why);
}

Args ParseArgs(int argc, char** argv) {
  static const option kLong[] = {
      {"socket", required_argument, nullptr, 's'},
      {"fd", required_argument, nullptr, 'f'},
      {"engine-user", required_argument, nullptr, 'e'},
      {"user", required_argument, nullptr, 'u'},
      {"seccomp", required_argument, nullptr, 'c'},
      {"ct-mark-mask", required_argument, nullptr, 'm'},
      {"max-mappings", required_argument, nullptr, 'n'},
      {"log-level", required_argument, nullptr, 'l'},
      {"policy", required_argument, nullptr, 'p'},
      {"no-policy", no_argument, nullptr, 'P'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  using netd::LogLevel;
  using netd::SeccompMode;
  Args a;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "", kLong, nullptr)) != -1) {
    switch (c) {
      case 's':
        a.socket_path = optarg;
        break;
      case 'f':
        a.fd = static_cast<int>(
            NumberArg(10, 3, 65535, "--fd: expected a descriptor number of 3 or more"));
        break;
      case 'p':
        a.policy = optarg;
        break;
      case 'P':
        a.no_policy = true;
        break;
      case 'e':
        a.engine_user = optarg;
        break;
      case 'u':
        a.user = optarg;
        break;
      case 'c':
        a.seccomp = ChoiceArg<SeccompMode>({{"kill", SeccompMode::kKill}, {"log", SeccompMode::kLog}},
                                           std::string("--seccomp: expected kill or log, got \"") +
                                               optarg + "\"");
        break;
      case 'm':
        a.mark_mask = static_cast<std::uint32_t>(
            NumberArg(0, 1, 0xffffffff, "--ct-mark-mask: expected a 32-bit mask such as 0xffff0000"));
        break;
      case 'n':
        a.max_mappings =
            static_cast<std::uint32_t>(NumberArg(10, 1, 1000000, "--max-mappings: expected 1-1000000"));
        break;
      case 'l':
        a.log_level = ChoiceArg<LogLevel>({{"debug", LogLevel::kDebug},
                                           {"info", LogLevel::kInfo},
                                           {"warn", LogLevel::kWarn},
                                           {"error", LogLevel::kError}},
                                          "--log-level: expected debug, info, warn or error");
        break;
      case 'h':
        std::fputs(kUsage, stdout);
        std::exit(kExitOk);
      default:
        Usage(std::string("unknown or incomplete option ") + argv[optind - 1]);
    }
  }
  if (optind < argc) Usage(std::string("unexpected argument \"") + argv[optind] + "\"");
  if (!a.socket_path.empty() && a.fd >= 0) Usage("give --socket or --fd, not both");
  if (a.engine_user.empty()) Usage("--engine-user is required");
  if (a.user.empty()) Usage("--user is required");
  if (a.policy.empty() == !a.no_policy) Usage("give --policy FILE or --no-policy");
  return a;
}

// A user name, or a numeric uid (whose gid is then the same number); exits
// when there is no such user.
User LookUpUser(const std::string& name, const char* flag) {
  if (auto n = ParseNumber(name.c_str(), 10)) {
    return User{static_cast<uid_t>(*n), static_cast<gid_t>(*n)};
  }
  errno = 0;
  passwd* pw = getpwnam(name.c_str());
  if (pw == nullptr) {
    Fail("find users",
         Status::NotFound(std::string(flag) + ": no user named \"" + name + "\"" +
                          (errno ? std::string(" (") + std::strerror(errno) + ")" : "")));
  }
  return User{pw->pw_uid, pw->pw_gid};
}

// Closes every inherited descriptor but stdio and `keep`.
void CloseInherited(int keep) {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return;
  std::vector<int> fds;
  while (dirent* e = readdir(d)) {
    auto n = ParseNumber(e->d_name, 10);
    if (n && *n > 2 && static_cast<int>(*n) != keep && static_cast<int>(*n) != dirfd(d)) {
      fds.push_back(static_cast<int>(*n));
    }
  }
  closedir(d);
  for (int fd : fds) close(fd);
}

// systemd's socket-activation protocol (sd_listen_fds), without libsystemd:
// LISTEN_PID is ours and LISTEN_FDS is 1; the socket is descriptor 3.
int ActivatedSocket() {
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  if (pid == nullptr || fds == nullptr) return -1;
  auto p = ParseNumber(pid, 10);
  auto n = ParseNumber(fds, 10);
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  if (!p || static_cast<pid_t>(*p) != getpid() || !n || *n != 1) return -1;
  return 3;
}

Status CheckListening(int fd) {
  int type = 0, listening = 0, domain = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
    return Status::FromErrno("descriptor " + std::to_string(fd) + " is not a socket", errno);
  }
  len = sizeof domain;
  getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
  len = sizeof listening;
  getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);
  if (domain != AF_UNIX || type != SOCK_SEQPACKET || !listening) {
    return Status::InvalidArgument("descriptor " + std::to_string(fd) +
                                   " is not a listening Unix SOCK_SEQPACKET socket");
  }
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return Status::FromErrno("set the listening socket non-blocking", errno);
  }
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return Status::Ok();
}

// Creates the listening socket at `path`, 0660, owned by `owner` and `group`,
// never by a path that another user could swap (a symlink at `path` after the
// bind would have had its target chowned): the socket is made in a directory
// of netd's own beside `path` (0700, reached only through descriptors), then
// renamed over `path`, replacing a stale socket. fchown/fchmod on the socket's
// descriptor would not do: they change its sockfs inode, not the file.
Result<UniqueFd> ListenOn(const std::string& path, uid_t owner, gid_t group) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return Status::InvalidArgument("socket path is longer than " +
                                   std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
  }
  auto cut = path.rfind('/');
  std::string dir = cut == std::string::npos ? "." : cut == 0 ? "/" : path.substr(0, cut);
  std::string base = path.substr(cut + 1), tmp = "." + base + "." + std::to_string(getpid());
  UniqueFd parent(open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!parent.valid()) return Status::FromErrno("open " + dir, errno);
  struct stat st{};
  if (fstatat(parent.get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISSOCK(st.st_mode)) {
    return Status::AlreadyExists(path + " exists and is not a socket; not replacing it");
  }
  if (mkdirat(parent.get(), tmp.c_str(), 0700) != 0) {
    return Status::FromErrno("mkdir " + dir + "/" + tmp, errno);
  }
  UniqueFd own(openat(parent.get(), tmp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  UniqueFd fd(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/s", own.get());
  Status made = [&] {
    if (!own.valid() || fstat(own.get(), &st) != 0 || st.st_uid != geteuid()) {
      return Status::PermissionDenied(dir + "/" + tmp + " was replaced; not using it");
    }
    if (!fd.valid()) return Status::FromErrno("socket(AF_UNIX, SOCK_SEQPACKET)", errno);
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      return Status::FromErrno("bind " + dir + "/" + tmp + "/s", errno);
    }
    if (fchownat(own.get(), "s", owner, group, AT_SYMLINK_NOFOLLOW) != 0 ||
        fchmodat(own.get(), "s", 0660, 0) != 0) {
      return Status::FromErrno("set the owner and mode of " + path, errno);
    }
    if (listen(fd.get(), 8) != 0) return Status::FromErrno("listen " + path, errno);
    if (renameat(own.get(), "s", parent.get(), base.c_str()) != 0) {
      return Status::FromErrno("rename the socket to " + path, errno);
    }
    return Status::Ok();
  }();
  unlinkat(own.get(), "s", 0);
  unlinkat(parent.get(), tmp.c_str(), AT_REMOVEDIR);
  if (!made.ok()) return made;
  return fd;
}

// systemd's readiness protocol (sd_notify), without libsystemd: a datagram
// "READY=1" to $NOTIFY_SOCKET (a path, or an abstract name starting with
// "@"). The socket is connected here, before the sandbox (which forbids
// socket() and connect()); main sends on it later. No NOTIFY_SOCKET (or one
// that cannot be reached): no socket, nothing to send.
UniqueFd NotifySocket() {
  const char* path = std::getenv("NOTIFY_SOCKET");
  sockaddr_un addr{};
  if (path == nullptr || path[0] == '\0' || std::strlen(path) >= sizeof addr.sun_path) return {};
  addr.sun_family = AF_UNIX;
  std::size_t n = std::strlen(path);
  std::memcpy(addr.sun_path, path, n);
  if (path[0] == '@') addr.sun_path[0] = '\0';
  unsetenv("NOTIFY_SOCKET");
  UniqueFd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) return {};
  return fd;
}

std::string Hex(std::uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", v);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = ParseArgs(argc, argv);
  netd::SetLogLevel(args.log_level);

  User netd_user = LookUpUser(args.user, "--user");
  User engine_user = LookUpUser(args.engine_user, "--engine-user");
  if (netd_user.uid == 0) Fail("find users", Status::InvalidArgument("--user must not be root"));
  if (netd_user.uid == engine_user.uid) {
    Fail("find users",
         Status::InvalidArgument("--user and --engine-user must differ: the engine must not be "
                                 "able to signal or trace netd"));
  }

  // Before CloseInherited: the supervisor hands its copy over as a descriptor.
  netd::Policy policy = netd::Policy::AllowingAny();
  if (!args.no_policy) {
    auto p = netd::Policy::Read(args.policy);
    if (!p.ok()) Fail("read the policy", p.status());
    policy = std::move(p).value();
  }
  if (Status st = policy.FitsIn(netd::NftTable::MarkCapacity(args.mark_mask)); !st.ok()) {
    Fail("read the policy", st.WithContext(args.policy));
  }

  int activated = (args.socket_path.empty() && args.fd < 0) ? ActivatedSocket() : -1;
  int inherited = args.fd >= 0 ? args.fd : activated;
  CloseInherited(inherited);

  UniqueFd listener;
  if (inherited >= 0) {
    listener.Reset(inherited);
  } else if (!args.socket_path.empty()) {
    auto fd = ListenOn(args.socket_path, netd_user.uid, engine_user.gid);
    if (!fd.ok()) Fail("listen", fd.status());
    listener = std::move(fd).value();
  } else {
    Usage("no socket: give --socket PATH or --fd N, or start netd by socket activation");
  }
  if (Status st = CheckListening(listener.get()); !st.ok()) Fail("listen", st);

  auto table = netd::NftTable::Open({.mark_mask = args.mark_mask, .max_mappings = args.max_mappings});
  if (!table.ok()) Fail("open table inet proxygw", table.status());
  auto tracker = netd::FlowTracker::Open(args.mark_mask);
  if (!tracker.ok()) Fail("open conntrack", tracker.status());
  auto queue = netd::HoldQueue::Open(netd::NftTable::kHoldQueue, netd::HoldQueue::kMaxHeld);
  if (!queue.ok()) Fail("open the hold queue", queue.status());
  UniqueFd localnet(open("/proc/sys/net/ipv4/conf/all/route_localnet", O_RDONLY | O_CLOEXEC));
  UniqueFd notify = NotifySocket();

  netd::ServerOptions sopt{.listen_fd = listener.get(),
                           .engine_uid = engine_user.uid,
                           .route_localnet_fd = localnet.get(),
                           .policy = &policy};
  auto server = netd::Server::Create(sopt, **table, **tracker, **queue);
  if (!server.ok()) Fail("start server", server.status());

  if (Status st = netd::DropPrivileges(netd_user.uid, netd_user.gid); !st.ok()) {
    Fail("drop privileges", st);
  }
  if (Status st = netd::LoadSeccomp(args.seccomp); !st.ok()) Fail("load seccomp filter", st);
  netd::Log(netd::LogLevel::kInfo, "serving",
            "table=" + std::string((*table)->how_opened()) +
                " persistent=" + ((*table)->persistent() ? "yes" : "no") + " mappings=" +
                std::to_string((*table)->installed().size()) + " mark_mask=" + Hex(args.mark_mask) +
                " max_mappings=" + std::to_string(args.max_mappings) +
                " uid=" + std::to_string(netd_user.uid) +
                " engine_uid=" + std::to_string(engine_user.uid) + " policy=" +
                (args.no_policy ? std::string("none") : std::to_string(policy.size())) +
                " seccomp=" + (args.seccomp == netd::SeccompMode::kKill ? "kill" : "log"));
  if (notify.valid()) {
    ssize_t ignored = send(notify.get(), "READY=1", 7, MSG_NOSIGNAL);
    (void)ignored;
    notify.Reset();
  }
  auto exit = (*server)->Run();
  if (!exit.ok()) Fail("serve", exit.status());
  return kExitOk;
}
