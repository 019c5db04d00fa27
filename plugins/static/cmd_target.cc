#include "plugins/static/cmd_target.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "plugins/static/backend_process.h"
#include "plugins/static/output_tail.h"
#include "proxygw-engine/config/duration.h"
#include "proxygw-engine/state_store.h"

namespace plugins::static_ns {
namespace {

namespace asio = boost::asio;
using common::Status;
using engine::Done;

constexpr std::uint32_t kDefaultStopTimeoutS = 10;
constexpr std::uint32_t kMaxStopTimeoutS = 3600;
constexpr auto kTailEvery = std::chrono::milliseconds(500);
// What a backend inherits of the engine's environment; the rest (the
// service manager's NOTIFY_SOCKET, INVOCATION_ID, LISTEN_FDS...) stays out.
constexpr const char* kInherited[] = {"HOME", "USER", "LOGNAME", "LANG", "TZ"};
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const std::vector<std::pair<std::string, YAML::Node>> kNoEntries;

bool IsVariableName(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

class CmdTarget : public engine::TargetHandler {
 public:
  CmdTarget(const engine::TargetContext& ctx, std::string command,
            std::vector<std::pair<std::string, std::string>> environment, std::chrono::seconds stop)
      : name_(ctx.config.name),
        log_(ctx.log),
        state_(ctx.state),
        exited_(ctx.backend_exited),
        command_(std::move(command)),
        environment_(std::move(environment)),
        tail_timer_(ctx.io),
        process_(ctx.io, ctx.log, ctx.config.name, stop,
                 [this, w = std::weak_ptr<bool>(alive_)](const std::string& how, bool stopped) {
                   if (w.lock()) OnGone(how, stopped);
                 }),
        out_(OutputPath("stdout"), "stdout"),
        err_(OutputPath("stderr"), "stderr") {}

  ~CmdTarget() override { tail_timer_.cancel(); }

  void Warm(Done done) override {
    if (process_.running()) return done(Status::Ok());
    done(Spawn());
  }

  void Drain(Done done) override {
    if (!process_.running()) return done(Status::Ok());
    stop_done_.push_back(std::move(done));
    process_.Stop();
  }

  void Close(Done done) override {
    Drain([this, done](Status st) {
      tail_timer_.cancel();
      done(st);
    });
  }

  bool Adopt() override {
    nlohmann::json rec = state_.Get(name_);
    if (!rec.contains("pid")) return false;
    pid_t pid = rec.value("pid", 0);
    if (!process_.Adopt(pid, rec.value("start_time", 0ULL))) {
      Forget();
      return false;
    }
    out_.Begin();
    err_.Begin();
    TailSoon();
    if (rec.value("command", "") != command_) {
      log_.Warn("stopping a backend started with another command before the restart",
                {{"pid", std::to_string(pid)}});
      Drain([](Status) {});
      return false;
    }
    log_.Info("took over the running backend", {{"pid", std::to_string(pid)}});
    return true;
  }

 private:
  std::string OutputPath(const char* stream) const {
    return state_.dir().empty() ? "/dev/null" : state_.PathFor(name_, stream);
  }

  std::vector<std::string> Environment() const {
    std::map<std::string, std::string> vars;
    const char* path = std::getenv("PATH");
    vars["PATH"] = path ? path : kDefaultPath;
    for (const char* name : kInherited) {
      if (const char* v = std::getenv(name)) vars[name] = v;
    }
    // The config's own come last: they override the inherited ones.
    for (const auto& [name, value] : environment_) vars[name] = value;
    std::vector<std::string> env;
    for (const auto& [name, value] : vars) env.push_back(name + "=" + value);
    return env;
  }

  Status Spawn() {
    // This run's output starts where the files end now: earlier runs' lines
    // were logged in their time.
    out_.Begin();
    err_.Begin();
    Status st =
        process_.Start({command_, Environment(), OutputPath("stdout"), OutputPath("stderr")});
    if (!st.ok()) return st;
    pid_t pid = process_.pid();
    nlohmann::json rec = state_.Get(name_);
    rec["pid"] = pid;
    rec["start_time"] = BackendProcess::StartTime(pid).value_or(0);
    rec["command"] = command_;
    if (Status put = state_.Put(name_, rec); !put.ok()) {
      log_.Warn("could not record the backend's pid; a restarted engine will not adopt it",
                {{"error", put.message()}});
    }
    log_.Info("backend started", {{"pid", std::to_string(pid)}, {"command", command_}});
    TailSoon();
    return Status::Ok();
  }

  void TailSoon() {
    tail_timer_.expires_after(kTailEvery);
    tail_timer_.async_wait(
        [w = std::weak_ptr<bool>(alive_), this](const boost::system::error_code& ec) {
          if (ec || !w.lock() || !process_.running()) return;
          out_.Read(log_, false);
          err_.Read(log_, false);
          TailSoon();
        });
  }

  void OnGone(const std::string& how, bool stopped) {
    tail_timer_.cancel();
    out_.Read(log_, true);
    err_.Read(log_, true);
    log_.Info("backend stopped", {{"how", how}});
    Forget();
    auto done = std::move(stop_done_);
    stop_done_.clear();
    for (auto& d : done) d(Status::Ok());
    if (!stopped && exited_) exited_(how);
  }

  void Forget() {
    nlohmann::json rec = state_.Get(name_);
    rec.erase("pid");
    rec.erase("start_time");
    rec.erase("command");
    (void)state_.Put(name_, rec);
  }

  std::string name_;
  engine::Logger log_;
  engine::StateStore& state_;
  std::function<void(const std::string&)> exited_;
  std::string command_;
  std::vector<std::pair<std::string, std::string>> environment_;
  asio::steady_timer tail_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  BackendProcess process_;
  OutputTail out_, err_;
  std::vector<Done> stop_done_;
};

}  // namespace

std::unique_ptr<engine::TargetHandler> NewCmdTarget(const engine::TargetContext& ctx,
                                                    config::ErrorSink& errors) {
  const config::Options& o = ctx.config.options;
  std::size_t before = errors.count();
  auto f = config::Fields::Read(errors, o.node, o.path, o.location,
                                {"command", "stop_timeout", "environment"}, /*null_is_empty=*/true);
  if (!f) return nullptr;
  auto command = f->String(errors, "command", /*required=*/true);
  std::vector<std::pair<std::string, std::string>> environment;
  if (f->Has("environment")) {
    auto env = config::Fields::ReadOpen(errors, f->Get("environment"), f->PathOf("environment"),
                                        f->KeyLocation("environment"), /*null_is_empty=*/true);
    for (const auto& [name, value] : env ? env->entries() : kNoEntries) {
      std::string path = env->PathOf(name);
      if (!IsVariableName(name) || name == "PROXYGW_TARGET") {
        errors.Add(env->KeyLocation(name), path,
                   "not a usable variable name (letters, digits and _, not starting with a "
                   "digit; PROXYGW_TARGET is set by proxygw)");
        continue;
      }
      if (auto v = config::ReadString(errors, value, path, env->KeyLocation(name))) {
        environment.emplace_back(name, *v);
      }
    }
  }
  std::uint32_t stop = kDefaultStopTimeoutS;
  if (auto s = f->String(errors, "stop_timeout", /*required=*/false)) {
    auto d = config::ParseGoDuration(*s);
    auto at = config::LocationOf(f->Get("stop_timeout"));
    if (!d.ok()) {
      errors.Add(at, f->PathOf("stop_timeout"), d.status().message());
    } else if (d->count() < 1'000'000'000 || d->count() % 1'000'000'000 != 0 ||
               d->count() / 1'000'000'000 > kMaxStopTimeoutS) {
      errors.Add(at, f->PathOf("stop_timeout"),
                 "must be whole seconds from 1s to 1h, got \"" + *s + "\"");
    } else {
      stop = static_cast<std::uint32_t>(d->count() / 1'000'000'000);
    }
  }
  if (!command || errors.count() != before) return nullptr;
  return std::make_unique<CmdTarget>(ctx, *command, std::move(environment),
                                     std::chrono::seconds(stop));
}

}  // namespace plugins::static_ns
