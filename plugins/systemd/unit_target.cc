#include "plugins/systemd/unit_target.h"

#include <systemd/sd-bus.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "common/c_free.h"
#include "plugins/systemd/system_bus.h"
#include "plugins/systemd/unit_properties.h"
#include "plugins/systemd/unit_state.h"
#include "proxygw-engine/state_store.h"

namespace plugins::systemd {
namespace {

namespace asio = boost::asio;
using common::Status;
using engine::Done;

constexpr const char* kManagerPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
constexpr const char* kUnitIface = "org.freedesktop.systemd1.Unit";
constexpr const char* kServiceIface = "org.freedesktop.systemd1.Service";
constexpr const char* kProperties = "org.freedesktop.DBus.Properties";
// JobRemoved signals kept while a start or stop call's reply (naming its
// job) is on its way; others' jobs of the same unit, in practice none.
constexpr std::size_t kMaxEarlyJobs = 16;

// The object path of `unit` (systemd's escaping of its name).
std::string UnitPath(const std::string& unit) {
  char* raw = nullptr;
  if (sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit.c_str(), &raw) < 0) return {};
  std::unique_ptr<char, common::CFree<std::free>> path(raw);
  return path.get();
}

// A refusal by polkit, said with what to do about it.
Status WithHint(const Status& st, const std::string& what) {
  Status out = st.WithContext(what);
  if (st.code() != Status::Code::kPermissionDenied) return out;
  return Status::PermissionDenied(
      out.message() +
      "; the engine's user may start and stop only the units of systemd:unit targets, through "
      "the polkit rule that `proxygw-engine --write-polkit-rule` writes (README: systemd:unit and polkit)");
}

class UnitTarget : public engine::TargetHandler {
 public:
  UnitTarget(const engine::TargetContext& ctx, UnitOptions options, BusSource bus)
      : name_(ctx.config.name),
        log_(ctx.log.With({{"unit", options.unit}})),
        state_(ctx.state),
        exited_(ctx.backend_exited),
        started_(ctx.backend_started),
        options_(std::move(options)),
        ready_timeout_(ctx.config.ready_timeout_s),
        path_(UnitPath(options_.unit)),
        bus_source_(std::move(bus)),
        op_timer_(ctx.io) {}

  ~UnitTarget() override { op_timer_.cancel(); }

  void Warm(Done done) override {
    if (Status st = Watch(); !st.ok()) return done(st.WithContext("start " + options_.unit));
    bool was_owned = owned_;
    Record(true);
    Begin(Op::kStarting, std::move(done));
    log_.Info("starting the unit");
    // systemd bounds the start job (TimeoutStartSec=); this bounds the wait
    // for its end, should a signal never come.
    op_timer_.expires_after(ready_timeout_);
    op_timer_.async_wait(GuardTimer([](UnitTarget& t) {
      if (t.op_ != Op::kStarting) return;
      t.Finish(Status::Unavailable(t.options_.unit + " still starting after " +
                                   std::to_string(t.ready_timeout_.count()) +
                                   "s (ready_timeout)"));
    }));
    Status sent = bus_->Call(
        kManagerPath, kManager, "StartUnit", {options_.unit, "replace"},
        Guard([was_owned](UnitTarget& t, const Status& st, sd_bus_message* m) {
          if (t.op_ != Op::kStarting) return;
          if (st.ok()) return t.OnJobQueued(m);
          if (!was_owned) t.Record(false);
          t.Finish(WithHint(st, "start " + t.options_.unit));
        }));
    if (!sent.ok()) {
      if (!was_owned) Record(false);
      Finish(sent.WithContext("start " + options_.unit));
    }
  }

  void Drain(Done done) override {
    running_ = false;
    // A unit the engine neither started nor took over is not its to stop.
    if (!owned_) return done(Status::Ok());
    if (Status st = Watch(); !st.ok()) return done(st.WithContext("stop " + options_.unit));
    Begin(Op::kStopping, std::move(done));
    log_.Info("stopping the unit");
    op_timer_.expires_after(options_.stop_timeout);
    op_timer_.async_wait(GuardTimer([](UnitTarget& t) {
      if (t.op_ != Op::kStopping) return;
      t.Finish(Status::Unavailable(t.options_.unit + " still stopping after " +
                                   std::to_string(t.options_.stop_timeout.count()) +
                                   "s (stop_timeout); systemd goes on stopping it"));
    }));
    Status sent = bus_->Call(kManagerPath, kManager, "StopUnit", {options_.unit, "replace"},
                             Guard([](UnitTarget& t, const Status& st, sd_bus_message* m) {
                               if (t.op_ != Op::kStopping) return;
                               if (st.ok()) return t.OnJobQueued(m);
                               t.Finish(WithHint(st, "stop " + t.options_.unit));
                             }));
    if (!sent.ok()) Finish(sent.WithContext("stop " + options_.unit));
  }

  void Close(Done done) override {
    Drain([this, done](Status st) {
      op_timer_.cancel();
      props_match_.reset();
      jobs_match_.reset();
      bus_.reset();
      done(st);
    });
  }

  // The engine's start: a unit this engine's predecessor started is taken as
  // running (the unit's state, once read, may say otherwise); following the
  // unit begins, which takes over a unit that is active without the engine.
  bool Adopt() override {
    owned_ = state_.Get(name_).value("started", false);
    running_ = owned_;
    if (Status st = Watch(); !st.ok()) {
      log_.Error("cannot follow the unit; it is started and stopped once the bus is reachable",
                 {{"error", st.message()}});
    }
    return owned_;
  }

 private:
  enum class Op { kNone, kStarting, kStopping };

  // Callbacks that run only while this handler exists.
  template <class F>
  SystemBus::Reply Guard(F f) {
    return [this, w = std::weak_ptr<bool>(alive_), f](const Status& st, sd_bus_message* m) {
      if (w.lock()) f(*this, st, m);
    };
  }
  template <class F>
  std::function<void(const boost::system::error_code&)> GuardTimer(F f) {
    return [this, w = std::weak_ptr<bool>(alive_), f](const boost::system::error_code& ec) {
      if (!ec && w.lock()) f(*this);
    };
  }

  // Connects and follows the unit, unless already doing so.
  Status Watch() {
    if (bus_ && bus_->open()) return Status::Ok();
    props_match_.reset();
    jobs_match_.reset();
    bus_.reset();
    auto bus = bus_source_();
    if (!bus.ok()) return bus.status();
    auto w = std::weak_ptr<bool>(alive_);
    auto props = (*bus)->Match(path_, kProperties, "PropertiesChanged",
                               [this, w](sd_bus_message* m) {
                                 if (w.lock()) OnPropertiesChanged(m);
                               });
    if (!props.ok()) return props.status();
    auto jobs = (*bus)->Match(kManagerPath, kManager, "JobRemoved", [this, w](sd_bus_message* m) {
      if (w.lock()) OnJobRemoved(m);
    });
    if (!jobs.ok()) return jobs.status();
    bus_ = *bus;
    props_match_ = std::move(*props);
    jobs_match_ = std::move(*jobs);
    // systemd sends unit and job signals only to subscribed clients.
    Status sent = bus_->Call(kManagerPath, kManager, "Subscribe", {},
                             Guard([](UnitTarget& t, const Status& st, sd_bus_message*) {
                               if (!st.ok() && st.message().find("AlreadySubscribed") ==
                                                   std::string::npos) {
                                 t.log_.Warn("systemd refused Subscribe; the unit's changes are "
                                             "not followed",
                                             {{"error", st.message()}});
                               }
                             }));
    if (!sent.ok()) return sent;
    Refresh([](UnitTarget& t) { t.Follow(); });
    return Status::Ok();
  }

  // Reads the unit's states anew, then `then`.
  void Refresh(void (*then)(UnitTarget&)) {
    (void)bus_->Call(path_, kProperties, "Get", {kServiceIface, "Result"},
                     Guard([](UnitTarget& t, const Status& st, sd_bus_message* m) {
                       const char* result = nullptr;
                       if (st.ok() && sd_bus_message_read(m, "v", "s", &result) >= 0) {
                         t.unit_.result = result;
                       }
                     }));
    Status sent = bus_->Call(
        path_, kProperties, "GetAll", {kUnitIface},
        Guard([then](UnitTarget& t, const Status& st, sd_bus_message* m) {
          if (!st.ok()) {
            t.log_.Warn("cannot read the unit's state", {{"error", st.message()}});
          } else if (int r = ReadUnitProperties(m, t.unit_); r < 0) {
            t.log_.Warn("cannot parse the unit's state", {{"error", std::strerror(-r)}});
          }
          then(t);
        }));
    if (!sent.ok()) {
      log_.Warn("cannot read the unit's state", {{"error", sent.message()}});
      then(*this);
    }
  }

  void OnPropertiesChanged(sd_bus_message* m) {
    UnitState before = unit_;
    if (int r = ReadPropertiesChanged(m, unit_); r < 0) {
      log_.Warn("cannot parse the unit's PropertiesChanged, ignoring", {{"error", std::strerror(-r)}});
      return;
    }
    if (unit_.active_state != before.active_state || unit_.sub_state != before.sub_state) {
      log_.Debug("unit state", {{"state", Describe(unit_)}});
    }
    Follow();
  }

  // What the unit's state means while no start or stop is under way.
  void Follow() {
    if (op_ != Op::kNone) return;
    switch (Classify(unit_)) {
      case UnitPhase::kUp:
        if (running_ || offered_ || !started_) return;
        offered_ = true;
        log_.Info("the unit is active without the engine; taking it over");
        started_();
        return;
      case UnitPhase::kStopped:
      case UnitPhase::kFailed:
      case UnitPhase::kMissing: {
        offered_ = false;
        if (owned_) Record(false);
        if (!running_) return;
        running_ = false;
        std::string why = GoneReason(options_.unit, unit_).value_or(options_.unit + " stopped");
        log_.Warn("the unit went down", {{"reason", why}});
        if (exited_) exited_(why);
        return;
      }
      default:
        return;
    }
  }

  void Begin(Op op, Done done) {
    op_ = op;
    op_done_ = std::move(done);
    job_.clear();
    early_jobs_.clear();
  }

  void OnJobQueued(sd_bus_message* m) {
    const char* job = nullptr;
    if (int r = sd_bus_message_read(m, "o", &job); r < 0) {
      return Finish(Status::FromErrno("parse the job of " + options_.unit, -r));
    }
    job_ = job;
    if (auto it = early_jobs_.find(job_); it != early_jobs_.end()) OnJobDone(it->second);
  }

  void OnJobRemoved(sd_bus_message* m) {
    std::uint32_t id = 0;
    const char *job = nullptr, *unit = nullptr, *result = nullptr;
    if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0) return;
    if (op_ == Op::kNone || options_.unit != unit) return;
    if (job_.empty()) {
      if (early_jobs_.size() < kMaxEarlyJobs) early_jobs_.emplace(job, result);
      return;
    }
    if (job_ == job) OnJobDone(result);
  }

  // The start or stop job ended with `result` (done, failed, canceled,
  // timeout, dependency, skipped...).
  void OnJobDone(const std::string& result) {
    job_.clear();
    if (op_ == Op::kStopping) {
      if (result != "done") return Finish(Status::Unavailable("stop job of " + options_.unit + ": " + result));
      Record(false);
      log_.Info("unit stopped");
      return Finish(Status::Ok());
    }
    // Started: the job says it ran; the unit's state says whether it stayed up.
    start_job_result_ = result;
    Refresh([](UnitTarget& t) {
      if (t.op_ != Op::kStarting) return;
      if (Classify(t.unit_) == UnitPhase::kUp) {
        t.running_ = true;
        t.log_.Info("unit started", {{"state", Describe(t.unit_)}});
        return t.Finish(Status::Ok());
      }
      t.Record(false);
      t.Finish(Status::Unavailable(t.options_.unit + " did not start (job " +
                                   t.start_job_result_ + "): " + Describe(t.unit_)));
    });
  }

  void Finish(Status st) {
    op_ = Op::kNone;
    job_.clear();
    early_jobs_.clear();
    op_timer_.cancel();
    Done done = std::move(op_done_);
    op_done_ = nullptr;
    if (done) done(st);
    Follow();
  }

  void Record(bool started) {
    owned_ = started;
    if (Status put = state_.Set(name_, "started", started); !put.ok()) {
      log_.Warn("could not record whether the engine started the unit; a restarted engine may "
                "not stop it",
                {{"error", put.message()}});
    }
  }

  std::string name_;
  engine::Logger log_;
  engine::StateStore& state_;
  std::function<void(const std::string&)> exited_;
  std::function<void()> started_;
  UnitOptions options_;
  std::chrono::seconds ready_timeout_;
  std::string path_;
  BusSource bus_source_;
  asio::steady_timer op_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::shared_ptr<SystemBus> bus_;
  std::unique_ptr<BusMatch> props_match_, jobs_match_;
  UnitState unit_;
  bool owned_ = false;    // the engine started (or took over) the unit: a drain stops it
  bool running_ = false;  // the target is warm or active on the unit
  // backend_started was called for this run of the unit: not again until the
  // unit has been down, so that a warm that fails (polkit refuses, not
  // ready) is not retried in a loop against a unit that stays up.
  bool offered_ = false;
  Op op_ = Op::kNone;
  Done op_done_;
  std::string job_;
  std::map<std::string, std::string> early_jobs_;
  std::string start_job_result_;
};

}  // namespace

std::unique_ptr<engine::TargetHandler> NewUnitTarget(const engine::TargetContext& ctx,
                                                     UnitOptions options, BusSource bus) {
  return std::make_unique<UnitTarget>(ctx, std::move(options), std::move(bus));
}

}  // namespace plugins::systemd
