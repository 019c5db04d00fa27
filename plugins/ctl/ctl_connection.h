// One client of the control socket, served on the engine's event loop:
// reads packets as they arrive, answers each request in order, and protects
// the engine from the client. A packet that cannot be read (bad syntax, over
// the size limit) is answered with an ErrorResponse if possible and the
// connection is closed; a client that stops reading its responses is cut
// off once they pile up; nothing here blocks or throws. Each problem is
// logged once, on the connection's logger.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/ipc/ctl_protocol.h"
#include "common/ipc/ctl_stream.h"
#include "proxygw-engine/control.h"
#include "proxygw-engine/log.h"

namespace ctl_plugin {

struct ConnectionLimits {
  std::size_t max_request_bytes = ipc::ctl::kMaxRequestBytes;
  // Responses written but not yet taken by the client. Once this much is
  // waiting, the client is not reading and the connection is closed.
  std::size_t max_output_bytes = 1024 * 1024;
  // How long a closing connection waits for its last responses to be read.
  std::chrono::milliseconds linger{5000};
  // A connection with no request and nothing to answer for this long is
  // closed: idle clients must not hold the server's connection slots.
  std::chrono::milliseconds idle{60000};
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Socket = boost::asio::local::stream_protocol::socket;

  // `on_closed` runs once, on the loop, when the connection ends by itself
  // (not after Close()). `control` must outlive the connection's serving,
  // that is, until Close() or on_closed. `refusal` not ok: the peer may not
  // send requests (peer_policy.h); its first request is answered with that
  // error and the connection closed.
  Connection(Socket socket, ipc::ctl::Codec codec, engine::Control& control, engine::Logger log,
             ConnectionLimits limits, std::function<void()> on_closed,
             common::Status refusal = common::Status::Ok());
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts reading. The connection keeps itself alive (through its pending
  // handlers) until it ends.
  void Start();
  // Ends the connection now, without on_closed: responses not yet written
  // are dropped. Handlers still queued on the loop then do nothing.
  void Close();

 private:
  struct Out {
    std::string bytes;
    std::uint32_t id;
    bool tracked;  // a response whose id is in flight until written
  };

  void Read();
  void OnRead(const boost::system::error_code& ec, std::size_t n);
  void Handle(const ipc::ctl::Packet& packet);
  // Queues a response; false when the connection was closed instead
  // (the client is not reading).
  bool Send(std::uint32_t id, const ipc::ctl::Body& body, bool tracked);
  void Write();
  void OnWrite(const boost::system::error_code& ec);
  // The client broke the protocol: answer with `why` (id 0), then close.
  void Fail(const std::string& why);
  void CloseAfterWrites();
  void Finish();
  void ArmIdle();

  Socket socket_;
  boost::asio::steady_timer linger_;
  boost::asio::steady_timer idle_;
  common::Status refusal_;
  ipc::ctl::Codec codec_;
  engine::Control& control_;
  engine::Logger log_;
  ConnectionLimits limits_;
  std::function<void()> on_closed_;
  ipc::ctl::StreamDecoder decoder_;
  std::array<char, 16 * 1024> read_buf_{};
  std::deque<Out> out_;
  std::size_t out_bytes_ = 0;
  std::unordered_map<std::uint32_t, int> in_flight_;  // id -> responses queued
  bool writing_ = false;
  bool closing_ = false;  // no more reading; close once out_ is written
  bool closed_ = false;
};

}  // namespace ctl_plugin
