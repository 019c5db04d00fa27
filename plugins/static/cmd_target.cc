#include "plugins/static/cmd_target.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "plugins/static/backend_options.h"
#include "plugins/static/backend_process.h"
#include "plugins/static/backend_output.h"
#include "proxygw-engine/state_store.h"

namespace plugins::static_ns {
namespace {

namespace asio = boost::asio;
using common::Status;
using engine::Done;

constexpr std::uint32_t kDefaultStopTimeoutS = 10;
constexpr std::uint32_t kMaxStopTimeoutS = 3600;
constexpr std::uint32_t kMaxFrozenForS = 30 * 24 * 3600;

// static:cmd's options, as checked.
struct CmdOptions {
  std::string command;
  EnvVars environment;
  std::chrono::seconds stop_timeout{kDefaultStopTimeoutS};
  bool freeze = false;                             // idle: freeze
  std::optional<std::chrono::seconds> frozen_for;  // then stopped for real
};

class CmdTarget : public engine::TargetHandler {
 public:
  CmdTarget(const engine::TargetContext& ctx, CmdOptions options)
      : name_(ctx.config.name),
        log_(ctx.log),
        state_(ctx.state),
        exited_(ctx.backend_exited),
        options_(std::move(options)),
        frozen_timer_(ctx.io),
        process_(ctx.io, ctx.log, ctx.config.name, options_.stop_timeout,
                 [this, w = std::weak_ptr<bool>(alive_)](const std::string& how, bool stopped) {
                   if (w.lock()) OnGone(how, stopped);
                 }),
        output_(ctx.io, ctx.log, ctx.state, ctx.config.name) {}

  ~CmdTarget() override {
    frozen_timer_.cancel();
  }

  void Warm(Done done) override {
    if (process_.running()) {
      if (process_.frozen()) Thaw();
      return done(Status::Ok());
    }
    done(Spawn());
  }

  // idle: freeze keeps the backend, stopped in its tracks; otherwise it stops.
  void Drain(Done done) override {
    if (!process_.running()) return done(Status::Ok());
    if (options_.freeze) {
      Freeze();
      return done(Status::Ok());
    }
    Stop(std::move(done));
  }

  // The engine's shutdown: a frozen backend too stops for real.
  void Close(Done done) override {
    auto finish = [this, done](Status st) {
      output_.Cancel();
      frozen_timer_.cancel();
      done(st);
    };
    if (!process_.running()) return finish(Status::Ok());
    Stop(std::move(finish));
  }

  bool Adopt() override {
    nlohmann::json rec = state_.Get(name_);
    if (!rec.contains("pid")) return false;
    pid_t pid = rec.value("pid", 0);
    if (!process_.Adopt(pid, rec.value("start_time", 0ULL))) {
      Forget();
      return false;
    }
    output_.Follow([this] { return process_.running(); });
    if (rec.value("command", "") != options_.command) {
      log_.Warn("stopping a backend started with another command before the restart",
                {{"pid", std::to_string(pid)}});
      Stop([](Status) {});
      return false;
    }
    if (rec.value("frozen", false)) {
      process_.MarkFrozen();
      log_.Info("took over the frozen backend", {{"pid", std::to_string(pid)}});
      ArmFrozenTimer(
          std::chrono::system_clock::time_point(std::chrono::seconds(rec.value("frozen_at", 0LL))));
      return true;
    }
    log_.Info("took over the running backend", {{"pid", std::to_string(pid)}});
    return true;
  }

 private:
  std::vector<std::string> Environment() const {
    return BackendEnvironment(options_.environment);
  }

  Status Spawn() {
    // This run's output starts where the files end now: earlier runs' lines
    // were logged in their time.
    output_.Follow([this] { return process_.running(); });
    Status st = process_.Start(
        {options_.command, Environment(), output_.stdout_path(), output_.stderr_path()});
    if (!st.ok()) return st;
    pid_t pid = process_.pid();
    nlohmann::json rec = state_.Get(name_);
    rec["pid"] = pid;
    rec["start_time"] = BackendProcess::StartTime(pid).value_or(0);
    rec["command"] = options_.command;
    if (Status put = state_.Put(name_, rec); !put.ok()) {
      log_.Warn("could not record the backend's pid; a restarted engine will not adopt it",
                {{"error", put.message()}});
    }
    log_.Info("backend started", {{"pid", std::to_string(pid)}, {"command", options_.command}});
    return Status::Ok();
  }

  void Stop(Done done) {
    stop_done_.push_back(std::move(done));
    frozen_timer_.cancel();
    process_.Stop();
  }

  void Freeze() {
    if (process_.frozen()) return;
    process_.Freeze();
    auto now = std::chrono::system_clock::now();
    Record([now](nlohmann::json& rec) {
      rec["frozen"] = true;
      rec["frozen_at"] =
          std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    });
    log_.Info("backend frozen (SIGSTOP); the next warm resumes it",
              {{"pid", std::to_string(process_.pid())}});
    ArmFrozenTimer(now);
  }

  void Thaw() {
    frozen_timer_.cancel();
    process_.Thaw();
    Record([](nlohmann::json& rec) {
      rec.erase("frozen");
      rec.erase("frozen_at");
    });
    log_.Info("backend resumed (SIGCONT)", {{"pid", std::to_string(process_.pid())}});
  }

  // frozen_for after `since`, a frozen backend is stopped for real.
  void ArmFrozenTimer(std::chrono::system_clock::time_point since) {
    if (!options_.frozen_for) return;
    auto left = since + *options_.frozen_for - std::chrono::system_clock::now();
    frozen_timer_.expires_after(std::max<std::chrono::steady_clock::duration>(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(left),
        std::chrono::steady_clock::duration::zero()));
    frozen_timer_.async_wait(
        [w = std::weak_ptr<bool>(alive_), this](const boost::system::error_code& ec) {
          if (ec || !w.lock() || !process_.frozen()) return;
          log_.Info("backend frozen for frozen_for; stopping it",
                    {{"frozen_for", std::to_string(options_.frozen_for->count()) + "s"}});
          Stop([](Status) {});
        });
  }

  void Record(const std::function<void(nlohmann::json&)>& change) {
    nlohmann::json rec = state_.Get(name_);
    change(rec);
    if (Status put = state_.Put(name_, rec); !put.ok()) {
      log_.Warn("could not record the backend's state, ignoring", {{"error", put.message()}});
    }
  }

  void OnGone(const std::string& how, bool stopped) {
    output_.Finish();
    log_.Info("backend stopped", {{"how", how}});
    Forget();
    auto done = std::move(stop_done_);
    stop_done_.clear();
    for (auto& d : done) d(Status::Ok());
    if (!stopped && exited_) exited_(how);
  }

  void Forget() {
    frozen_timer_.cancel();
    nlohmann::json rec = state_.Get(name_);
    for (const char* key : {"pid", "start_time", "command", "frozen", "frozen_at"}) rec.erase(key);
    (void)state_.Put(name_, rec);
  }

  std::string name_;
  engine::Logger log_;
  engine::StateStore& state_;
  std::function<void(const std::string&)> exited_;
  CmdOptions options_;
  asio::steady_timer frozen_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  BackendProcess process_;
  BackendOutput output_;
  std::vector<Done> stop_done_;
};

}  // namespace

std::unique_ptr<engine::TargetHandler> NewCmdTarget(const engine::TargetContext& ctx,
                                                    config::ErrorSink& errors) {
  const config::Options& o = ctx.config.options;
  std::size_t before = errors.count();
  auto f = config::Fields::Read(errors, o.node, o.path, o.location,
                                {"command", "stop_timeout", "environment", "idle", "frozen_for"},
                                /*null_is_empty=*/true);
  if (!f) return nullptr;
  CmdOptions options;
  auto command = f->String(errors, "command", /*required=*/true);
  if (command) options.command = *command;
  options.environment = ReadEnvironment(errors, *f);
  if (auto stop = ReadSeconds(errors, *f, "stop_timeout", kMaxStopTimeoutS, "1h")) {
    options.stop_timeout = *stop;
  }
  if (auto idle = f->String(errors, "idle", /*required=*/false)) {
    if (*idle == "freeze") {
      options.freeze = true;
    } else if (*idle != "stop") {
      errors.Add(config::LocationOf(f->Get("idle")), f->PathOf("idle"),
                 "expected \"stop\" or \"freeze\", got \"" + *idle + "\"");
    }
  }
  options.frozen_for = ReadSeconds(errors, *f, "frozen_for", kMaxFrozenForS, "30 days");
  if (options.frozen_for && !options.freeze) {
    errors.Add(config::LocationOf(f->Get("frozen_for")), f->PathOf("frozen_for"),
               "only applies with idle: freeze");
  }
  if (!command || errors.count() != before) return nullptr;
  return std::make_unique<CmdTarget>(ctx, std::move(options));
}

}  // namespace plugins::static_ns
