#include "proxygw-netd/policy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/unique_fd.h"

namespace netd {

using common::AddrPort;
using common::Result;
using common::Status;
using ipc::netd::Mapping;
using ipc::netd::MappingKey;

Result<Policy> Policy::Parse(std::string_view text) {
  Policy p;
  std::size_t line_no = 0;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    auto bad = [&](const std::string& why) {
      return Status::InvalidArgument("policy:" + std::to_string(line_no) + ": " + why);
    };
    if (line_no > kMaxPolicyLines) return bad("more than " + std::to_string(kMaxPolicyLines) + " lines");
    std::size_t s1 = line.find(' '), s2 = line.find(' ', s1 == line.npos ? s1 : s1 + 1);
    if (s1 == line.npos || s2 == line.npos || line.find(' ', s2 + 1) != line.npos) {
      return bad("expected \"tcp|udp LISTEN:PORT DESTINATION:PORT\"");
    }
    std::string_view proto = line.substr(0, s1);
    if (proto != "tcp" && proto != "udp") return bad("protocol must be tcp or udp");
    auto listen = AddrPort::Parse(line.substr(s1 + 1, s2 - s1 - 1));
    if (!listen.ok()) return bad(listen.status().message());
    auto dest = AddrPort::Parse(line.substr(s2 + 1));
    if (!dest.ok()) return bad(dest.status().message());
    MappingKey key{proto == "tcp" ? ipc::netd::Proto::kTcp : ipc::netd::Proto::kUdp,
                   listen->address, listen->port};
    if (p.allowed_[key].insert(*dest).second) ++p.size_;
  }
  return p;
}

Result<Policy> Policy::Read(const std::string& path) {
  common::UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno("open " + path, errno);
  struct stat st{};
  if (fstat(fd.get(), &st) != 0) return Status::FromErrno("stat " + path, errno);
  if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022) != 0) {
    return Status::PermissionDenied(path +
                                    ": must be a regular file owned by root and writable by "
                                    "root alone");
  }
  if (st.st_size > static_cast<off_t>(kMaxPolicyBytes)) {
    return Status::InvalidArgument(path + ": larger than " + std::to_string(kMaxPolicyBytes) +
                                   " bytes");
  }
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t n = pread(fd.get(), text.data() + got, text.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("read " + path, errno);
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  auto p = Parse(text);
  if (!p.ok()) return p.status().WithContext(path);
  return p;
}

std::string Policy::Format(const std::vector<Mapping>& mappings) {
  std::string out;
  for (const auto& m : mappings) {
    out += std::string(ipc::netd::ProtoName(m.key.proto)) + " " +
           AddrPort{m.key.listen, m.key.port}.ToString() + " " + m.destination.ToString() + "\n";
  }
  return out;
}

bool Policy::Allows(const Mapping& m) const {
  auto it = allowed_.find(m.key);
  return it != allowed_.end() && it->second.count(m.destination) > 0;
}

}  // namespace netd
