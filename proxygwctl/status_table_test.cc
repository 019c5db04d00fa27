#include "proxygwctl/status_table.h"

#include <gtest/gtest.h>

namespace proxygwctl {
namespace {

namespace wire = ipc::ctl;
using std::chrono::seconds;
using std::chrono::system_clock;

TEST(CtlStatusTable, FormatsAges) {
  EXPECT_EQ(FormatAge(seconds(-5)), "0s");
  EXPECT_EQ(FormatAge(seconds(42)), "42s");
  EXPECT_EQ(FormatAge(seconds(450)), "7m30s");
  EXPECT_EQ(FormatAge(seconds(3600)), "1h");
  EXPECT_EQ(FormatAge(seconds(5 * 3600 + 12 * 60 + 7)), "5h12m");
  EXPECT_EQ(FormatAge(seconds(3 * 86400 + 4 * 3600 + 59)), "3d4h");
}

TEST(CtlStatusTable, TablesOfTargetsAndFrontends) {
  const auto t0 = system_clock::time_point(seconds(1714564800));  // 2024-05-01T12:00:00Z
  wire::StatusResponse s;
  s.dataplane_connected = true;
  s.targets = {
      {"api", "static:cmd", "active", "", 3, t0, "public", {}},
      {"web", "static:cmd", "inactive", "exited:\nstatus 1\x1b[2J", 0, t0 + seconds(90), "", {}},
      {"old", "static:none", "inactive", "", std::nullopt, std::nullopt, "", {}},
  };
  s.frontends = {{"public", "static:always", "running", "", wire::Protocol::kTcp, "[::]:80", "api",
                  "http", {"198.18.2.2:80", "[2001:db8::2]:80"}}};
  EXPECT_EQ(FormatStatusTable(s, t0 + seconds(450)),
            "engine: running, dataplane connected\n"
            "\n"
            "TARGET  KIND         STATE               FLOWS  SINCE                             LAST ERROR\n"
            "api     static:cmd   active (kept warm)  3      2024-05-01T12:00:00Z (7m30s ago)  -\n"
            "web     static:cmd   inactive            0      2024-05-01T12:01:30Z (6m ago)     exited: status 1?[2J\n"
            "old     static:none  inactive            -      -                                 -\n"
            "\n"
            "FRONTEND  KIND           STATE    PROTO  LISTEN   TARGET    FORWARDS TO                      LAST ERROR\n"
            "public    static:always  running  tcp    [::]:80  api:http  198.18.2.2:80, [2001:db8::2]:80  -\n");
}

TEST(CtlStatusTable, AHoldFrontendShowsItsKnocks) {
  wire::StatusResponse s;
  s.dataplane_connected = true;
  s.frontends = {{"game", "static:hold", "running", "", wire::Protocol::kTcp, "0.0.0.0:25565", "mc",
                  "game", {"198.18.2.2:25565"}, 3, "198.18.1.2"}};
  EXPECT_EQ(FormatStatusTable(s, system_clock::now()),
            "engine: running, dataplane connected\n"
            "\n"
            "no targets\n"
            "\n"
            "FRONTEND  KIND         STATE                                     PROTO  LISTEN         TARGET   "
            "FORWARDS TO       LAST ERROR\n"
            "game      static:hold  running (3 knocks, last from 198.18.1.2)  tcp    0.0.0.0:25565  mc:game  "
            "198.18.2.2:25565  -\n");
}

TEST(CtlStatusTable, EmptyEngine) {
  wire::StatusResponse s;
  s.closed = true;
  EXPECT_EQ(FormatStatusTable(s, system_clock::now()),
            "engine: shutting down\n\nno targets\n\nno frontends\n");
}

}  // namespace
}  // namespace proxygwctl
