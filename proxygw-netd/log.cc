#include "proxygw-netd/log.h"

#include <unistd.h>

namespace netd {
namespace {

LogLevel g_min = LogLevel::kInfo;

// By LogLevel.
constexpr const char* kNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};

}  // namespace

void SetLogLevel(LogLevel min) { g_min = min; }

void Log(LogLevel level, const std::string& msg, const std::string& fields) {
  if (level < g_min) return;
  std::string line = "proxygw-netd: level=";
  line += kNames[static_cast<int>(level)];
  line += " msg=\"";
  for (char c : msg) {
    if (c == '"' || c == '\\') line += '\\';
    line += (c == '\n') ? ' ' : c;
  }
  line += '"';
  if (!fields.empty()) {
    line += ' ';
    line += fields;
  }
  line += '\n';
  // One write per line, so that lines from concurrent writers do not mix.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace netd
