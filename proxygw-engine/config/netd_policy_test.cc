// netd's policy as the root side writes it from the config: each listen key
// keeps its mark across rewrites while it stays in the config, a new key gets
// the lowest free mark, and a removed key's mark is kept from new keys while
// others are free (docs/privileged-surface.md, "Marks").
#include "proxygw-engine/config/netd_policy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxygw-engine/config/loader.h"
#include "proxygw-netd/policy.h"

namespace config {
namespace {

// A config whose frontends listen on 0.0.0.0:`port`, in this order, all to
// one backend.
Config WithPorts(const std::vector<int>& ports) {
  std::string yaml =
      "version: v1\n"
      "log: {output: stderr}\n"
      "plugins: {static: {}}\n"
      "targets:\n"
      "  - name: backend\n"
      "    kind: static:none\n"
      "    idle_timeout: 300s\n"
      "    endpoints:\n"
      "      - {name: http, protocol: tcp, address: \"198.18.0.2:8080\"}\n"
      "frontends:\n";
  for (int p : ports) {
    yaml += "  - {name: f" + std::to_string(p) +
            ", kind: \"static:always\", listen: \"0.0.0.0:" + std::to_string(p) +
            "\", flow_timeout: 60s, target: \"backend:http\"}\n";
  }
  LoadResult r = LoadConfigString(yaml, "t.yaml");
  EXPECT_TRUE(r.ok()) << r.ErrorText();
  return r.config.value_or(Config{});
}

// The policy's lines after its first (the comment naming the config).
std::vector<std::string> Body(const std::string& text) {
  std::vector<std::string> out;
  std::size_t at = text.find('\n') + 1;
  while (at < text.size()) {
    std::size_t nl = text.find('\n', at);
    out.push_back(text.substr(at, nl - at));
    at = nl + 1;
  }
  return out;
}

using Lines = std::vector<std::string>;

TEST(NetdPolicyText, NumbersKeysInConfigOrder) {
  std::string text = NetdPolicyText(WithPorts({80, 81}));
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "# proxygw-netd's policy, written from t.yaml; do not edit");
  EXPECT_EQ(Body(text), (Lines{"tcp 0.0.0.0:80 198.18.0.2:8080 mark 1",
                               "tcp 0.0.0.0:81 198.18.0.2:8080 mark 2"}));
}

TEST(NetdPolicyText, IsWhatNetdReads) {
  Config cfg = WithPorts({80, 81});
  auto p = netd::Policy::Parse(NetdPolicyText(cfg));
  ASSERT_TRUE(p.ok()) << p.status().message();
  std::uint32_t id = 0;
  for (const auto& m : NetdMappings(cfg)) {
    EXPECT_TRUE(p->Allows(m));
    EXPECT_EQ(p->MarkId(m.key), ++id);
  }
  EXPECT_EQ(id, 2u);
}

// Issue 18 (HA), design item 1: a key's mark must not depend on what else
// the config gained or lost, or on the order of its frontends.
TEST(NetdPolicyText, AStayingKeyKeepsItsMarkWhenOthersComeAndGo) {
  std::string one = NetdPolicyText(WithPorts({80, 81, 82}));
  // 80 goes, 83 comes, 82 moves first: 81 and 82 keep theirs, 83 gets the
  // lowest free one (4: 1 is kept for 80's flows), 80 is listed as removed.
  std::string two = NetdPolicyText(WithPorts({82, 81, 83}), one);
  EXPECT_EQ(Body(two),
            (Lines{"tcp 0.0.0.0:82 198.18.0.2:8080 mark 3", "tcp 0.0.0.0:81 198.18.0.2:8080 mark 2",
                   "tcp 0.0.0.0:83 198.18.0.2:8080 mark 4", "# removed tcp 0.0.0.0:80 mark 1"}));
  // Rewritten from the same config (a restart): the same text.
  EXPECT_EQ(NetdPolicyText(WithPorts({82, 81, 83}), two), two);
  // 80 comes back: its old mark.
  EXPECT_EQ(
      Body(NetdPolicyText(WithPorts({82, 81, 83, 80}), two)),
      (Lines{"tcp 0.0.0.0:82 198.18.0.2:8080 mark 3", "tcp 0.0.0.0:81 198.18.0.2:8080 mark 2",
             "tcp 0.0.0.0:83 198.18.0.2:8080 mark 4", "tcp 0.0.0.0:80 198.18.0.2:8080 mark 1"}));
}

// Issue 13, adapted (NftTable.RemovedAndReservedMarksAreKeptFromNewMappings
// before marks came from the policy): a removed key's mark goes to a new key
// only when no other id is free, so a flush of the new key spares the old
// key's flows.
TEST(NetdPolicyText, RemovedKeysMarksAreKeptFromNewKeysWhileOthersAreFree) {
  std::string text =
      "#\n"
      "tcp 0.0.0.0:80 198.18.0.2:8080 mark 1\n"
      "tcp 0.0.0.0:81 198.18.0.2:8080 mark 4\n"
      "# removed tcp 0.0.0.0:82 mark 2\n"
      "# removed udp 0.0.0.0:82 mark 3\n";
  // With ids 1-5: 90 takes 5, then none is free and 91 takes the lowest kept.
  EXPECT_EQ(Body(NetdPolicyText(WithPorts({80, 81, 90, 91}), text, 5)),
            (Lines{"tcp 0.0.0.0:80 198.18.0.2:8080 mark 1", "tcp 0.0.0.0:81 198.18.0.2:8080 mark 4",
                   "tcp 0.0.0.0:90 198.18.0.2:8080 mark 5", "tcp 0.0.0.0:91 198.18.0.2:8080 mark 2",
                   "# removed udp 0.0.0.0:82 mark 3"}));
}

// A previous file netd would refuse (written before policies had marks, or
// damaged) does not stop the writer: marks start again from 1.
TEST(NetdPolicyText, APreviousFileWithoutMarksCountsAsNone) {
  EXPECT_EQ(
      Body(NetdPolicyText(WithPorts({81, 80}), "tcp 0.0.0.0:80 198.18.0.2:8080\n")),
      (Lines{"tcp 0.0.0.0:81 198.18.0.2:8080 mark 1", "tcp 0.0.0.0:80 198.18.0.2:8080 mark 2"}));
}

}  // namespace
}  // namespace config
