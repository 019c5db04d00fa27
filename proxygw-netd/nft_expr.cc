// Builders of nftables rule expressions; see nft_expr.h. Runs inside
// proxygw-netd only.
#include "proxygw-netd/nft_expr.h"

// <arpa/inet.h> and <netinet/in.h> must come before <linux/netfilter.h>.
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>

#include <cstdlib>
#include <initializer_list>
#include <optional>

namespace netd::nft {
namespace {

struct U32 {
  std::uint16_t attr;
  std::int64_t value;  // wide enough for every constant, even NFT_JUMP (-3)
};

// Appends a `name` expression with the u32 attributes `attrs` to `r`, and
// returns it (owned by the rule now) for attributes of other types.
nftnl_expr* Add(nftnl_rule* r, const char* name, std::initializer_list<U32> attrs) {
  common::NftnlExpr e(nftnl_expr_alloc(name));
  for (const auto& [attr, value] : attrs) {
    nftnl_expr_set_u32(e.get(), attr, static_cast<std::uint32_t>(value));
  }
  nftnl_expr* added = e.get();
  nftnl_rule_add_expr(r, e.release());  // the rule takes ownership
  return added;
}

}  // namespace

void Meta(nftnl_rule* r, std::uint32_t key, std::uint32_t dreg) {
  Add(r, "meta", {{NFTNL_EXPR_META_KEY, key}, {NFTNL_EXPR_META_DREG, dreg}});
}

void Cmp(nftnl_rule* r, std::uint32_t sreg, std::uint32_t op, const void* data, std::uint32_t len) {
  nftnl_expr* e = Add(r, "cmp", {{NFTNL_EXPR_CMP_SREG, sreg}, {NFTNL_EXPR_CMP_OP, op}});
  nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
}

void Payload(nftnl_rule* r, std::uint32_t base, std::uint32_t offset, std::uint32_t len,
             std::uint32_t dreg) {
  Add(r, "payload",
      {{NFTNL_EXPR_PAYLOAD_BASE, base},
       {NFTNL_EXPR_PAYLOAD_OFFSET, offset},
       {NFTNL_EXPR_PAYLOAD_LEN, len},
       {NFTNL_EXPR_PAYLOAD_DREG, dreg}});
}

void Bitwise(nftnl_rule* r, std::uint32_t reg, const void* mask, const void* x, std::uint32_t len) {
  nftnl_expr* e = Add(r, "bitwise",
                      {{NFTNL_EXPR_BITWISE_SREG, reg},
                       {NFTNL_EXPR_BITWISE_DREG, reg},
                       {NFTNL_EXPR_BITWISE_LEN, len}});
  nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
  nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, x, len);
}

void Lookup(nftnl_rule* r, std::uint32_t sreg, std::optional<std::uint32_t> dreg,
            const std::string& set, std::uint32_t set_id) {
  nftnl_expr* e =
      Add(r, "lookup", {{NFTNL_EXPR_LOOKUP_SREG, sreg}, {NFTNL_EXPR_LOOKUP_SET_ID, set_id}});
  if (dreg) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, *dreg);
  nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set.c_str());
}

void QueueTo(nftnl_rule* r, std::uint16_t num) {
  nftnl_expr* e = Add(r, "target", {{NFTNL_EXPR_TG_REV, 3}});
  nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
  // libnftnl frees the info with the expression: it must come from malloc.
  auto* info = static_cast<xt_NFQ_info_v3*>(calloc(1, sizeof(xt_NFQ_info_v3)));
  info->queuenum = num;
  info->queues_total = 1;
  nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, sizeof *info);
}

void CtLoad(nftnl_rule* r, std::uint32_t key, std::uint32_t dreg) {
  Add(r, "ct", {{NFTNL_EXPR_CT_KEY, key}, {NFTNL_EXPR_CT_DREG, dreg}});
}

void CtSetMark(nftnl_rule* r, std::uint32_t sreg) {
  Add(r, "ct", {{NFTNL_EXPR_CT_KEY, NFT_CT_MARK}, {NFTNL_EXPR_CT_SREG, sreg}});
}

void ObjrefMap(nftnl_rule* r, std::uint32_t sreg, const std::string& set, std::uint32_t set_id) {
  nftnl_expr* e =
      Add(r, "objref", {{NFTNL_EXPR_OBJREF_SET_SREG, sreg}, {NFTNL_EXPR_OBJREF_SET_ID, set_id}});
  nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_SET_NAME, set.c_str());
}

void FibDaddrIsLocal(nftnl_rule* r) {
  Add(r, "fib",
      {{NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR},
       {NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE},
       {NFTNL_EXPR_FIB_DREG, NFT_REG32_00}});
  std::uint32_t local = RTN_LOCAL;  // host order, as the fib expression stores it
  Cmp(r, NFT_REG32_00, NFT_CMP_EQ, &local, sizeof local);
}

void Nat(nftnl_rule* r, bool v4) {
  std::uint32_t port_reg = v4 ? NFT_REG32_01 : NFT_REG32_04;
  Add(r, "nat",
      {{NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT},
       {NFTNL_EXPR_NAT_FAMILY, v4 ? NFPROTO_IPV4 : NFPROTO_IPV6},
       {NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG32_00},
       {NFTNL_EXPR_NAT_REG_ADDR_MAX, NFT_REG32_00},
       {NFTNL_EXPR_NAT_REG_PROTO_MIN, port_reg},
       {NFTNL_EXPR_NAT_REG_PROTO_MAX, port_reg},
       {NFTNL_EXPR_NAT_FLAGS, NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED}});
}

void Accept(nftnl_rule* r) {
  Add(r, "immediate",
      {{NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT}, {NFTNL_EXPR_IMM_VERDICT, NF_ACCEPT}});
}

void Jump(nftnl_rule* r, const std::string& chain) {
  nftnl_expr* e = Add(r, "immediate",
                      {{NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT}, {NFTNL_EXPR_IMM_VERDICT, NFT_JUMP}});
  nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain.c_str());
}

}  // namespace netd::nft
