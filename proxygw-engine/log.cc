#include "proxygw-engine/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace engine {
namespace {

std::shared_ptr<spdlog::logger> NewLogger(spdlog::sink_ptr sink) {
  auto l = std::make_shared<spdlog::logger>("proxygw", std::move(sink));
  l->set_pattern("time=%Y-%m-%dT%H:%M:%S.%e%z %v");
  l->flush_on(spdlog::level::trace);  // one line per event, visible at once
  return l;
}

std::shared_ptr<spdlog::logger>& Global() {
  static std::shared_ptr<spdlog::logger> logger =
      NewLogger(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  return logger;
}

config::LogLevel g_min = config::LogLevel::kInfo;

void AppendField(std::string& out, std::string_view key, std::string_view value) {
  out += ' ';
  out += key;
  out += '=';
  out += LogValue(value);
}

}  // namespace

namespace {
// Control characters (a backend's \r progress bars, ESC colour codes) would
// let a logged value rewrite the line on a terminal or forge a new one.
bool IsControl(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }
}  // namespace

std::string LogValue(std::string_view v) {
  bool quote = v.empty();
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || IsControl(c)) quote = true;
  }
  if (!quote) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (IsControl(c)) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[(c >> 4) & 0xf];
      out += kHex[c & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

common::Status SetUpLogging(const std::string& output, config::LogLevel level) {
  spdlog::sink_ptr sink;
  try {
    if (output == "stdout") {
      sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    } else if (output == "stderr") {
      sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    } else {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(output, /*truncate=*/false);
    }
  } catch (const spdlog::spdlog_ex& e) {
    return common::Status::IoError("open log output \"" + output + "\": " + e.what());
  }
  Global() = NewLogger(std::move(sink));
  g_min = level;
  return common::Status::Ok();
}

Logger Logger::With(LogFields fields) const {
  Logger l = *this;
  for (const auto& [k, v] : fields) AppendField(l.context_, k, v);
  return l;
}

bool Logger::DebugEnabled() const { return g_min <= config::LogLevel::kDebug; }

void Logger::Write(config::LogLevel level, std::string_view msg, LogFields fields) const {
  if (level < g_min) return;
  std::string line = "level=";
  line += config::LogLevelName(level);
  line += " msg=";
  line += LogValue(msg);
  line += context_;
  for (const auto& [k, v] : fields) AppendField(line, k, v);
  Global()->info(line);
}

void Logger::Debug(std::string_view msg, LogFields fields) const {
  Write(config::LogLevel::kDebug, msg, fields);
}
void Logger::Info(std::string_view msg, LogFields fields) const {
  Write(config::LogLevel::kInfo, msg, fields);
}
void Logger::Warn(std::string_view msg, LogFields fields) const {
  Write(config::LogLevel::kWarn, msg, fields);
}
void Logger::Error(std::string_view msg, LogFields fields) const {
  Write(config::LogLevel::kError, msg, fields);
}

}  // namespace engine
