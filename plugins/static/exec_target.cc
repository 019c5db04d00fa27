#include "plugins/static/exec_target.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cctype>
#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plugins/static/backend_options.h"
#include "plugins/static/backend_output.h"
#include "plugins/static/backend_process.h"
#include "proxygw-engine/state_store.h"

namespace plugins::static_ns {
namespace {

namespace asio = boost::asio;
using common::Status;
using engine::Done;

constexpr std::uint32_t kDefaultTimeoutS = 300;
constexpr std::uint32_t kMaxTimeoutS = 24 * 3600;
constexpr std::uint32_t kDefaultCheckIntervalS = 30;
constexpr std::uint32_t kMaxCheckIntervalS = 24 * 3600;
// A command past its timeout gets SIGTERM, then this long, then SIGKILL.
constexpr auto kKillGrace = std::chrono::seconds(10);
// BackendProcess's text for a shell that exited with status 0.
constexpr std::string_view kSucceeded = "exit status 0";

struct ExecOptions {
  std::string start, stop;
  std::optional<std::string> check;
  std::chrono::seconds check_interval{kDefaultCheckIntervalS};
  std::chrono::seconds timeout{kDefaultTimeoutS};
  EnvVars environment;
};

// PROXYGW_ENDPOINT_<NAME>: the endpoint's name in upper case, any other
// character than a letter or digit as _.
std::string EndpointVariable(const std::string& endpoint) {
  std::string v = "PROXYGW_ENDPOINT_";
  for (char c : endpoint) {
    v += std::isalnum(static_cast<unsigned char>(c))
             ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
             : '_';
  }
  return v;
}

class ExecTarget : public engine::TargetHandler {
 public:
  ExecTarget(const engine::TargetContext& ctx, ExecOptions options)
      : name_(ctx.config.name),
        log_(ctx.log),
        state_(ctx.state),
        exited_(ctx.backend_exited),
        options_(std::move(options)),
        timeout_timer_(ctx.io),
        check_timer_(ctx.io),
        process_(ctx.io, ctx.log, ctx.config.name, kKillGrace,
                 [this, w = std::weak_ptr<bool>(alive_)](const std::string& how, bool) {
                   if (w.lock()) OnGone(how);
                 }),
        output_(ctx.io, ctx.log, ctx.state, ctx.config.name) {
    process_.RunToCompletion();
    for (const auto& e : ctx.config.endpoints) {
      std::string addresses;
      for (const auto& a : e.addresses) {
        if (!addresses.empty()) addresses += ' ';
        addresses += a.ToString();
      }
      endpoint_vars_.emplace_back(EndpointVariable(e.name), addresses);
    }
  }

  ~ExecTarget() override {
    timeout_timer_.cancel();
    check_timer_.cancel();
  }

  void Warm(Done done) override {
    Record(true);
    Enqueue("start", options_.start, [this, done](Status st) {
      if (st.ok()) {
        active_ = true;
        ArmCheck();
        return done(st);
      }
      // A half-started instance is not left running (nor billed).
      log_.Warn("start failed; running stop", {{"error", st.message()}});
      Enqueue("stop", options_.stop, [this](Status stopped) {
        if (stopped.ok()) Record(false);
      });
      done(st);
    });
  }

  void Drain(Done done) override {
    active_ = false;
    check_timer_.cancel();
    if (!state_.Get(name_).value("started", false)) return done(Status::Ok());
    Enqueue("stop", options_.stop, [this, done](Status st) {
      if (st.ok()) Record(false);
      done(st);
    });
  }

  void Close(Done done) override {
    closing_ = true;  // no check starts from now on
    Drain([this, done](Status st) {
      auto closed = [this, done, st] {
        output_.Cancel();
        done(st);
      };
      // A check still running (a follower's: there was nothing to stop) is
      // killed and waited for, so that none outlives the engine.
      if (current_ && IsCheck(*current_) && !check_cancelled_) {
        check_cancelled_ = true;
        process_.Stop();
      }
      if (!current_ && queue_.empty()) return closed();
      idle_ = closed;
    });
  }

  // A backend an earlier engine started is taken as running; `check`, if
  // any, finds out otherwise.
  bool Adopt() override {
    if (state_.Get(name_).value("started", false)) {
      active_ = true;
      ArmCheck();
    }
    return true;
  }

  // HA promotion: the backend the former master started is ours to check
  // and, at a drain, to stop.
  void TakeOver() override {
    Record(true);
    active_ = true;
    ArmCheck();
  }

  // HA demotion: the backend is the master's; neither checked nor stopped
  // here (a drain or Close finds nothing started).
  void Release() override {
    active_ = false;
    check_timer_.cancel();
    Record(false);
  }

  std::optional<std::chrono::seconds> RunningCheckInterval() const override {
    if (!options_.check) return std::nullopt;
    return options_.check_interval;
  }

  // HA, on a node that does not own the backend: runs `check` as the
  // owner's checks run (one command at a time, giving way to a start or a
  // stop), and touches nothing else: not `active_`, the check timer nor the
  // started record. Askers while one waits in the queue share it (it starts
  // after each of them asked), so a follower's rounds never pile up.
  void CheckRunning(Done done) override {
    if (!options_.check || closing_) {
      return done(Status::Unavailable("no check to tell whether the backend runs"));
    }
    if (queued_askers_) return queued_askers_->push_back(std::move(done));
    auto askers = std::make_shared<std::vector<Done>>();
    askers->push_back(std::move(done));
    queued_askers_ = askers;
    Enqueue(
        "check", *options_.check,
        [askers](Status st) {
          for (const Done& d : *askers) d(st);
        },
        askers);
  }

 private:
  struct Job {
    const char* action;  // "start", "stop", "check"
    std::string command;
    std::function<void(Status)> done;
    // A CheckRunning check: who waits for its answer.
    std::shared_ptr<std::vector<Done>> askers{};
  };
  static bool IsCheck(const Job& job) { return std::string_view(job.action) == "check"; }

  void Record(bool started) {
    nlohmann::json rec = state_.Get(name_);
    if (started) {
      rec["started"] = true;
    } else {
      rec.erase("started");
    }
    if (Status put = state_.Put(name_, rec); !put.ok()) {
      log_.Warn("could not record whether the backend was started; a restarted engine may not "
                "stop it",
                {{"error", put.message()}});
    }
  }

  // Commands run one at a time, in order. A check in progress gives way to
  // a start or a stop: it is killed and its result ignored.
  void Enqueue(const char* action, const std::string& command, std::function<void(Status)> done,
               std::shared_ptr<std::vector<Done>> askers = nullptr) {
    queue_.push_back({action, command, std::move(done), std::move(askers)});
    if (!IsCheck(queue_.back()) && current_ && IsCheck(*current_) && !check_cancelled_) {
      check_cancelled_ = true;
      process_.Stop();
      return;
    }
    Next();
  }

  void Next() {
    if (current_) return;
    // Closing: no check starts, nobody is left to hear its answer.
    while (closing_ && !queue_.empty() && IsCheck(queue_.front())) {
      Job job = std::move(queue_.front());
      queue_.pop_front();
      job.done(Status::Unavailable("check cancelled"));
    }
    if (queue_.empty()) {
      if (idle_) std::exchange(idle_, nullptr)();
      return;
    }
    current_ = std::move(queue_.front());
    queue_.pop_front();
    if (current_->askers && current_->askers == queued_askers_) queued_askers_.reset();
    timed_out_ = false;
    check_cancelled_ = false;
    EnvVars vars = options_.environment;
    vars.insert(vars.end(), endpoint_vars_.begin(), endpoint_vars_.end());
    vars.emplace_back("PROXYGW_ACTION", current_->action);
    output_.Follow([this] { return process_.running(); });
    Status st = process_.Start(
        {current_->command, BackendEnvironment(vars), output_.stdout_path(), output_.stderr_path()});
    if (!st.ok()) return Finish(Status::Internal(std::string(current_->action) + ": " + st.message()));
    log_.Info(std::string("running ") + current_->action,
              {{"pid", std::to_string(process_.pid())}, {"command", current_->command}});
    timeout_timer_.expires_after(options_.timeout);
    timeout_timer_.async_wait(
        [this, w = std::weak_ptr<bool>(alive_)](const boost::system::error_code& ec) {
          if (ec || !w.lock() || !current_) return;
          timed_out_ = true;
          log_.Warn(std::string(current_->action) + " timed out; killing it",
                    {{"timeout", std::to_string(options_.timeout.count()) + "s"}});
          process_.Stop();
        });
  }

  void OnGone(const std::string& how) {
    timeout_timer_.cancel();
    output_.Finish();
    if (!current_) return;
    std::string action = current_->action;
    Status st = Status::Ok();
    if (check_cancelled_) {
      st = Status::Unavailable("check cancelled");
    } else if (timed_out_) {
      st = Status::Unavailable(action + " timed out after " +
                               std::to_string(options_.timeout.count()) + "s");
    } else if (how != kSucceeded) {
      st = Status::Unavailable(action + " failed (" + how + ")" +
                               (output_.last_stderr_line().empty() ? "" : ": " + output_.last_stderr_line()));
    }
    if (st.ok()) log_.Info(action + " done");
    Finish(st);
  }

  void Finish(Status st) {
    auto job = std::move(*current_);
    current_.reset();
    job.done(st);
    Next();
  }

  void ArmCheck() {
    if (!options_.check) return;
    check_timer_.expires_after(options_.check_interval);
    check_timer_.async_wait(
        [this, w = std::weak_ptr<bool>(alive_)](const boost::system::error_code& ec) {
          if (ec || !w.lock() || !active_) return;
          if (current_ || !queue_.empty()) return ArmCheck();
          Enqueue("check", *options_.check, [this](Status st) {
            if (!active_ || st.message() == "check cancelled") return;
            if (st.ok()) return ArmCheck();
            active_ = false;
            log_.Warn("check failed: the backend is gone", {{"error", st.message()}});
            if (exited_) exited_(st.message());
          });
        });
  }

  std::string name_;
  engine::Logger log_;
  engine::StateStore& state_;
  std::function<void(const std::string&)> exited_;
  ExecOptions options_;
  EnvVars endpoint_vars_;
  asio::steady_timer timeout_timer_, check_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  BackendProcess process_;
  BackendOutput output_;
  std::deque<Job> queue_;
  std::optional<Job> current_;
  // The askers of the CheckRunning check that waits in `queue_`, if any.
  std::shared_ptr<std::vector<Done>> queued_askers_;
  std::function<void()> idle_;  // closing: runs once no command runs or waits
  bool timed_out_ = false;
  bool check_cancelled_ = false;
  bool active_ = false;
  bool closing_ = false;
};

}  // namespace

std::unique_ptr<engine::TargetHandler> NewExecTarget(const engine::TargetContext& ctx,
                                                     config::ErrorSink& errors) {
  const config::Options& o = ctx.config.options;
  std::size_t before = errors.count();
  auto f = config::Fields::Read(
      errors, o.node, o.path, o.location,
      {"start", "stop", "check", "check_interval", "timeout", "environment"},
      /*null_is_empty=*/true);
  if (!f) return nullptr;
  ExecOptions options;
  auto start = f->String(errors, "start", /*required=*/true);
  auto stop = f->String(errors, "stop", /*required=*/true);
  options.check = f->String(errors, "check", /*required=*/false);
  if (auto i = ReadSeconds(errors, *f, "check_interval", kMaxCheckIntervalS, "24h")) {
    options.check_interval = *i;
    if (!options.check) {
      errors.Add(config::LocationOf(f->Get("check_interval")), f->PathOf("check_interval"),
                 "only applies with check");
    }
  }
  if (auto t = ReadSeconds(errors, *f, "timeout", kMaxTimeoutS, "24h")) options.timeout = *t;
  options.environment = ReadEnvironment(errors, *f);
  if (!start || !stop || errors.count() != before) return nullptr;
  options.start = *start;
  options.stop = *stop;
  return std::make_unique<ExecTarget>(ctx, std::move(options));
}

}  // namespace plugins::static_ns
