// netd's log: one line per event on stderr, `level=... msg="..." key=value`,
// the same shape as the engine's. Under systemd the journal adds the time;
// under the supervisor, stderr is passed through. No library: netd stays small.
#pragma once

#include <cstdio>
#include <string>

namespace netd {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

void SetLogLevel(LogLevel min);
// `fields` is already "key=value key=value" (may be empty).
void Log(LogLevel level, const std::string& msg, const std::string& fields = "");

}  // namespace netd
