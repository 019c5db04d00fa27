// Builders of nftables rule expressions; see nft_expr.h. Runs inside
// proxygw-netd only.
#include "proxygw-netd/nft_expr.h"

// <arpa/inet.h> and <netinet/in.h> must come before <linux/netfilter.h>.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <linux/rtnetlink.h>

#include <cstdlib>
#include <optional>

namespace netd::nft {

common::NftnlExpr Expr(const char* name) { return common::NftnlExpr(nftnl_expr_alloc(name)); }

void Add(nftnl_rule* r, common::NftnlExpr e) {
  nftnl_rule_add_expr(r, e.release());  // the rule takes ownership
}

void Meta(nftnl_rule* r, std::uint32_t key, std::uint32_t dreg) {
  auto e = Expr("meta");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_KEY, key);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_DREG, dreg);
  Add(r, std::move(e));
}

void Cmp(nftnl_rule* r, std::uint32_t sreg, std::uint32_t op, const void* data, std::uint32_t len) {
  auto e = Expr("cmp");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CMP_SREG, sreg);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CMP_OP, op);
  nftnl_expr_set(e.get(), NFTNL_EXPR_CMP_DATA, data, len);
  Add(r, std::move(e));
}

void Payload(nftnl_rule* r, std::uint32_t base, std::uint32_t offset, std::uint32_t len,
             std::uint32_t dreg) {
  auto e = Expr("payload");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_BASE, base);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_OFFSET, offset);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_LEN, len);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_DREG, dreg);
  Add(r, std::move(e));
}

void Bitwise(nftnl_rule* r, std::uint32_t reg, const void* mask, const void* x, std::uint32_t len) {
  auto e = Expr("bitwise");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_SREG, reg);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_DREG, reg);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_LEN, len);
  nftnl_expr_set(e.get(), NFTNL_EXPR_BITWISE_MASK, mask, len);
  nftnl_expr_set(e.get(), NFTNL_EXPR_BITWISE_XOR, x, len);
  Add(r, std::move(e));
}

void Lookup(nftnl_rule* r, std::uint32_t sreg, std::optional<std::uint32_t> dreg,
            const std::string& set, std::uint32_t set_id) {
  auto e = Expr("lookup");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_SREG, sreg);
  if (dreg) nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_DREG, *dreg);
  nftnl_expr_set_str(e.get(), NFTNL_EXPR_LOOKUP_SET, set.c_str());
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_SET_ID, set_id);
  Add(r, std::move(e));
}

void QueueTo(nftnl_rule* r, std::uint16_t num) {
  auto e = Expr("target");
  nftnl_expr_set_str(e.get(), NFTNL_EXPR_TG_NAME, "NFQUEUE");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_TG_REV, 3);
  // libnftnl frees the info with the expression: it must come from malloc.
  auto* info = static_cast<xt_NFQ_info_v3*>(calloc(1, sizeof(xt_NFQ_info_v3)));
  info->queuenum = num;
  info->queues_total = 1;
  nftnl_expr_set(e.get(), NFTNL_EXPR_TG_INFO, info, sizeof *info);
  Add(r, std::move(e));
}

void CtLoad(nftnl_rule* r, std::uint32_t key, std::uint32_t dreg) {
  auto e = Expr("ct");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CT_KEY, key);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CT_DREG, dreg);
  Add(r, std::move(e));
}

void CtSetMark(nftnl_rule* r, std::uint32_t sreg) {
  auto e = Expr("ct");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CT_KEY, NFT_CT_MARK);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CT_SREG, sreg);
  Add(r, std::move(e));
}

void ObjrefMap(nftnl_rule* r, std::uint32_t sreg, const std::string& set, std::uint32_t set_id) {
  auto e = Expr("objref");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_OBJREF_SET_SREG, sreg);
  nftnl_expr_set_str(e.get(), NFTNL_EXPR_OBJREF_SET_NAME, set.c_str());
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_OBJREF_SET_ID, set_id);
  Add(r, std::move(e));
}

void FibDaddrIsLocal(nftnl_rule* r) {
  auto e = Expr("fib");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_FIB_DREG, NFT_REG32_00);
  Add(r, std::move(e));
  std::uint32_t local = RTN_LOCAL;  // host order, as the fib expression stores it
  Cmp(r, NFT_REG32_00, NFT_CMP_EQ, &local, sizeof local);
}

void Nat(nftnl_rule* r, bool v4) {
  auto e = Expr("nat");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NAT_FAMILY, v4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG32_00);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NAT_REG_ADDR_MAX, NFT_REG32_00);
  std::uint32_t port_reg = v4 ? NFT_REG32_01 : NFT_REG32_04;
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NAT_REG_PROTO_MIN, port_reg);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NAT_REG_PROTO_MAX, port_reg);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NAT_FLAGS,
                     NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED);
  Add(r, std::move(e));
}

void Accept(nftnl_rule* r) {
  auto e = Expr("immediate");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_VERDICT, NF_ACCEPT);
  Add(r, std::move(e));
}

void Jump(nftnl_rule* r, const std::string& chain) {
  auto e = Expr("immediate");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_VERDICT, NFT_JUMP);
  nftnl_expr_set_str(e.get(), NFTNL_EXPR_IMM_CHAIN, chain.c_str());
  Add(r, std::move(e));
}

}  // namespace netd::nft
