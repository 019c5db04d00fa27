#include "proxygw-engine/exposition.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/proc_file.h"

namespace engine {
namespace {

// A number from /proc; 0 for anything else (never throws, unlike std::stod).
double Num(const std::string& s) { return std::strtod(s.c_str(), nullptr); }

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  // The shortest text that reads back as the same double, as the official
  // clients write it ("0.1", not "0.10000000000000001").
  char buf[64];
  for (int precision : {15, 16, 17}) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

// Label values escape backslash, double quote and newline; nothing else.
std::string Escaped(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// HELP text escapes backslash and newline.
std::string EscapedHelp(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

const char* TypeName(Exposition::Type t) {
  switch (t) {
    case Exposition::Type::kCounter:
      return "counter";
    case Exposition::Type::kGauge:
      return "gauge";
    case Exposition::Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  ++counts_[static_cast<std::size_t>(std::distance(bounds_.begin(), it))];
  sum_ += value;
  ++count_;
}

void Exposition::Family(const std::string& name, Type type, const std::string& help) {
  family_ = name;
  text_ += "# HELP " + name + " " + EscapedHelp(help) + "\n";
  text_ += "# TYPE " + name + " " + TypeName(type) + "\n";
}

void Exposition::Line(const std::string& name, const Labels& labels, double value) {
  text_ += name;
  if (!labels.empty()) {
    text_ += '{';
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (i) text_ += ',';
      text_ += labels[i].first + "=\"" + Escaped(labels[i].second) + "\"";
    }
    text_ += '}';
  }
  text_ += ' ' + Number(value) + '\n';
}

void Exposition::Sample(const Labels& labels, double value) { Line(family_, labels, value); }

void Exposition::Sample(const Labels& labels, const Histogram& h) {
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < h.counts().size(); ++i) {
    cumulative += h.counts()[i];
    Labels l = labels;
    l.emplace_back("le", i < h.bounds().size() ? Number(h.bounds()[i]) : "+Inf");
    Line(family_ + "_bucket", l, static_cast<double>(cumulative));
  }
  Line(family_ + "_sum", labels, h.sum());
  Line(family_ + "_count", labels, static_cast<double>(h.count()));
}

void Exposition::ProcessMetrics() {
  // /proc/self/stat: utime (14), stime (15) in ticks, starttime (22) in ticks
  // since boot, vsize (23) in bytes, rss (24) in pages.
  std::string stat = common::ReadProcFile("/proc/self/stat").value_or("");
  auto paren = stat.rfind(')');
  if (paren == std::string::npos) return;
  std::istringstream fields(stat.substr(paren + 2));
  std::vector<std::string> f;
  for (std::string x; fields >> x;) f.push_back(x);
  if (f.size() < 22) return;  // f[0] is field 3
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double utime = Num(f[11]), stime = Num(f[12]);
  const double start_ticks = Num(f[19]), vsize = Num(f[20]), rss = Num(f[21]);
  double boot = 0;
  std::ifstream s("/proc/stat");
  for (std::string line; std::getline(s, line);) {
    if (line.rfind("btime ", 0) == 0) boot = Num(line.substr(6));
  }
  std::size_t fds = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++fds;
    }
    ::closedir(d);
    --fds;  // the directory's own descriptor
  }
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);

  Family("process_cpu_seconds_total", Type::kCounter,
         "Total user and system CPU time spent in seconds.");
  Sample({}, (utime + stime) / tick);
  Family("process_open_fds", Type::kGauge, "Number of open file descriptors.");
  Sample({}, static_cast<double>(fds));
  Family("process_max_fds", Type::kGauge, "Maximum number of open file descriptors.");
  Sample({}, lim.rlim_cur == RLIM_INFINITY ? -1 : static_cast<double>(lim.rlim_cur));
  Family("process_virtual_memory_bytes", Type::kGauge, "Virtual memory size in bytes.");
  Sample({}, vsize);
  Family("process_resident_memory_bytes", Type::kGauge, "Resident memory size in bytes.");
  Sample({}, rss * static_cast<double>(::sysconf(_SC_PAGESIZE)));
  Family("process_start_time_seconds", Type::kGauge,
         "Start time of the process since unix epoch in seconds.");
  Sample({}, boot + start_ticks / tick);
}

}  // namespace engine
