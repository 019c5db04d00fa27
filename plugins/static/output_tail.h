// OutputTail: one output file of a static:cmd backend (stdout or stderr),
// followed line by line into the engine's log (`msg="backend output"
// stream=stdout line=...`). The backend appends to the file (a file, unlike a
// pipe, survives an engine crash); each run is logged once, from where the
// file ended when the run started. Bounded work per call and a bounded log
// rate, so a chatty backend cannot flood the log or stall the event loop:
// lines beyond the rate are counted and reported, a backlog beyond a bound
// is skipped and reported, and the file is emptied once read past 4 MiB.
// Runs on the engine's event loop (static plugin, proxygw-engine).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "proxygw-engine/log.h"

namespace plugins::static_ns {

class OutputTail {
 public:
  struct Limits {
    std::size_t max_line = 4096;           // longer lines are cut into pieces
    off_t max_read = 64 << 10;             // bytes read per Read()
    off_t max_backlog = 1 << 20;           // unread bytes beyond this are skipped
    off_t truncate_at = 4 << 20;           // the file is emptied once read past this
    std::uint32_t lines_per_second = 100;  // lines logged per second, then counted
  };

  OutputTail(std::string path, std::string stream, Limits limits);
  OutputTail(std::string path, std::string stream)
      : OutputTail(std::move(path), std::move(stream), Limits{}) {}

  // A new run: follow from the file's current end (what is there belongs to
  // earlier runs, already logged).
  void Begin();

  // Logs what was appended since the last call, within the limits. `final`:
  // the backend is gone; a last partial line is logged too.
  void Read(const engine::Logger& log, bool final);

  // The last line read since Begin() (logged or over the rate), "" if none.
  const std::string& last_line() const { return last_line_; }

 private:
  void Line(const engine::Logger& log, std::chrono::steady_clock::time_point now);
  void ReportSuppressed(const engine::Logger& log);

  std::string path_;
  std::string stream_;
  Limits limits_;
  off_t offset_ = 0;
  std::string partial_;
  std::string last_line_;
  std::chrono::steady_clock::time_point window_start_{};
  std::uint32_t window_lines_ = 0;
  std::uint64_t suppressed_ = 0;
};

}  // namespace plugins::static_ns
