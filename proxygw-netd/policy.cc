#include "proxygw-netd/policy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <vector>

#include "common/unique_fd.h"

namespace netd {

using common::AddrPort;
using common::Result;
using common::Status;
using ipc::netd::Mapping;
using ipc::netd::MappingKey;

namespace {

constexpr const char* kLineFormat = "expected \"tcp|udp LISTEN:PORT DESTINATION:PORT mark ID\"";

// The text's words, split at single spaces ("" for a doubled one).
std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> out;
  for (std::size_t at = 0;;) {
    std::size_t sp = line.find(' ', at);
    out.push_back(line.substr(at, sp == line.npos ? line.npos : sp - at));
    if (sp == line.npos) return out;
    at = sp + 1;
  }
}

}  // namespace

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
    auto w = Words(line);
    if (w.size() != 5 || w[3] != "mark") return bad(kLineFormat);
    auto key = ParseKey(w[0], w[1]);
    if (!key.ok()) return bad(key.status().message());
    auto dest = AddrPort::Parse(w[2]);
    if (!dest.ok()) return bad(dest.status().message());
    std::uint32_t id = 0;
    auto [end, ec] = std::from_chars(w[4].data(), w[4].data() + w[4].size(), id);
    if (ec != std::errc() || end != w[4].data() + w[4].size() || id == 0 || w[4][0] == '0') {
      return bad("mark: expected an id 1-4294967295, got \"" + std::string(w[4]) + "\"");
    }
    Entry& e = p.keys_[*key];
    if (e.mark_id != 0 && e.mark_id != id) {
      return bad(key->ToString() + " has mark " + std::to_string(e.mark_id) +
                 " on an earlier line: a listen key has one mark");
    }
    if (auto [at, fresh] = p.ids_.emplace(id, *key); !fresh && !(at->second == *key)) {
      return bad("mark " + std::to_string(id) + " is " + at->second.ToString() +
                 "'s already: each listen key has its own");
    }
    e.mark_id = id;
    if (e.destinations.insert(*dest).second) ++p.size_;
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

Result<MappingKey> Policy::ParseKey(std::string_view proto, std::string_view listen) {
  if (proto != "tcp" && proto != "udp") return Status::InvalidArgument("protocol must be tcp or udp");
  auto l = AddrPort::Parse(listen);
  if (!l.ok()) return l.status();
  return MappingKey{proto == "tcp" ? ipc::netd::Proto::kTcp : ipc::netd::Proto::kUdp, l->address,
                    l->port};
}

Policy Policy::AllowingAny() {
  Policy p;
  p.any_ = true;
  return p;
}

bool Policy::Allows(const Mapping& m) const {
  if (any_) return true;
  auto it = keys_.find(m.key);
  return it != keys_.end() && it->second.destinations.count(m.destination) > 0;
}

bool Policy::Declares(const MappingKey& key) const { return any_ || keys_.count(key) > 0; }

std::uint32_t Policy::MarkId(const MappingKey& key) const {
  auto it = keys_.find(key);
  return it == keys_.end() ? 0 : it->second.mark_id;
}

std::uint32_t Policy::TakeMarkId(const MappingKey& key, std::uint32_t capacity) {
  if (std::uint32_t id = MarkId(key); id != 0 || !any_) return id;
  while (next_id_ <= capacity && ids_.count(next_id_)) ++next_id_;
  if (next_id_ > capacity) return 0;
  Adopt(key, next_id_);
  return next_id_;
}

void Policy::Adopt(const MappingKey& key, std::uint32_t id) {
  if (!any_ || id == 0 || keys_.count(key) || !ids_.emplace(id, key).second) return;
  keys_[key].mark_id = id;
}

Status Policy::FitsIn(std::uint32_t capacity) const {
  if (ids_.empty() || ids_.rbegin()->first <= capacity) return Status::Ok();
  return Status::InvalidArgument(
      "mark " + std::to_string(ids_.rbegin()->first) + " of " + ids_.rbegin()->second.ToString() +
      " does not fit the ct mark mask, whose ids are 1-" + std::to_string(capacity));
}

std::map<MappingKey, std::uint32_t> Policy::MarkIds() const {
  std::map<MappingKey, std::uint32_t> out;
  for (const auto& [k, e] : keys_) out[k] = e.mark_id;
  return out;
}

}  // namespace netd
