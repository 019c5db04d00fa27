// FakeNetd: a stand-in for proxygw-netd on a Unix SEQPACKET socket in a
// temporary folder, served on the test's io_context, for NetdDataplane's unit
// tests. It speaks the real protocol (common/ipc), answers the handshake,
// keeps the count of installed mappings and, like netd, closes the connection
// after refusing a request over its limit. The test sets how it misbehaves
// (refuse every connection, never answer, withhold the flow snapshot) and
// reads what it was sent. Test-only.
#pragma once

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "common/ipc/netd_protocol.h"

namespace engine::testing {

class FakeNetd {
 public:
  explicit FakeNetd(boost::asio::io_context& io) : io_(io), listener_(io) {
    char tmpl[] = "/tmp/pgw-fake-netd-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path = dir_ + "/netd.sock";
    int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0) {
      ::close(fd);
      return;
    }
    listener_.assign(fd);
    AcceptLoop();
  }
  ~FakeNetd() {
    session_.reset();
    boost::system::error_code ignored;
    listener_.close(ignored);
    ::unlink(path.c_str());
    ::rmdir(dir_.c_str());
  }

  // How it behaves.
  std::optional<ipc::netd::ErrorCode> reject;  // refuse each connection so (id 0), close it
  bool answer = true;                          // false: read requests, answer none
  bool snapshot = true;                        // push the flow snapshot after subscribe
  std::uint32_t max_mappings = 100;
  std::vector<ipc::netd::DestinationCount> flows;  // what the snapshot says

  // What it saw.
  std::string path;
  int connections = 0;
  std::vector<ipc::netd::Request> requests;
  std::size_t installed = 0;

  bool connected() const { return session_ != nullptr; }
  // Sends the flow snapshot (reset, `flows`) on the current connection.
  void SendSnapshot() { Send({0, ipc::netd::FlowCountsPush{true, flows}}); }
  // Pushes a knock on the current connection.
  void SendKnock(const ipc::netd::KnockPush& k) { Send({0, k}); }
  std::size_t Count(ipc::netd::Op op) const {
    std::size_t n = 0;
    for (const auto& r : requests) n += r.op() == op;
    return n;
  }

 private:
  using Stream = boost::asio::posix::stream_descriptor;

  void AcceptLoop() {
    listener_.async_wait(Stream::wait_read, [this](const boost::system::error_code& ec) {
      if (ec) return;
      int fd = ::accept4(listener_.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) Accepted(fd);
      AcceptLoop();
    });
  }

  void Accepted(int fd) {
    ++connections;
    if (reject) {
      auto bytes = ipc::netd::EncodeMessage({0, ipc::netd::ErrorReply{*reject, 0, "refused"}});
      (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      ::close(fd);
      return;
    }
    session_ = std::make_unique<Stream>(io_, fd);
    installed = sync_total_ = 0;
    ReadLoop();
  }

  void ReadLoop() {
    if (!session_) return;
    session_->async_wait(
        Stream::wait_read, [this, s = session_.get()](const boost::system::error_code& ec) {
          if (ec || s != session_.get()) return;
          std::vector<std::uint8_t> buf(ipc::netd::kMaxMessageBytes);
          ssize_t n = ::recv(session_->native_handle(), buf.data(), buf.size(), MSG_DONTWAIT);
          if (n <= 0) {
            if (n < 0 && errno == EAGAIN) return ReadLoop();
            session_.reset();
            return;
          }
          auto r = ipc::netd::DecodeRequest({buf.data(), static_cast<std::size_t>(n)});
          if (!r.ok()) {
            session_.reset();
            return;
          }
          requests.push_back(*r);
          if (answer) Answer(*r);
          ReadLoop();
        });
  }

  void Answer(const ipc::netd::Request& r) {
    using namespace ipc::netd;
    switch (r.op()) {
      case Op::kHello: {
        HelloReply h;
        h.max_mappings = max_mappings;
        return Send({r.id, ReplyBody(h)});
      }
      case Op::kSyncBegin:
        sync_total_ = std::get<SyncBeginRequest>(r.body).total;
        if (sync_total_ > max_mappings) return Refuse(r.id, ErrorCode::kLimit, "over the limit");
        return Send({r.id, ReplyBody(EmptyReply{})});
      case Op::kSyncCommit:
        installed = sync_total_;
        return Send({r.id, ReplyBody(ApplyReply{})});
      case Op::kChange: {
        const auto& c = std::get<ChangeRequest>(r.body);
        std::size_t after = installed + c.enable.size() - std::min(installed, c.disable.size());
        if (after > max_mappings) return Refuse(r.id, ErrorCode::kLimit, "over the limit");
        installed = after;
        return Send({r.id, ReplyBody(ApplyReply{})});
      }
      case Op::kSubscribe:
        Send({r.id, ReplyBody(EmptyReply{})});
        if (snapshot) SendSnapshot();
        return;
      default:
        return Send({r.id, ReplyBody(EmptyReply{})});
    }
  }

  // As netd does: the error, then the connection closes.
  void Refuse(std::uint32_t id, ipc::netd::ErrorCode code, const char* why) {
    Send({id, ipc::netd::ErrorReply{code, 0, why}});
    session_.reset();
  }

  void Send(const ipc::netd::NetdMessage& m) {
    if (!session_) return;
    auto bytes = ipc::netd::EncodeMessage(m);
    (void)::send(session_->native_handle(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }

  boost::asio::io_context& io_;
  std::string dir_;
  Stream listener_;
  std::unique_ptr<Stream> session_;
  std::size_t sync_total_ = 0;
};

}  // namespace engine::testing
