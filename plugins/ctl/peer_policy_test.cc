// Who may send ctl requests: the rule table (CheckPeer) and the kernel's
// answer for a real socket pair (PeerOf).
#include "plugins/ctl/peer_policy.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/unique_fd.h"

namespace ctl_plugin {
namespace {

constexpr uid_t kEngineUid = 990;
constexpr gid_t kEngineGid = 990;

Peer Of(uid_t uid, std::vector<gid_t> groups) { return Peer{1234, uid, std::move(groups)}; }

TEST(CtlPeerPolicy, RootAndTheEnginesUserAlwaysMay) {
  CtlConfig only_alice;
  only_alice.allow_users = {1000};
  for (const CtlConfig& c : {CtlConfig{}, only_alice}) {
    EXPECT_TRUE(CheckPeer(Of(0, {0}), c, kEngineUid, kEngineGid).ok());
    EXPECT_TRUE(CheckPeer(Of(kEngineUid, {5}), c, kEngineUid, kEngineGid).ok());
  }
}

TEST(CtlPeerPolicy, ByDefaultMembersOfTheEnginesGroupMay) {
  CtlConfig c;
  EXPECT_TRUE(CheckPeer(Of(1000, {1000, kEngineGid}), c, kEngineUid, kEngineGid).ok());
  EXPECT_TRUE(CheckPeer(Of(1000, {kEngineGid}), c, kEngineUid, kEngineGid).ok());
  common::Status st = CheckPeer(Of(1000, {1000, 27}), c, kEngineUid, kEngineGid);
  EXPECT_EQ(st.code(), common::Status::Code::kPermissionDenied);
  EXPECT_EQ(st.message(),
            "uid 1000 may not use the control socket: only root, the engine's user and members of "
            "its group may (see plugins.ctl.allow_users and allow_groups)");
}

TEST(CtlPeerPolicy, ListsReplaceTheEnginesGroup) {
  CtlConfig c;
  c.allow_users = {1001};
  c.allow_groups = {27};
  EXPECT_TRUE(CheckPeer(Of(1001, {1001}), c, kEngineUid, kEngineGid).ok());
  EXPECT_TRUE(CheckPeer(Of(1000, {1000, 27}), c, kEngineUid, kEngineGid).ok());
  common::Status st = CheckPeer(Of(1002, {1002, kEngineGid}), c, kEngineUid, kEngineGid);
  EXPECT_EQ(st.code(), common::Status::Code::kPermissionDenied);
  EXPECT_EQ(st.message(),
            "uid 1002 may not use the control socket: it is not root, the engine's user, in "
            "plugins.ctl.allow_users or in a group of plugins.ctl.allow_groups");
}

TEST(CtlPeerPolicy, PeerOfASocketPairIsThisProcess) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  common::UniqueFd a(fds[0]), b(fds[1]);
  auto peer = PeerOf(a.get());
  ASSERT_TRUE(peer.ok()) << peer.status().message();
  EXPECT_EQ(peer->pid, ::getpid());
  EXPECT_EQ(peer->uid, ::geteuid());
  ASSERT_FALSE(peer->groups.empty());
  EXPECT_EQ(peer->groups[0], ::getegid());
}

}  // namespace
}  // namespace ctl_plugin
