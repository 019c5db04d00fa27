#include "plugins/static/output_tail.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace plugins::static_ns {

OutputTail::OutputTail(std::string path, std::string stream, Limits limits)
    : path_(std::move(path)), stream_(std::move(stream)), limits_(limits) {}

void OutputTail::Begin() {
  partial_.clear();
  last_line_.clear();
  offset_ = 0;
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0) offset_ = st.st_size;
}

void OutputTail::ReportSuppressed(const engine::Logger& log) {
  if (suppressed_ == 0) return;
  log.Warn("backend output: lines not logged (over the rate limit)",
           {{"stream", stream_},
            {"lines", std::to_string(suppressed_)},
            {"limit", std::to_string(limits_.lines_per_second) + "/s"}});
  suppressed_ = 0;
}

void OutputTail::Line(const engine::Logger& log, std::chrono::steady_clock::time_point now) {
  if (now - window_start_ >= std::chrono::seconds(1)) {
    ReportSuppressed(log);
    window_start_ = now;
    window_lines_ = 0;
  }
  if (window_lines_ >= limits_.lines_per_second) {
    ++suppressed_;
  } else {
    ++window_lines_;
    log.Info("backend output", {{"stream", stream_}, {"line", partial_}});
  }
  if (!partial_.empty()) last_line_ = std::move(partial_);
  partial_.clear();
}

void OutputTail::Read(const engine::Logger& log, bool final) {
  int fd = ::open(path_.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return;
  struct stat st {};
  if (::fstat(fd, &st) == 0) {
    if (st.st_size < offset_) offset_ = 0;  // emptied meanwhile
    if (st.st_size - offset_ > limits_.max_backlog) {
      log.Warn("backend output skipped (written faster than it can be logged)",
               {{"stream", stream_}, {"bytes", std::to_string(st.st_size - offset_)}});
      offset_ = st.st_size;
      partial_.clear();
    }
  }
  auto now = std::chrono::steady_clock::now();
  char buf[16384];
  off_t budget = limits_.max_read;
  bool at_end = false;
  while (budget > 0) {
    ssize_t n =
        ::pread(fd, buf, static_cast<std::size_t>(std::min<off_t>(budget, sizeof buf)), offset_);
    if (n <= 0) {
      at_end = n == 0;
      break;
    }
    offset_ += n;
    budget -= n;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == '\n') {
        Line(log, now);
        continue;
      }
      partial_ += buf[i];
      if (partial_.size() >= limits_.max_line) Line(log, now);
    }
  }
  if (final && !partial_.empty()) Line(log, now);
  if (final) ReportSuppressed(log);
  // Emptied only once everything in it was read: nothing unread is lost.
  if (at_end && offset_ >= limits_.truncate_at && ::ftruncate(fd, 0) == 0) offset_ = 0;
  ::close(fd);
}

}  // namespace plugins::static_ns
