// Reading a unit's states out of systemd's messages, built as systemd sends
// them (on a bus over a socketpair: sd-bus builds messages only for an open
// connection; nothing is sent).
#include "plugins/systemd/unit_properties.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

namespace plugins::systemd {
namespace {

class UnitProperties : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    peer_ = sv[1];
    ASSERT_GE(sd_bus_new(&bus_), 0);
    ASSERT_GE(sd_bus_set_fd(bus_, sv[0], sv[0]), 0);
    ASSERT_GE(sd_bus_start(bus_), 0);
  }
  void TearDown() override {
    sd_bus_message_unref(m_);
    sd_bus_close_unref(bus_);
    close(peer_);
  }

  // A PropertiesChanged of `iface`, its a{sv} filled by `fill`, sealed and
  // rewound for reading.
  template <class F>
  sd_bus_message* Changed(const char* iface, F fill) {
    EXPECT_GE(sd_bus_message_new_signal(bus_, &m_, "/org/freedesktop/systemd1/unit/a_2eservice",
                                        "org.freedesktop.DBus.Properties", "PropertiesChanged"),
              0);
    EXPECT_GE(sd_bus_message_append(m_, "s", iface), 0);
    fill(m_);
    EXPECT_GE(sd_bus_message_append(m_, "as", 1, "Job"), 0);
    EXPECT_GE(sd_bus_message_seal(m_, 1, 0), 0);
    EXPECT_GE(sd_bus_message_rewind(m_, 1), 0);
    return m_;
  }

  int peer_ = -1;
  sd_bus* bus_ = nullptr;
  sd_bus_message* m_ = nullptr;
};

TEST_F(UnitProperties, KeepsTheStatesAndSkipsTheRest) {
  UnitState s{"loaded", "active", "running", "success"};
  sd_bus_message* m = Changed("org.freedesktop.systemd1.Unit", [](sd_bus_message* m) {
    EXPECT_GE(sd_bus_message_append(m, "a{sv}", 4, "ActiveState", "s", "failed", "ExecMainPID",
                                    "u", 42u, "SubState", "s", "failed", "Conditions", "as", 2,
                                    "a", "b"),
              0);
  });
  ASSERT_EQ(ReadPropertiesChanged(m, s), 0);
  EXPECT_EQ(s.active_state, "failed");
  EXPECT_EQ(s.sub_state, "failed");
  EXPECT_EQ(s.load_state, "loaded");  // not in the signal: kept
  EXPECT_EQ(s.result, "success");
}

TEST_F(UnitProperties, ServiceResultThenUnitStateGiveTheReason) {
  // systemd sends the service's interface first, then the unit's.
  UnitState s{"loaded", "active", "running", "success"};
  ASSERT_EQ(ReadPropertiesChanged(Changed("org.freedesktop.systemd1.Service",
                                          [](sd_bus_message* m) {
                                            EXPECT_GE(sd_bus_message_append(
                                                          m, "a{sv}", 1, "Result", "s", "signal"),
                                                      0);
                                          }),
                                  s),
            0);
  sd_bus_message_unref(m_);
  m_ = nullptr;
  ASSERT_EQ(ReadPropertiesChanged(Changed("org.freedesktop.systemd1.Unit",
                                          [](sd_bus_message* m) {
                                            EXPECT_GE(sd_bus_message_append(
                                                          m, "a{sv}", 2, "ActiveState", "s",
                                                          "failed", "SubState", "s", "failed"),
                                                      0);
                                          }),
                                  s),
            0);
  EXPECT_EQ(GoneReason("a.service", s), "a.service failed (result: signal)");
}

TEST_F(UnitProperties, IgnoresAStateOfAnotherType) {
  UnitState s{"loaded", "active", "running", ""};
  sd_bus_message* m = Changed("org.freedesktop.systemd1.Unit", [](sd_bus_message* m) {
    EXPECT_GE(sd_bus_message_append(m, "a{sv}", 1, "ActiveState", "u", 3u), 0);
  });
  ASSERT_EQ(ReadPropertiesChanged(m, s), 0);
  EXPECT_EQ(s.active_state, "active");
}

TEST_F(UnitProperties, RefusesAMessageOfAnotherShape) {
  UnitState s;
  sd_bus_message* m = nullptr;
  ASSERT_GE(sd_bus_message_new_signal(bus_, &m, "/x", "org.freedesktop.DBus.Properties",
                                      "PropertiesChanged"),
            0);
  m_ = m;
  ASSERT_GE(sd_bus_message_append(m, "su", "org.freedesktop.systemd1.Unit", 7u), 0);
  ASSERT_GE(sd_bus_message_seal(m, 1, 0), 0);
  ASSERT_GE(sd_bus_message_rewind(m, 1), 0);
  EXPECT_LT(ReadPropertiesChanged(m, s), 0);
}

}  // namespace
}  // namespace plugins::systemd
