// Builders of nftables rule expressions (libnftnl): each appends one
// expression, or a short fixed sequence, to a rule. The rule takes ownership
// of what is appended. Runs inside proxygw-netd only; nft_table.cc composes
// netd's rules from these.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/c_handles.h"

namespace netd::nft {

void Meta(nftnl_rule* r, std::uint32_t key, std::uint32_t dreg);
void Cmp(nftnl_rule* r, std::uint32_t sreg, std::uint32_t op, const void* data, std::uint32_t len);
void Payload(nftnl_rule* r, std::uint32_t base, std::uint32_t offset, std::uint32_t len,
             std::uint32_t dreg);
// reg = (reg & mask) ^ x, `len` bytes.
void Bitwise(nftnl_rule* r, std::uint32_t reg, const void* mask, const void* x, std::uint32_t len);
// A lookup of the key in `sreg` in `set` (`set_id` for a set created in the
// same batch): with `dreg`, a map lookup writing the value there; without, a
// membership test (the rule goes on only if the key is in the set).
void Lookup(nftnl_rule* r, std::uint32_t sreg, std::optional<std::uint32_t> dreg,
            const std::string& set, std::uint32_t set_id);
// `queue num <num>` without bypass or fail-open, as the x_tables NFQUEUE
// target (revision 3) through nft_compat: this kernel has nft_compat but not
// nft_queue (docs/kernel-hold.md). With no listener the packet is dropped.
void QueueTo(nftnl_rule* r, std::uint16_t num);
void CtLoad(nftnl_rule* r, std::uint32_t key, std::uint32_t dreg);
void CtSetMark(nftnl_rule* r, std::uint32_t sreg);
// `ct timeout set <key in sreg> map @set`.
void ObjrefMap(nftnl_rule* r, std::uint32_t sreg, const std::string& set, std::uint32_t set_id);
// `fib daddr type local` (uses NFT_REG32_00).
void FibDaddrIsLocal(nftnl_rule* r);
// DNAT to the address in NFT_REG32_00 and the port after it (v4: REG32_01,
// v6: REG32_04).
void Nat(nftnl_rule* r, bool v4);
void Accept(nftnl_rule* r);
void Jump(nftnl_rule* r, const std::string& chain);

}  // namespace netd::nft
