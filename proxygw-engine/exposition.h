// Exposition: metrics written in the Prometheus text exposition format
// (version 0.0.4), as `promtool check metrics` accepts it: one `# HELP` and
// `# TYPE` per family, samples with escaped label values, histograms as
// cumulative `_bucket{le=...}` samples ending in `+Inf`, then `_sum` and
// `_count`. Also the process metrics the official clients export
// (process_cpu_seconds_total, process_resident_memory_bytes, ...). Builds
// text only; who serves it is the metrics plugin's business. Engine-side.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace engine {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Bucketed observations (seconds). `bounds` ascend; +Inf is implicit.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  const std::vector<double>& bounds() const { return bounds_; }
  // Per bucket, not cumulative; the last one is +Inf.
  const std::vector<std::uint64_t>& counts() const { return counts_; }
  double sum() const { return sum_; }
  std::uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

class Exposition {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  // Starts a family. Its samples follow, before the next Family().
  void Family(const std::string& name, Type type, const std::string& help);
  // A counter or gauge sample of the current family.
  void Sample(const Labels& labels, double value);
  // The current family's histogram with these labels.
  void Sample(const Labels& labels, const Histogram& h);

  // process_cpu_seconds_total, process_resident_memory_bytes,
  // process_virtual_memory_bytes, process_open_fds, process_max_fds and
  // process_start_time_seconds of this process, from /proc.
  void ProcessMetrics();

  const std::string& text() const { return text_; }

 private:
  void Line(const std::string& name, const Labels& labels, double value);
  std::string family_;
  std::string text_;
};

}  // namespace engine
