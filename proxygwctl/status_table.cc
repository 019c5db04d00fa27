#include "proxygwctl/status_table.h"

#include <algorithm>
#include <vector>

namespace proxygwctl {
namespace {

namespace wire = ipc::ctl;

using Row = std::vector<std::string>;

std::string Clean(std::string_view s) {
  if (s.empty()) return "-";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n' || c == '\t' || c == '\r') {
      out += ' ';
    } else if (u < 0x20 || u == 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out;
}

std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

// Left-aligned columns two spaces apart, without trailing spaces.
std::string Table(const std::vector<Row>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows) {
    width.resize(std::max(width.size(), r.size()));
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string Since(const wire::TargetStatus& t, std::chrono::system_clock::time_point now) {
  if (!t.since) return "-";
  auto age = std::chrono::floor<std::chrono::seconds>(now - *t.since);
  return wire::FormatTime(*t.since) + " (" + FormatAge(age) + " ago)";
}

}  // namespace

std::string FormatAge(std::chrono::seconds age) {
  long long s = std::max<long long>(age.count(), 0);
  const long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
  auto two = [](long long a, const char* ua, long long b, const char* ub) {
    std::string out = std::to_string(a) + ua;
    if (b != 0) out += std::to_string(b) + ub;
    return out;
  };
  if (d > 0) return two(d, "d", h, "h");
  if (h > 0) return two(h, "h", m, "m");
  if (m > 0) return two(m, "m", sec, "s");
  return std::to_string(sec) + "s";
}

std::string FormatStatusTable(const wire::StatusResponse& status,
                              std::chrono::system_clock::time_point now) {
  std::string out = "engine: ";
  out += status.closed ? "shutting down" : "running";
  if (status.dataplane_connected) {
    out += *status.dataplane_connected ? ", dataplane connected" : ", dataplane disconnected";
  }
  if (!status.role.empty()) out += ", HA " + Clean(status.role);
  out += "\n\n";
  if (status.targets.empty()) {
    out += "no targets\n";
  } else {
    std::vector<Row> rows = {{"TARGET", "KIND", "STATE", "FLOWS", "SINCE", "LAST ERROR"}};
    for (const auto& t : status.targets) {
      std::string state = Clean(t.state);
      if (!t.kept_warm_by.empty()) state += " (kept warm)";
      if (!t.follow.empty()) state += " (follows: " + Clean(t.follow) + ")";
      rows.push_back({Clean(t.name), Clean(t.kind), state,
                      t.flows ? std::to_string(*t.flows) : "-", Since(t, now),
                      Clean(t.last_error)});
    }
    out += Table(rows);
  }
  out += "\n";
  if (status.frontends.empty()) {
    out += "no frontends\n";
  } else {
    std::vector<Row> rows = {
        {"FRONTEND", "KIND", "STATE", "PROTO", "LISTEN", "TARGET", "FORWARDS TO", "LAST ERROR"}};
    for (const auto& f : status.frontends) {
      std::string state = f.state;
      if (f.knocks) {  // static:hold: how often clients woke it
        state += " (" + std::to_string(*f.knocks) + (*f.knocks == 1 ? " knock" : " knocks");
        if (!f.last_knock_from.empty()) state += ", last from " + f.last_knock_from;
        state += ")";
      }
      rows.push_back({Clean(f.name), Clean(f.kind), Clean(state), wire::ProtocolName(f.protocol),
                      Clean(f.listen), Clean(f.target_name + ":" + f.endpoint_name),
                      Clean(Join(f.proxy_addresses, ", ")), Clean(f.last_error)});
    }
    out += Table(rows);
  }
  return out;
}

}  // namespace proxygwctl
