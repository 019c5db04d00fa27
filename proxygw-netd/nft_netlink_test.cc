// Netlink::Transact against the real kernel, in the test's own network
// namespace (tests/support/netns_test_main.cc).
#include "proxygw-netd/nft_netlink.h"

#include <linux/netfilter/nf_tables.h>

#include <gtest/gtest.h>

#include <cerrno>

namespace netd::nft {
namespace {

// Issue 13: an error ack echoes the failing message, and a set-element
// message of a few hundred elements made that ack larger than the buffer the
// acks were read into. The truncated ack was skipped, and a batch the kernel
// had aborted was reported as done.
TEST(NftNetlink, ALargeFailingMessageIsReportedAsAFailure) {
  auto nl = Netlink::Open();
  ASSERT_TRUE(nl.ok()) << nl.status().message();
  Batch b(nl->seq());
  common::NftnlSet s(nftnl_set_alloc());
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, "t_no_such_table");
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, "no_such_set");
  for (std::uint32_t i = 0; i < 1500; ++i) {
    nftnl_set_elem* e = nftnl_set_elem_alloc();
    std::uint8_t key[16] = {0x20, 0x01, 0x0d, 0xb8};
    key[12] = static_cast<std::uint8_t>(i >> 8);
    key[13] = static_cast<std::uint8_t>(i);
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, sizeof key);
    nftnl_set_elem_add(s.get(), e);  // the set takes ownership
  }
  nlmsghdr* h = b.Begin(NFT_MSG_NEWSETELEM, NLM_F_CREATE, "add 1500 elements");
  nftnl_set_elems_nlmsg_build_payload(h, s.get());
  b.End();
  ASSERT_GT(h->nlmsg_len, 32u * 1024);  // larger than the old ack buffer
  common::Status st = nl->Transact(b);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(nl->last_errno(), ENOENT) << st.message();
}

}  // namespace
}  // namespace netd::nft
