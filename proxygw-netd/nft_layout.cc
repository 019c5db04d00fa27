// The layout of netd's table: names, element bytes and batch builders; see
// nft_layout.h. Runs inside proxygw-netd only.
#include "proxygw-netd/nft_layout.h"

// <arpa/inet.h> and <netinet/in.h> must come before <linux/netfilter.h>.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/udata.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <functional>

#include "common/c_handles.h"
#include "proxygw-netd/nft_expr.h"

namespace netd::nft {

using common::AddrPort;
using common::Family;
using common::IpAddress;
using ipc::netd::Proto;

namespace {

// A SETELEM message carries at most this many elements: the elements nest has
// a 16-bit length.
constexpr std::size_t kElemsPerMessage = 500;

// nft's datatype numbers, for set key and data types (nft shows the map types
// with them; the kernel only checks lengths).
constexpr std::uint32_t kTypeIpv4 = 7, kTypeIpv6 = 8, kTypeProto = 12, kTypeService = 13,
                        kTypeMark = 19;
constexpr std::uint32_t Concat(std::uint32_t a, std::uint32_t b) { return (a << 6) | b; }

bool IsV4(Kind k) { return k == kSpecific4 || k == kWildcard4; }
bool IsWildcard(Kind k) { return k == kWildcard4 || k == kWildcard6; }
Family FamilyOf(Kind k) { return IsV4(k) ? Family::kIpv4 : Family::kIpv6; }
std::size_t AddrLen(Kind k) { return IsV4(k) ? 4 : 16; }

constexpr MapRole kRoles[] = {MapRole::kDnat, MapRole::kMark, MapRole::kTimeout};

// Set ids reference sets created in the same batch: 1..16.
std::uint32_t MapId(MapRole role, Kind k) {
  return 1 + static_cast<std::uint32_t>(role) * kKinds + static_cast<std::uint32_t>(k);
}

std::uint32_t KeyLen(Kind k) {
  if (IsWildcard(k)) return 8;
  return IsV4(k) ? 12 : 24;
}

// `port` in network order, padded to 32 bits, after `b`.
void PutPort(std::vector<std::uint8_t>& b, std::uint16_t port) {
  b.push_back(static_cast<std::uint8_t>(port >> 8));
  b.push_back(static_cast<std::uint8_t>(port));
  b.resize(b.size() + 2, 0);
}

// Element keys: every concatenated field padded to 32 bits, as nft does.
std::vector<std::uint8_t> KeyBytes(const MappingKey& key) {
  std::vector<std::uint8_t> b{static_cast<std::uint8_t>(key.proto), 0, 0, 0};
  if (!key.wildcard()) b.insert(b.end(), key.listen.data(), key.listen.data() + key.listen.size());
  PutPort(b, key.port);
  return b;
}

std::vector<std::uint8_t> DnatBytes(const AddrPort& d) {
  std::vector<std::uint8_t> b(d.address.data(), d.address.data() + d.address.size());
  PutPort(b, d.port);
  return b;
}

std::uint16_t PortAt(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

// The policy of a flow_timeout: every state expires no later than `t`, and
// established TCP (replied UDP) lasts exactly `t`. All 11 values are sent:
// libnftnl sends the whole array, and a 0 left in it would be a real
// zero-second timeout.
std::array<std::uint32_t, NFTNL_CTTIMEOUT_ARRAY_MAX> TimeoutPolicy(Proto proto, std::uint32_t t) {
  std::array<std::uint32_t, NFTNL_CTTIMEOUT_ARRAY_MAX> a{};
  if (proto == Proto::kTcp) {
    // Kernel defaults: syn_sent 120, syn_recv 60, established 432000,
    // fin_wait 120, close_wait 60, last_ack 30, time_wait 120, close 10,
    // syn_sent2 120, retrans 300, unack 300.
    static constexpr std::uint32_t kDefaults[] = {120, 60, 432000, 120, 60, 30,
                                                  120, 10, 120,    300, 300};
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = std::min(kDefaults[i], t);
    a[NFTNL_CTTIMEOUT_TCP_ESTABLISHED] = t;
  } else {
    a[NFTNL_CTTIMEOUT_UDP_UNREPLIED] = std::min<std::uint32_t>(30, t);
    a[NFTNL_CTTIMEOUT_UDP_REPLIED] = t;
  }
  return a;
}

// Loads the lookup key of kind `k` into NFT_REG32_00 onwards.
void LoadKey(nftnl_rule* r, Kind k) {
  Meta(r, NFT_META_L4PROTO, NFT_REG32_00);
  if (IsWildcard(k)) {
    Payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_01);
  } else {
    Payload(r, NFT_PAYLOAD_NETWORK_HEADER, IsV4(k) ? 16 : 24, AddrLen(k), NFT_REG32_01);
    Payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, IsV4(k) ? NFT_REG32_02 : NFT_REG32_05);
  }
}

// The match every rule of one kind starts with: the family, a local
// destination (in every hook and for every key: transit traffic and the host's
// own outbound connections are never captured, whatever the key), and for
// wildcard keys not loopback (a specific key matches loopback only when its
// own address is one). Ends with the lookup key in NFT_REG32_00 onwards.
void MatchAndLoadKey(nftnl_rule* r, Kind k) {
  std::uint8_t nfproto = IsV4(k) ? NFPROTO_IPV4 : NFPROTO_IPV6;
  Meta(r, NFT_META_NFPROTO, NFT_REG32_00);
  Cmp(r, NFT_REG32_00, NFT_CMP_EQ, &nfproto, 1);
  FibDaddrIsLocal(r);
  if (IsWildcard(k)) {
    // fib says 127.0.0.1 and ::1 are local, but a flow from a loopback source
    // cannot be forwarded: leave loopback destinations alone.
    if (IsV4(k)) {
      Payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG32_00);
      const std::uint8_t mask[4] = {0xff, 0, 0, 0}, zero[4] = {}, net[4] = {127, 0, 0, 0};
      Bitwise(r, NFT_REG32_00, mask, zero, 4);
      Cmp(r, NFT_REG32_00, NFT_CMP_NEQ, net, 4);
    } else {
      Payload(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16, NFT_REG32_00);
      const std::uint8_t loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
      Cmp(r, NFT_REG32_00, NFT_CMP_NEQ, loop, 16);
    }
  }
  LoadKey(r, k);
}

// A hold element's key: the mapping key, then the source address (a range
// from the prefix's first to its last address).
std::vector<std::uint8_t> HoldKeyBytes(const MappingKey& key, const ipc::netd::Prefix& p,
                                       bool last) {
  auto b = KeyBytes(key);
  for (std::size_t i = 0; i < p.address.size(); ++i) {
    int host_bits = std::clamp(static_cast<int>(i * 8 + 8) - p.length, 0, 8);
    std::uint8_t host = static_cast<std::uint8_t>((1u << host_bits) - 1);
    b.push_back(last ? (p.address.data()[i] | host) : (p.address.data()[i] & ~host));
  }
  return b;
}

enum class ChainRole { kHold, kMark, kDnat };
struct ChainDef {
  const char* name;
  const char* type;  // "filter" or "nat"
  std::uint32_t hook;
  std::int32_t priority;
  ChainRole role;
};
// Hold chains run after conntrack (-200) and before the nat hook: a held
// packet released with NF_ACCEPT goes on to the mark and DNAT chains, which
// then find its key enabled, so it is marked, timed and DNATed like any first
// packet. The mark chains are nat chains: the kernel runs nat chains only for
// a flow's first packet (established packets never enter them) and before
// the flow is confirmed, when its timeout policy can still be attached. They
// run before the DNAT chains because the nat hook stops at the first chain
// that sets up a binding.
constexpr ChainDef kChains[] = {
    {"hold_pre", "filter", NF_INET_PRE_ROUTING, -190, ChainRole::kHold},
    {"hold_out", "filter", NF_INET_LOCAL_OUT, -190, ChainRole::kHold},
    {"mark_pre", "nat", NF_INET_PRE_ROUTING, -110, ChainRole::kMark},
    {"mark_out", "nat", NF_INET_LOCAL_OUT, -110, ChainRole::kMark},
    {"dnat_pre", "nat", NF_INET_PRE_ROUTING, -100, ChainRole::kDnat},
    {"dnat_out", "nat", NF_INET_LOCAL_OUT, -100, ChainRole::kDnat},
};

// A ct timeout object `name` of `table`.
common::NftnlObj NewTimeoutObject(const std::string& table, const std::string& name) {
  common::NftnlObj o(nftnl_obj_alloc());
  nftnl_obj_set_str(o.get(), NFTNL_OBJ_TABLE, table.c_str());
  nftnl_obj_set_str(o.get(), NFTNL_OBJ_NAME, name.c_str());
  nftnl_obj_set_u32(o.get(), NFTNL_OBJ_TYPE, NFT_OBJECT_CT_TIMEOUT);
  return o;
}

// Userdata of a table or set (its comment, a byte order hint).
using UdataBuf = std::unique_ptr<nftnl_udata_buf, void (*)(const nftnl_udata_buf*)>;
UdataBuf NewUdata() { return UdataBuf(nftnl_udata_buf_alloc(256), nftnl_udata_buf_free); }

void AddMap(Batch& b, const std::string& table, MapRole role, Kind k) {
  std::string name = MapName(role, k);
  common::NftnlSet s = NewSet(table, name);
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, NFPROTO_INET);
  nftnl_set_set_u32(s.get(), NFTNL_SET_ID, MapId(role, k));
  std::uint32_t addr = IsV4(k) ? kTypeIpv4 : kTypeIpv6;
  std::uint32_t key_type = IsWildcard(k) ? Concat(kTypeProto, kTypeService)
                                         : Concat(Concat(kTypeProto, addr), kTypeService);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, key_type);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, KeyLen(k));
  UdataBuf ud = NewUdata();
  switch (role) {
    case MapRole::kDnat:
      nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, NFT_SET_MAP);
      nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE, Concat(addr, kTypeService));
      nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_LEN, IsV4(k) ? 8 : 20);
      break;
    case MapRole::kMark:
      nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, NFT_SET_MAP);
      nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE, kTypeMark);
      nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_LEN, 4);
      // Marks are host order; tell nft so that it prints them right.
      nftnl_udata_put_u32(ud.get(), NFTNL_UDATA_SET_DATABYTEORDER, 1);
      nftnl_set_set_data(s.get(), NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud.get()),
                         nftnl_udata_buf_len(ud.get()));
      break;
    case MapRole::kTimeout:
      nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, NFT_SET_OBJECT);
      nftnl_set_set_u32(s.get(), NFTNL_SET_OBJ_TYPE, NFT_OBJECT_CT_TIMEOUT);
      break;
    case MapRole::kHold: {
      // The keys of the cold holds, with the source ranges they allow: an
      // interval set (pipapo) of `l4proto . [daddr .] dport . saddr`.
      nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, NFT_SET_INTERVAL | NFT_SET_CONCAT);
      auto alen = static_cast<std::uint8_t>(AddrLen(k));
      nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, Concat(key_type, addr));
      nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, KeyLen(k) + alen);
      std::vector<std::uint8_t> fields = {1, 2, alen};  // bytes of each field, unpadded
      if (!IsWildcard(k)) fields.insert(fields.begin() + 1, alen);
      nftnl_set_set_data(s.get(), NFTNL_SET_DESC_CONCAT, fields.data(),
                         static_cast<std::uint32_t>(fields.size()));
      break;
    }
  }
  b.Put(NFT_MSG_NEWSET, NLM_F_CREATE,
        (role == MapRole::kHold ? "create set " : "create map ") + name,
        nftnl_set_nlmsg_build_payload, s.get());
}

common::NftnlRule NewRule(const std::string& table, const char* chain) {
  common::NftnlRule r(nftnl_rule_alloc());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain);
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, NFPROTO_INET);
  return r;
}

void AddRule(Batch& b, const std::string& chain, const common::NftnlRule& r) {
  b.Put(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, "add rule to chain " + chain,
        nftnl_rule_nlmsg_build_payload, r.get());
}

// A chain; a base chain (with a hook) when `c` has a type.
void NewChain(Batch& b, const std::string& table, const std::string& name, const ChainDef* c) {
  common::NftnlChain ch(nftnl_chain_alloc());
  nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_TABLE, table.c_str());
  nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_NAME, name.c_str());
  if (c != nullptr) {
    nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_TYPE, c->type);
    nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_HOOKNUM, c->hook);
    nftnl_chain_set_s32(ch.get(), NFTNL_CHAIN_PRIO, c->priority);
    nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
  }
  b.Put(NFT_MSG_NEWCHAIN, NLM_F_CREATE, "create chain " + name, nftnl_chain_nlmsg_build_payload,
        ch.get());
}

// The chain a marked flow of kind `k` jumps to: one rule per bit of the mask,
// each setting its bit when the mapping's mark has it. Only the key's load
// is repeated (the mark chain's rule has matched it already).
std::string MarkBitsChain(Kind k) {
  return std::string(IsWildcard(k) ? "w" : "") + "markbits" + (IsV4(k) ? "4" : "6");
}

void AddMarkBitsChain(Batch& b, const std::string& table, Kind k, std::uint32_t mark_mask) {
  std::string name = MarkBitsChain(k);
  NewChain(b, table, name, nullptr);
  for (int i = 0; i < 32; ++i) {
    std::uint32_t bit = 1u << i, not_bit = ~bit, zero = 0;  // host order, as the ct mark
    if (!(mark_mask & bit)) continue;
    common::NftnlRule r = NewRule(table, name.c_str());
    LoadKey(r.get(), k);
    Lookup(r.get(), NFT_REG32_00, NFT_REG32_08, MapName(MapRole::kMark, k),
           MapId(MapRole::kMark, k));
    Bitwise(r.get(), NFT_REG32_08, &bit, &zero, 4);
    Cmp(r.get(), NFT_REG32_08, NFT_CMP_NEQ, &zero, 4);
    CtLoad(r.get(), NFT_CT_MARK, NFT_REG32_09);
    Bitwise(r.get(), NFT_REG32_09, &not_bit, &bit, 4);  // | bit
    CtSetMark(r.get(), NFT_REG32_09);
    AddRule(b, name, r);
  }
}

void AddChain(Batch& b, const std::string& table, const ChainDef& c, std::uint32_t mark_mask) {
  NewChain(b, table, c.name, &c);
  if (c.role == ChainRole::kHold) {
    // Only a flow's first packet: established traffic leaves after one rule.
    common::NftnlRule r = NewRule(table, c.name);
    CtLoad(r.get(), NFT_CT_STATE, NFT_REG32_00);
    std::uint32_t bit_new = NF_CT_STATE_BIT(IP_CT_NEW), zero = 0;
    Bitwise(r.get(), NFT_REG32_00, &bit_new, &zero, 4);
    Cmp(r.get(), NFT_REG32_00, NFT_CMP_EQ, &zero, 4);
    Accept(r.get());
    AddRule(b, c.name, r);
  }
  for (Kind k : kAllKinds) {
    common::NftnlRule r = NewRule(table, c.name);
    MatchAndLoadKey(r.get(), k);
    if (c.role == ChainRole::kHold) {
      std::uint32_t saddr_reg = NFT_REG32_00 + KeyLen(k) / 4;
      Payload(r.get(), NFT_PAYLOAD_NETWORK_HEADER, IsV4(k) ? 12 : 8, AddrLen(k), saddr_reg);
      Lookup(r.get(), NFT_REG32_00, std::nullopt, MapName(MapRole::kHold, k), MapId(MapRole::kHold, k));
      QueueTo(r.get(), NftTable::kHoldQueue);
    } else if (c.role == ChainRole::kMark) {
      Lookup(r.get(), NFT_REG32_00, NFT_REG32_08, MapName(MapRole::kMark, k),
             MapId(MapRole::kMark, k));
      ObjrefMap(r.get(), NFT_REG32_00, MapName(MapRole::kTimeout, k), MapId(MapRole::kTimeout, k));
      // ct mark set ct mark & ~mask, then the mark's bits: others' bits stay.
      CtLoad(r.get(), NFT_CT_MARK, NFT_REG32_09);
      std::uint32_t keep = ~mark_mask, zero = 0;  // host order, as the ct mark
      Bitwise(r.get(), NFT_REG32_09, &keep, &zero, 4);
      CtSetMark(r.get(), NFT_REG32_09);
      Jump(r.get(), MarkBitsChain(k));
    } else {
      Lookup(r.get(), NFT_REG32_00, NFT_REG32_00, MapName(MapRole::kDnat, k),
             MapId(MapRole::kDnat, k));
      Nat(r.get(), IsV4(k));
    }
    AddRule(b, c.name, r);
  }
}

// Adds (or deletes) `n` elements of set `name`, filled in by `fill`, in
// messages of kElemsPerMessage. Deleting with n == 0 flushes the set.
void SetElements(Batch& b, const std::string& table, const std::string& name, bool add,
                 std::size_t n, const std::function<void(std::size_t, nftnl_set_elem*)>& fill) {
  std::size_t start = 0;
  do {
    std::size_t end = std::min(n, start + kElemsPerMessage);
    common::NftnlSet s = NewSet(table, name);
    for (std::size_t i = start; i < end; ++i) {
      nftnl_set_elem* e = nftnl_set_elem_alloc();
      fill(i, e);
      nftnl_set_elem_add(s.get(), e);  // the set takes ownership
    }
    std::string what =
        (add ? "add " : "delete ") + std::to_string(end - start) + " element(s) of " + name;
    b.Put(add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM, add ? (NLM_F_CREATE | NLM_F_EXCL) : 0,
          what, nftnl_set_elems_nlmsg_build_payload, s.get());
    start = end;
  } while (start < n);
}

void SetBytes(nftnl_set_elem* e, std::uint16_t attr, const std::vector<std::uint8_t>& v) {
  nftnl_set_elem_set(e, attr, v.data(), static_cast<std::uint32_t>(v.size()));
}

}  // namespace

common::NftnlTable NewTable(const std::string& table) {
  common::NftnlTable t(nftnl_table_alloc());
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.c_str());
  return t;
}

common::NftnlSet NewSet(const std::string& table, const std::string& name) {
  common::NftnlSet s(nftnl_set_alloc());
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, name.c_str());
  return s;
}

Kind KindOf(const MappingKey& k) {
  bool v4 = k.listen.is_v4();
  if (k.wildcard()) return v4 ? kWildcard4 : kWildcard6;
  return v4 ? kSpecific4 : kSpecific6;
}

std::string MapName(MapRole role, Kind k) {
  static const char* const kSuffix[] = {"4", "6", "4", "6"};
  static const char* const kBase[] = {"dnat", "mark", "tmo", "hold"};
  std::string base = kBase[static_cast<int>(role)];
  return (IsWildcard(k) ? "w" : "") + base + kSuffix[k];
}

std::string LayoutTag(std::uint32_t mark_mask) {
  // 2: hold sets and chains; 3: fib on every key; 4: only the mask's ct mark
  // bits written; 5: mark chains of type nat.
  char mask[16];
  std::snprintf(mask, sizeof mask, "0x%08x", mark_mask);
  return std::string("proxygw-netd layout 5, ct mark mask ") + mask;
}

std::string TimeoutName(const Mapping& m) {
  return std::string("timeout_") + ipc::netd::ProtoName(m.key.proto) +
         (m.key.listen.is_v4() ? "_ipv4_" : "_ipv6_") + std::to_string(m.flow_timeout_s) + "s";
}

void AddTable(Batch& b, const std::string& table, std::uint32_t flags, const std::string& comment) {
  common::NftnlTable t = NewTable(table);
  nftnl_table_set_u32(t.get(), NFTNL_TABLE_FLAGS, flags);
  UdataBuf ud = NewUdata();
  if (!comment.empty()) {
    nftnl_udata_put_strz(ud.get(), NFTNL_UDATA_TABLE_COMMENT, comment.c_str());
    nftnl_table_set_data(t.get(), NFTNL_TABLE_USERDATA, nftnl_udata_buf_data(ud.get()),
                         nftnl_udata_buf_len(ud.get()));
  }
  b.Put(NFT_MSG_NEWTABLE, NLM_F_CREATE, "create table inet " + table,
        nftnl_table_nlmsg_build_payload, t.get());
}

void DelTable(Batch& b, const std::string& table) {
  b.Put(NFT_MSG_DELTABLE, 0, "delete table inet " + table, nftnl_table_nlmsg_build_payload,
        NewTable(table).get());
}

void AddLayout(Batch& b, const std::string& table, std::uint32_t mark_mask) {
  for (MapRole role : {MapRole::kDnat, MapRole::kMark, MapRole::kTimeout, MapRole::kHold}) {
    for (Kind k : kAllKinds) AddMap(b, table, role, k);
  }
  for (Kind k : kAllKinds) AddMarkBitsChain(b, table, k, mark_mask);
  for (const ChainDef& c : kChains) AddChain(b, table, c, mark_mask);
}

void AddTimeoutObject(Batch& b, const std::string& table, const Mapping& m) {
  std::string name = TimeoutName(m);
  common::NftnlObj o = NewTimeoutObject(table, name);
  nftnl_obj_set_u16(o.get(), NFTNL_OBJ_CT_TIMEOUT_L3PROTO,
                    m.key.listen.is_v4() ? NFPROTO_IPV4 : NFPROTO_IPV6);
  nftnl_obj_set_u8(o.get(), NFTNL_OBJ_CT_TIMEOUT_L4PROTO, static_cast<std::uint8_t>(m.key.proto));
  auto policy = TimeoutPolicy(m.key.proto, m.flow_timeout_s);
  nftnl_obj_set_data(o.get(), NFTNL_OBJ_CT_TIMEOUT_ARRAY, policy.data(),
                     sizeof(std::uint32_t) * policy.size());
  b.Put(NFT_MSG_NEWOBJ, NLM_F_CREATE | NLM_F_EXCL, "create ct timeout " + name,
        nftnl_obj_nlmsg_build_payload, o.get());
}

void DelTimeoutObject(Batch& b, const std::string& table, const std::string& name) {
  b.Put(NFT_MSG_DELOBJ, 0, "delete ct timeout " + name, nftnl_obj_nlmsg_build_payload,
        NewTimeoutObject(table, name).get());
}

void Elements(Batch& b, const std::string& table, const std::vector<InstalledMapping>& items,
              bool add) {
  for (MapRole role : kRoles) {
    for (Kind k : kAllKinds) {
      std::vector<const InstalledMapping*> mine;
      for (const auto& im : items) {
        if (KindOf(im.mapping.key) == k) mine.push_back(&im);
      }
      if (mine.empty()) continue;
      SetElements(b, table, MapName(role, k), add, mine.size(),
                  [&](std::size_t i, nftnl_set_elem* e) {
                    const InstalledMapping& im = *mine[i];
                    SetBytes(e, NFTNL_SET_ELEM_KEY, KeyBytes(im.mapping.key));
                    if (!add) return;
                    if (role == MapRole::kDnat) {
                      SetBytes(e, NFTNL_SET_ELEM_DATA, DnatBytes(im.mapping.destination));
                    } else if (role == MapRole::kMark) {
                      std::uint32_t mark = im.mark;  // host order
                      nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, &mark, sizeof mark);
                    } else {
                      nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_OBJREF,
                                             TimeoutName(im.mapping).c_str());
                    }
                  });
    }
  }
}

void HoldElements(Batch& b, const std::string& table, const std::vector<Hold>& items, bool add,
                  bool flush) {
  for (Kind k : kAllKinds) {
    std::string name = MapName(MapRole::kHold, k);
    if (flush) SetElements(b, table, name, false, 0, nullptr);
    std::vector<std::pair<const MappingKey*, ipc::netd::Prefix>> mine;
    for (const Hold& h : items) {
      if (KindOf(h.key) != k) continue;
      for (const auto& p : h.allow) mine.emplace_back(&h.key, p);
      if (h.allow.empty()) {  // any source
        mine.emplace_back(&h.key, ipc::netd::Prefix{IpAddress::Unspecified(h.key.listen.family())});
      }
    }
    if (mine.empty()) continue;
    SetElements(b, table, name, add, mine.size(), [&](std::size_t i, nftnl_set_elem* e) {
      SetBytes(e, NFTNL_SET_ELEM_KEY, HoldKeyBytes(*mine[i].first, mine[i].second, false));
      SetBytes(e, NFTNL_SET_ELEM_KEY_END, HoldKeyBytes(*mine[i].first, mine[i].second, true));
    });
  }
}

std::optional<InstalledMapping> ParseElements(Kind k, const std::vector<std::uint8_t>& key,
                                              const std::vector<std::uint8_t>& dnat,
                                              const std::vector<std::uint8_t>& mark,
                                              const std::string& obj, std::uint32_t mark_mask) {
  std::size_t alen = AddrLen(k);
  auto proto = key.size() == KeyLen(k) ? ipc::netd::ProtoFromWire(key[0]) : std::nullopt;
  if (!proto || dnat.size() != alen + 4 || mark.size() != 4) return std::nullopt;
  InstalledMapping im;
  im.mapping.key.proto = *proto;
  im.mapping.key.listen = IsWildcard(k) ? IpAddress::Unspecified(FamilyOf(k))
                                        : IpAddress::FromBytes(FamilyOf(k), &key[4]);
  im.mapping.key.port = PortAt(&key[IsWildcard(k) ? 4 : 4 + alen]);
  im.mapping.destination = {IpAddress::FromBytes(FamilyOf(k), dnat.data()), PortAt(&dnat[alen])};
  std::memcpy(&im.mark, mark.data(), 4);
  if ((im.mark & mark_mask) != im.mark || im.mark == 0) return std::nullopt;
  // The object's name carries the timeout: "timeout_tcp_ipv4_60s".
  auto us = obj.rfind('_');
  if (us == std::string::npos || obj.back() != 's') return std::nullopt;
  im.mapping.flow_timeout_s =
      static_cast<std::uint32_t>(std::strtoul(obj.substr(us + 1).c_str(), nullptr, 10));
  if (TimeoutName(im.mapping) != obj) return std::nullopt;
  return im;
}

}  // namespace netd::nft
