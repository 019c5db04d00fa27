// proxygwctl's human-readable status (--output table): the engine line, then
// a table of targets and one of frontends, columns aligned with spaces. Text
// from the engine is shown with control characters replaced, so that a
// backend's error message cannot play tricks on the terminal.
#pragma once

#include <chrono>
#include <string>

#include "common/ipc/ctl_protocol.h"

namespace proxygwctl {

// The tables, each line ending in '\n'. `now` is for the age of each
// target's state ("3m ago"). A field the engine did not send (flows and
// since from the original) shows as "-", as does an empty last error.
std::string FormatStatusTable(const ipc::ctl::StatusResponse& status,
                              std::chrono::system_clock::time_point now);

// "42s", "7m30s", "5h12m", "3d4h": the two largest units; "0s" for a
// negative duration.
std::string FormatAge(std::chrono::seconds age);

}  // namespace proxygwctl
