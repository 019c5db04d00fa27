#include "plugins/ctl/ctl_connection.h"

#include <boost/asio/error.hpp>
#include <boost/asio/write.hpp>

#include "plugins/ctl/request_handler.h"

namespace ctl_plugin {

namespace wire = ipc::ctl;

Connection::Connection(Socket socket, wire::Codec codec, engine::Control& control,
                       engine::Logger log, ConnectionLimits limits, std::function<void()> on_closed,
                       common::Status refusal)
    : socket_(std::move(socket)),
      linger_(socket_.get_executor()),
      idle_(socket_.get_executor()),
      refusal_(std::move(refusal)),
      codec_(codec),
      control_(control),
      log_(std::move(log)),
      limits_(limits),
      on_closed_(std::move(on_closed)),
      decoder_(codec, limits.max_request_bytes) {}

void Connection::Start() {
  ArmIdle();
  Read();
}

void Connection::ArmIdle() {
  idle_.expires_after(limits_.idle);
  idle_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->closed_ || self->closing_) return;
    if (!self->out_.empty()) return self->ArmIdle();  // still answering
    self->log_.Info("ctl client idle; closing the connection",
                    {{"idle", std::to_string(self->limits_.idle.count() / 1000) + "s"}});
    self->Finish();
  });
}

void Connection::Close() {
  on_closed_ = nullptr;
  Finish();
}

void Connection::Read() {
  socket_.async_read_some(boost::asio::buffer(read_buf_),
                          [self = shared_from_this()](const boost::system::error_code& ec,
                                                      std::size_t n) { self->OnRead(ec, n); });
}

void Connection::OnRead(const boost::system::error_code& ec, std::size_t n) {
  if (closed_ || closing_) return;
  if (ec) {
    if (ec == boost::asio::error::eof) {
      if (!decoder_.Idle()) log_.Info("ctl client hung up in the middle of a packet");
    } else if (ec != boost::asio::error::operation_aborted &&
               ec != boost::asio::error::connection_reset) {
      log_.Warn("ctl connection read failed; closing it", {{"error", ec.message()}});
    }
    // The client may have only shut down its sending side: let it read
    // what is still queued.
    CloseAfterWrites();
    return;
  }
  ArmIdle();
  decoder_.Feed(std::string_view(read_buf_.data(), n));
  for (;;) {
    auto next = decoder_.Next();
    if (!next.ok()) {
      Fail(next.status().message());
      return;
    }
    if (!next->has_value()) break;
    Handle(**next);
    if (closed_ || closing_) return;
  }
  Read();
}

void Connection::Handle(const wire::Packet& packet) {
  const bool request = packet.id != 0 && !wire::IsResponse(packet.method);
  if (!refusal_.ok()) {
    log_.Warn("ctl request refused", {{"error", refusal_.message()}});
    if (Send(packet.id, wire::ErrorFrom(refusal_), /*tracked=*/false)) CloseAfterWrites();
    return;
  }
  if (request && in_flight_.count(packet.id) != 0) {
    // As the original: a second request with an id whose response is still
    // on its way is refused at once.
    Send(packet.id, wire::ErrorResponse{"existing request already in flight", "already_exists"},
         /*tracked=*/false);
    return;
  }
  if (log_.DebugEnabled()) {
    engine::Logger l = log_.With(
        {{"id", std::to_string(packet.id)}, {"method", std::to_string(packet.method)}});
    if (packet.body.ok()) {
      l.Debug("ctl request");
    } else {
      l.Debug("ctl request with a bad body", {{"error", packet.body.status().message()}});
    }
  }
  std::optional<wire::Body> response = Respond(control_, packet);
  if (response) Send(packet.id, *response, /*tracked=*/true);
}

bool Connection::Send(std::uint32_t id, const wire::Body& body, bool tracked) {
  if (out_bytes_ >= limits_.max_output_bytes) {
    log_.Warn("ctl client is not reading its responses; closing the connection",
              {{"queued_bytes", std::to_string(out_bytes_)}});
    Finish();
    return false;
  }
  Out o{wire::EncodePacket(codec_, id, body), id, tracked};
  out_bytes_ += o.bytes.size();
  if (tracked) ++in_flight_[id];
  out_.push_back(std::move(o));
  Write();
  return true;
}

void Connection::Write() {
  if (writing_ || out_.empty() || closed_) return;
  writing_ = true;
  // out_.front() stays put while more is queued behind it (deque).
  boost::asio::async_write(
      socket_, boost::asio::buffer(out_.front().bytes),
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        self->OnWrite(ec);
      });
}

void Connection::OnWrite(const boost::system::error_code& ec) {
  writing_ = false;
  if (closed_) return;
  if (ec) {
    if (ec != boost::asio::error::broken_pipe && ec != boost::asio::error::connection_reset &&
        ec != boost::asio::error::operation_aborted) {
      log_.Warn("ctl connection write failed; closing it", {{"error", ec.message()}});
    }
    Finish();
    return;
  }
  const Out& done = out_.front();
  out_bytes_ -= done.bytes.size();
  if (done.tracked) {
    auto it = in_flight_.find(done.id);
    if (it != in_flight_.end() && --it->second == 0) in_flight_.erase(it);
  }
  out_.pop_front();
  if (out_.empty() && closing_) {
    Finish();
    return;
  }
  Write();
}

void Connection::Fail(const std::string& why) {
  log_.Warn("ctl client broke the protocol; closing the connection", {{"error", why}});
  if (Send(0, wire::ErrorResponse{why, "protocol_error"}, /*tracked=*/false)) CloseAfterWrites();
}

void Connection::CloseAfterWrites() {
  closing_ = true;
  if (out_.empty() && !writing_) {
    Finish();
    return;
  }
  linger_.expires_after(limits_.linger);
  linger_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->closed_) return;
    self->log_.Warn("ctl client did not read its last responses; closing the connection");
    self->Finish();
  });
}

void Connection::Finish() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(Socket::shutdown_both, ignored);
  socket_.close(ignored);
  linger_.cancel();
  idle_.cancel();
  // out_ stays: a cancelled write may still refer to its front.
  if (auto done = std::move(on_closed_)) done();
}

}  // namespace ctl_plugin
