// Test support for FlowTracker's kernel tests (netd_kernel_tests): conntrack
// entries the test creates, deletes and dumps on a ctnetlink handle of its
// own, what the tracker should report for them, and a loop that reads the
// tracker's events until a condition holds. The binary's main
// (tests/support/netns_test_main.cc) has already moved the process into a
// fresh network namespace. Test-only.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/c_handles.h"
#include "common/net_address.h"
#include "proxygw-netd/flow_tracker.h"

namespace netd::testing {

constexpr std::uint32_t kMask = 0x00ff0000;
constexpr std::uint32_t kMarkA = 0x00010000;
constexpr std::uint32_t kMarkB = 0x00020000;
constexpr std::uint32_t kForeignMark = 0x00000005;  // non-zero, but outside kMask
constexpr auto kEventWait = std::chrono::seconds(5);

// A test address; a typo fails the test.
common::AddrPort Ap(const char* text);

// One conntrack entry to create: client -> vip, optionally DNATed to backend.
struct FlowSpec {
  std::uint8_t l4proto;
  common::AddrPort client;
  common::AddrPort vip;
  std::uint32_t mark;                       // 0: no CTA_MARK
  std::optional<common::AddrPort> backend;  // nullopt: no NAT, so no IPS_DST_NAT
  std::uint32_t timeout_s = 600;            // to live, from its creation
};

// What a full dump shows of one entry.
struct Entry {
  std::uint32_t id = 0;
  std::uint32_t mark = 0;
  std::uint32_t status = 0;
  std::uint16_t client_port = 0;  // original source port: our key in tests
};

// One line per flow or event, sorted, for comparisons that show the difference.
std::string Describe(const TrackedFlow& f);
std::string Describe(const FlowEvent& e);
template <class T>
std::vector<std::string> Describe(const std::vector<T>& v) {
  std::vector<std::string> out;
  for (const T& x : v) out.push_back(Describe(x));
  std::sort(out.begin(), out.end());
  return out;
}

// Suite fixture: a ctnetlink handle of the test's own for creating, deleting
// and dumping entries, and an empty conntrack table before and after each test.
class FlowTracker : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  int FlushAll();

  // Creates the entry; its reply tuple is the inverse of the original one
  // until the DNAT setup rewrites the reply source to the backend.
  void Create(const FlowSpec& f);
  void Delete(const FlowSpec& f);
  // Every entry of both families.
  std::vector<Entry> DumpAll();
  // The conntrack id of the entry whose original source port is `client_port`.
  std::uint32_t IdOf(std::uint16_t client_port);
  // What the tracker should report for `f`, which must exist now.
  TrackedFlow Expected(const FlowSpec& f);

  common::NfctHandle handle_;
  std::vector<Entry> dumped_;
};

std::unique_ptr<netd::FlowTracker> OpenTracker(int rcvbuf_bytes = 8 << 20);

// Calls ReadEvents, and polls event_fd() in between, until `done(events)` or
// kEventWait passes. Returns every event reported.
std::vector<FlowEvent> ReadEventsUntil(
    netd::FlowTracker& tracker, const std::function<bool(const std::vector<FlowEvent>&)>& done);
std::vector<FlowEvent> ReadEventsUntilCount(netd::FlowTracker& tracker, std::size_t n);

}  // namespace netd::testing
