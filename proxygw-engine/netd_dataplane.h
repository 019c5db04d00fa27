// NetdDataplane: the Dataplane over proxygw-netd's socket. It keeps the
// desired mappings of every target and, on every (re)connect, says hello,
// sends them as one full sync (netd reconciles its table to it in one
// transaction, leaving unchanged mappings and their flows alone) and
// subscribes to flow counts and knocks; the holds of every frontend go into
// each full sync too, and to netd as they change; it is connected (ready) once netd's flow
// snapshot has arrived, so that counts are never read before they are known.
//
// Requests are checked before they are sent (netd_stubs.h): netd closes the
// connection on a request it refuses, so one target's bad mapping is answered
// here, for that target alone. A request netd does not answer within the
// request timeout drops the connection (a wedged netd): pending requests fail
// with Unavailable and the connection is made again.
//
// While netd is unreachable or refuses the connection (busy, wrong uid,
// version) it retries with back-off (100 ms doubling to 5 s), reset only once
// a connection is ready; a failure is logged when it first happens or
// changes, then at most once a minute. Requests made meanwhile fail with
// Unavailable, and the engine keeps serving. Event loop only.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "proxygw-engine/dataplane.h"
#include "proxygw-engine/log.h"

namespace boost::asio {
class io_context;
}

namespace engine {

struct NetdDataplaneOptions {
  // How long netd may take to answer a request (a full sync of many
  // mappings is one kernel transaction; deleting a timeout policy walks
  // the conntrack table).
  std::chrono::milliseconds request_timeout = std::chrono::seconds(30);
  std::chrono::milliseconds first_retry = std::chrono::milliseconds(100);
  std::chrono::milliseconds max_retry = std::chrono::seconds(5);
  // The same connection failure is logged again at most this often.
  std::chrono::milliseconds repeat_log_every = std::chrono::minutes(1);
};

class NetdDataplane : public Dataplane {
 public:
  using Options = NetdDataplaneOptions;

  NetdDataplane(boost::asio::io_context& io, std::string socket_path, Logger log,
                Options options = Options());
  ~NetdDataplane() override;

  // Starts connecting (and keeps reconnecting until Stop).
  void Start();
  // Stops reconnecting and closes the connection; pending requests fail.
  void Stop();
  // Asks netd to exit, removing its table when `remove_table`; then Stop.
  void Shutdown(bool remove_table, Done done);

  void SetListener(Listener listener) override;
  void SetChangeObserver(std::function<void(double seconds)> observer) override;
  bool connected() const override;
  void Enable(const std::string& owner, const std::vector<ipc::netd::Mapping>& mappings,
              Done done) override;
  void Disable(const std::string& owner, Done done) override;
  void Flush(const std::vector<ipc::netd::MappingKey>& keys, Done done) override;
  void Preset(const std::string& owner, const std::vector<ipc::netd::Mapping>& mappings) override;
  common::Status SetHolds(const std::string& owner,
                          const std::vector<ipc::netd::Hold>& holds) override;
  void Release(const std::vector<ipc::netd::MappingKey>& keys) override;
  std::uint32_t Flows(ipc::netd::Proto proto, const common::AddrPort& dest) const override;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace engine
