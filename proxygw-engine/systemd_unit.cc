#include "proxygw-engine/systemd_unit.h"

#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "common/c_free.h"

namespace engine {
namespace {

using common::Result;
using common::Status;

constexpr const char* kSystemd = "org.freedesktop.systemd1";
constexpr std::uint64_t kCallTimeoutUs = 3'000'000;

using common::CFree;
using Bus = std::unique_ptr<sd_bus, CFree<sd_bus_flush_close_unref>>;
using Message = std::unique_ptr<sd_bus_message, CFree<sd_bus_message_unref>>;
using CString = std::unique_ptr<char, CFree<std::free>>;

struct BusError {
  sd_bus_error e = SD_BUS_ERROR_NULL;
  ~BusError() { sd_bus_error_free(&e); }
  Status ToStatus(const std::string& what, int r) const {
    return Status::Unavailable(what + ": " + (e.message ? e.message : std::strerror(-r)));
  }
};

PendingJob JobFromName(const std::string& type) {
  if (type == "stop") return PendingJob::kStop;
  if (type == "restart" || type == "try-restart" || type == "reload-or-restart") {
    return PendingJob::kRestart;
  }
  return PendingJob::kOther;
}

}  // namespace

Result<PendingJob> PendingJobOfOwnUnit() {
  // systemd sets INVOCATION_ID for every process it starts for a unit: a
  // process without it pays no bus connection. (sd_pid_get_unit is no help:
  // it reads PID 1's /proc entry, hidden by the unit's ProtectProc=invisible.)
  if (std::getenv("INVOCATION_ID") == nullptr) return Status::NotFound("not started by systemd");
  sd_bus* bus_raw = nullptr;
  if (int r = sd_bus_open_system(&bus_raw); r < 0) {
    return Status::Unavailable(std::string("cannot connect to the system bus: ") +
                               std::strerror(-r));
  }
  Bus bus(bus_raw);
  sd_bus_set_method_call_timeout(bus.get(), kCallTimeoutUs);
  BusError err;
  sd_bus_message* unit_raw = nullptr;
  if (int r = sd_bus_call_method(bus.get(), kSystemd, "/org/freedesktop/systemd1",
                                 "org.freedesktop.systemd1.Manager", "GetUnitByPID", &err.e,
                                 &unit_raw, "u", static_cast<std::uint32_t>(getpid()));
      r < 0) {
    return err.ToStatus("ask systemd for this process's unit", r);
  }
  Message unit_reply(unit_raw);
  const char* path = nullptr;
  if (int r = sd_bus_message_read(unit_reply.get(), "o", &path); r < 0) {
    return Status::FromErrno("parse this process's unit", -r);
  }

  // Only the unit's main process speaks for it: an engine started by the
  // proxygw supervisor inside some unit must not act on that unit's jobs.
  std::uint32_t main_pid = 0;
  if (int r =
          sd_bus_get_property_trivial(bus.get(), kSystemd, path, "org.freedesktop.systemd1.Service",
                                      "MainPID", &err.e, 'u', &main_pid);
      r < 0) {
    return err.ToStatus(std::string("read MainPID of ") + path, r);
  }
  if (main_pid != static_cast<std::uint32_t>(getpid())) {
    return Status::NotFound(std::string("not the main process of ") + path);
  }

  sd_bus_message* reply_raw = nullptr;
  if (int r = sd_bus_get_property(bus.get(), kSystemd, path, "org.freedesktop.systemd1.Unit", "Job",
                                  &err.e, &reply_raw, "(uo)");
      r < 0) {
    return err.ToStatus(std::string("read the pending job of ") + path, r);
  }
  Message reply(reply_raw);
  std::uint32_t job_id = 0;
  const char* job_path = nullptr;
  if (int r = sd_bus_message_read(reply.get(), "(uo)", &job_id, &job_path); r < 0) {
    return Status::FromErrno("parse the pending job", -r);
  }
  if (job_id == 0) return PendingJob::kNone;

  char* type_raw = nullptr;
  if (int r =
          sd_bus_get_property_string(bus.get(), kSystemd, job_path, "org.freedesktop.systemd1.Job",
                                     "JobType", &err.e, &type_raw);
      r < 0) {
    // The job finished between the two calls: nothing is pending any more.
    if (sd_bus_error_has_name(&err.e, SD_BUS_ERROR_UNKNOWN_OBJECT)) return PendingJob::kNone;
    return err.ToStatus("read the type of job " + std::to_string(job_id), r);
  }
  CString type(type_raw);
  return JobFromName(type.get());
}

}  // namespace engine
