// A connection to the system bus (sd-bus) served by the engine's event loop:
// the bus's fd waits in a posix::stream_descriptor for what sd_bus_get_events
// asks, its next deadline (sd_bus_get_timeout) in a steady_timer, and every
// wake runs sd_bus_process until it has nothing left. Calls and signal
// matches are asynchronous; nothing here blocks. Event loop only;
// proxygw-engine's systemd plugin.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

struct sd_bus_message;
struct sd_bus_slot;

namespace boost::asio {
class io_context;
}

namespace plugins::systemd {

// A signal subscription: the callback runs until this is destroyed.
class BusMatch {
 public:
  virtual ~BusMatch() = default;
};

class SystemBus : public std::enable_shared_from_this<SystemBus> {
 public:
  // The reply's message when ok (valid during the callback only); else why the
  // call failed: the bus error's message, prefixed with its name when that is
  // not a generic failure.
  using Reply = std::function<void(const common::Status&, sd_bus_message* reply)>;
  using Signal = std::function<void(sd_bus_message* signal)>;

  // Connects (sd_bus_open_system) and serves the connection on `io`.
  // Unavailable with the reason when the bus cannot be reached.
  static common::Result<std::shared_ptr<SystemBus>> Open(boost::asio::io_context& io);
  ~SystemBus();
  SystemBus(const SystemBus&) = delete;
  SystemBus& operator=(const SystemBus&) = delete;

  // False once the connection broke (the bus or the daemon went away): a new
  // SystemBus is needed then.
  bool open() const;

  // Calls `member` of `iface` at `path` of systemd (org.freedesktop.systemd1)
  // with string arguments. `reply` runs exactly once, later, on the loop;
  // also with an error when the connection breaks, not when this object is
  // destroyed first. An error here: the call was not sent (no callback).
  common::Status Call(const std::string& path, const char* iface, const char* member,
                      const std::vector<std::string>& args, Reply reply);

  // Delivers systemd's signals `iface`.`member` sent from `path` to
  // `on_signal` while the returned match lives.
  common::Result<std::unique_ptr<BusMatch>> Match(const std::string& path, const char* iface,
                                                  const char* member, Signal on_signal);

  // Wraps a bus error (name, message) as a Status; exposed for tests.
  static common::Status ErrorStatus(const char* name, const char* message, int r);

 private:
  struct Impl;
  explicit SystemBus(std::unique_ptr<Impl> impl);
  void Pump();
  void Arm();
  void Broke();
  std::unique_ptr<Impl> impl_;
};

}  // namespace plugins::systemd
