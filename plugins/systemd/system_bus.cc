#include "plugins/systemd/system_bus.h"

#include <poll.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <cstring>

#include "common/c_free.h"

namespace plugins::systemd {
namespace {

namespace asio = boost::asio;
using common::CFree;
using common::Result;
using common::Status;

constexpr const char* kSystemd = "org.freedesktop.systemd1";
// sd_bus_process calls per wake before the loop gets a turn (the rest is
// posted): a burst of signals does not starve the engine's other work.
constexpr int kMaxDispatchPerWake = 256;

using Bus = std::unique_ptr<sd_bus, CFree<sd_bus_close_unref>>;
using Message = std::unique_ptr<sd_bus_message, CFree<sd_bus_message_unref>>;
using Slot = std::unique_ptr<sd_bus_slot, CFree<sd_bus_slot_unref>>;

std::uint64_t NowMonotonicUs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000 +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1'000;
}

// A pending call's callback, owned by its (floating) slot: freed by the
// slot's destroy callback, after the reply or when the bus goes.
struct PendingCall {
  SystemBus::Reply reply;
  static int OnReply(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* call = static_cast<PendingCall*>(userdata);
    if (sd_bus_message_is_method_error(m, nullptr)) {
      const sd_bus_error* e = sd_bus_message_get_error(m);
      call->reply(SystemBus::ErrorStatus(e ? e->name : nullptr, e ? e->message : nullptr,
                                         -sd_bus_message_get_errno(m)),
                  nullptr);
    } else {
      call->reply(Status::Ok(), m);
    }
    return 0;
  }
  static void Free(void* userdata) { delete static_cast<PendingCall*>(userdata); }
};

class SignalMatch : public BusMatch {
 public:
  explicit SignalMatch(SystemBus::Signal on_signal)
      : on_signal_(std::make_unique<SystemBus::Signal>(std::move(on_signal))) {}
  ~SignalMatch() override { slot_.reset(); }  // before on_signal_: no call after this
  static int OnSignal(sd_bus_message* m, void* userdata, sd_bus_error*) {
    (*static_cast<SystemBus::Signal*>(userdata))(m);
    return 0;
  }
  SystemBus::Signal* fn() { return on_signal_.get(); }
  Slot& slot() { return slot_; }

 private:
  std::unique_ptr<SystemBus::Signal> on_signal_;
  Slot slot_;
};

}  // namespace

struct SystemBus::Impl {
  Impl(asio::io_context& io, Bus b, int fd) : bus(std::move(b)), descriptor(io, fd), timer(io) {}
  Bus bus;
  asio::posix::stream_descriptor descriptor;  // the bus's fd, not ours to close
  asio::steady_timer timer;
  bool reading = false, writing = false;
  bool open = true;
};

Result<std::shared_ptr<SystemBus>> SystemBus::Open(asio::io_context& io) {
  sd_bus* raw = nullptr;
  if (int r = sd_bus_open_system(&raw); r < 0) {
    return Status::Unavailable(std::string("cannot connect to the system bus: ") +
                               std::strerror(-r));
  }
  Bus bus(raw);
  int fd = sd_bus_get_fd(bus.get());
  if (fd < 0) return Status::FromErrno("system bus: sd_bus_get_fd", -fd);
  auto impl = std::make_unique<Impl>(io, std::move(bus), fd);
  std::shared_ptr<SystemBus> sb(new SystemBus(std::move(impl)));
  sb->Arm();
  return sb;
}

SystemBus::SystemBus(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SystemBus::~SystemBus() {
  impl_->timer.cancel();
  boost::system::error_code ec;
  impl_->descriptor.cancel(ec);
  impl_->descriptor.release();  // sd-bus closes its own fd
  // Floating slots (pending calls) are freed with the bus: their callbacks
  // are not called.
  impl_->bus.reset();
}

bool SystemBus::open() const { return impl_->open; }

Status SystemBus::ErrorStatus(const char* name, const char* message, int r) {
  std::string text = message != nullptr && *message != '\0' ? message : std::strerror(r > 0 ? r : EIO);
  if (name != nullptr && std::strcmp(name, SD_BUS_ERROR_FAILED) != 0) {
    text += std::string(" (") + name + ")";
  }
  if (name != nullptr && (std::strcmp(name, SD_BUS_ERROR_ACCESS_DENIED) == 0 ||
                          std::strcmp(name, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED) == 0)) {
    return Status::PermissionDenied(text);
  }
  return Status::Unavailable(text);
}

Status SystemBus::Call(const std::string& path, const char* iface, const char* member,
                       const std::vector<std::string>& args, Reply reply) {
  if (!impl_->open) return Status::Unavailable("the system bus connection is closed");
  sd_bus_message* raw = nullptr;
  int r = sd_bus_message_new_method_call(impl_->bus.get(), &raw, kSystemd, path.c_str(), iface,
                                         member);
  if (r < 0) return Status::FromErrno(std::string("system bus: call ") + member, -r);
  Message m(raw);
  for (const auto& a : args) {
    if (r = sd_bus_message_append(m.get(), "s", a.c_str()); r < 0) {
      return Status::FromErrno(std::string("system bus: call ") + member, -r);
    }
  }
  auto call = std::make_unique<PendingCall>(PendingCall{std::move(reply)});
  sd_bus_slot* slot = nullptr;
  r = sd_bus_call_async(impl_->bus.get(), &slot, m.get(), PendingCall::OnReply, call.get(),
                        /*usec=*/0);
  if (r < 0) return Status::FromErrno(std::string("system bus: call ") + member, -r);
  Slot owned(slot);
  // The bus owns the slot from here, and the slot the callback.
  sd_bus_slot_set_destroy_callback(slot, PendingCall::Free);
  call.release();  // freed by PendingCall::Free
  sd_bus_slot_set_floating(slot, 1);
  Arm();
  return Status::Ok();
}

Result<std::unique_ptr<BusMatch>> SystemBus::Match(const std::string& path, const char* iface,
                                                   const char* member, Signal on_signal) {
  if (!impl_->open) return Status::Unavailable("the system bus connection is closed");
  auto match = std::make_unique<SignalMatch>(std::move(on_signal));
  sd_bus_slot* slot = nullptr;
  // No install callback: sd-bus's default ends the connection if the bus
  // refuses the match, which open() then reports.
  int r = sd_bus_match_signal_async(impl_->bus.get(), &slot, kSystemd, path.c_str(), iface, member,
                                    SignalMatch::OnSignal, nullptr, match->fn());
  if (r < 0) return Status::FromErrno(std::string("system bus: match ") + member, -r);
  match->slot().reset(slot);
  Arm();
  return std::unique_ptr<BusMatch>(std::move(match));
}

// Dispatches what the connection has, then waits for what sd-bus asks next.
void SystemBus::Pump() {
  Impl& s = *impl_;
  if (!s.open) return;
  for (int i = 0; i < kMaxDispatchPerWake; ++i) {
    int r = sd_bus_process(s.bus.get(), nullptr);
    if (r < 0) return Broke();
    if (r == 0) return Arm();
  }
  asio::post(s.timer.get_executor(), [w = weak_from_this()] {
    if (auto self = w.lock()) self->Pump();
  });
}

void SystemBus::Arm() {
  Impl& s = *impl_;
  if (!s.open) return;
  int events = sd_bus_get_events(s.bus.get());
  if (events < 0) return Broke();
  auto wake = [w = weak_from_this()](bool* waiting) {
    return [w, waiting](const boost::system::error_code& ec) {
      auto self = w.lock();
      if (!self) return;
      *waiting = false;
      if (!ec) self->Pump();
    };
  };
  if ((events & POLLIN) && !s.reading) {
    s.reading = true;
    s.descriptor.async_wait(asio::posix::stream_descriptor::wait_read, wake(&s.reading));
  }
  if ((events & POLLOUT) && !s.writing) {
    s.writing = true;
    s.descriptor.async_wait(asio::posix::stream_descriptor::wait_write, wake(&s.writing));
  }
  std::uint64_t until = 0;
  if (sd_bus_get_timeout(s.bus.get(), &until) < 0 || until == UINT64_MAX) {
    s.timer.cancel();
    return;
  }
  std::uint64_t now = NowMonotonicUs();
  s.timer.expires_after(std::chrono::microseconds(until > now ? until - now : 0));
  s.timer.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    if (auto self = w.lock()) self->Pump();
  });
}

void SystemBus::Broke() {
  Impl& s = *impl_;
  s.open = false;
  s.timer.cancel();
  boost::system::error_code ec;
  s.descriptor.cancel(ec);
}

}  // namespace plugins::systemd
