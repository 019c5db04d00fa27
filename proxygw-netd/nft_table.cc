#include "proxygw-netd/nft_table.h"

// <arpa/inet.h> and <netinet/in.h> must come before <linux/netfilter.h>.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <libnftnl/udata.h>

#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <functional>
#include <set>
#include <string>

#include "common/c_handles.h"
#include "proxygw-netd/nft_expr.h"
#include "proxygw-netd/nft_netlink.h"
#include "proxygw-netd/validate.h"

namespace netd {
namespace {

using common::AddrPort;
using common::Family;
using common::IpAddress;
using common::Result;
using common::Status;
using ipc::netd::Proto;
using namespace nft;  // expression builders, Batch, Netlink

// Kernel 6.9's NFT_TABLE_F_PERSIST; Debian 12's 6.1 headers lack it.
constexpr std::uint32_t kTableFlagPersist = 0x4;
constexpr std::uint32_t kTableFlagOwner = NFT_TABLE_F_OWNER;
// Written as the table's comment; a table without it is not of this layout
// and is rebuilt.
constexpr char kLayoutTag[] = "proxygw-netd layout 3";  // 2: hold sets and chains; 3: fib on every key
// A SETELEM message carries at most this many elements: the elements nest has
// a 16-bit length.
constexpr std::size_t kElemsPerMessage = 500;

// nft's datatype numbers, for set key and data types (nft shows the map types
// with them; the kernel only checks lengths).
constexpr std::uint32_t kTypeIpv4 = 7, kTypeIpv6 = 8, kTypeProto = 12, kTypeService = 13,
                        kTypeMark = 19;
constexpr std::uint32_t Concat(std::uint32_t a, std::uint32_t b) { return (a << 6) | b; }

// The four kinds of mapping, each with its own maps and rules.
enum Kind { kSpecific4 = 0, kSpecific6 = 1, kWildcard4 = 2, kWildcard6 = 3 };
constexpr int kKinds = 4;

Kind KindOf(const MappingKey& k) {
  bool v4 = k.listen.is_v4();
  if (k.wildcard()) return v4 ? kWildcard4 : kWildcard6;
  return v4 ? kSpecific4 : kSpecific6;
}
bool IsV4(Kind k) { return k == kSpecific4 || k == kWildcard4; }
bool IsWildcard(Kind k) { return k == kWildcard4 || k == kWildcard6; }

// The maps of a mapping, and the hold sets (see AddHoldSet).
enum class MapRole { kDnat, kMark, kTimeout, kHold };
constexpr MapRole kRoles[] = {MapRole::kDnat, MapRole::kMark, MapRole::kTimeout};

std::string MapName(MapRole role, Kind k) {
  static const char* const kSuffix[] = {"4", "6", "4", "6"};
  static const char* const kBase[] = {"dnat", "mark", "tmo", "hold"};
  std::string base = kBase[static_cast<int>(role)];
  return (IsWildcard(k) ? "w" : "") + base + kSuffix[k];
}
// Set ids reference sets created in the same batch: 1..16.
std::uint32_t MapId(MapRole role, Kind k) {
  return 1 + static_cast<std::uint32_t>(role) * kKinds + static_cast<std::uint32_t>(k);
}

std::uint32_t KeyLen(Kind k) {
  if (IsWildcard(k)) return 8;
  return IsV4(k) ? 12 : 24;
}

// Element keys: every concatenated field padded to 32 bits, as nft does.
std::vector<std::uint8_t> KeyBytes(const MappingKey& key) {
  std::vector<std::uint8_t> b;
  b.push_back(static_cast<std::uint8_t>(key.proto));
  b.resize(4, 0);
  if (!key.wildcard()) b.insert(b.end(), key.listen.data(), key.listen.data() + key.listen.size());
  std::uint16_t port = htons(key.port);
  const auto* p = reinterpret_cast<const std::uint8_t*>(&port);
  b.insert(b.end(), p, p + 2);
  b.resize(b.size() + 2, 0);
  return b;
}

std::vector<std::uint8_t> DnatBytes(const AddrPort& d) {
  std::vector<std::uint8_t> b(d.address.data(), d.address.data() + d.address.size());
  std::uint16_t port = htons(d.port);
  const auto* p = reinterpret_cast<const std::uint8_t*>(&port);
  b.insert(b.end(), p, p + 2);
  b.resize(b.size() + 2, 0);
  return b;
}

// "timeout_tcp_ipv4_60s": one object per (protocol, family, seconds).
std::string TimeoutName(const Mapping& m) {
  return std::string("timeout_") + ipc::netd::ProtoName(m.key.proto) +
         (m.key.listen.is_v4() ? "_ipv4_" : "_ipv6_") + std::to_string(m.flow_timeout_s) + "s";
}

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
  Meta(r, NFT_META_L4PROTO, NFT_REG32_00);
  if (IsWildcard(k)) {
    Payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_01);
  } else if (IsV4(k)) {
    Payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG32_01);
    Payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_02);
  } else {
    Payload(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16, NFT_REG32_01);
    Payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_05);
  }
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
// Hold chains run after conntrack (-200) and before the mark chains (-180):
// a held packet released with NF_ACCEPT goes on to the mark and DNAT chains,
// which then find its key enabled, so it is marked, timed and DNATed like
// any first packet.
constexpr ChainDef kChains[] = {
    {"hold_pre", "filter", NF_INET_PRE_ROUTING, -190, ChainRole::kHold},
    {"hold_out", "filter", NF_INET_LOCAL_OUT, -190, ChainRole::kHold},
    {"mark_pre", "filter", NF_INET_PRE_ROUTING, -180, ChainRole::kMark},
    {"mark_out", "filter", NF_INET_LOCAL_OUT, -180, ChainRole::kMark},
    {"dnat_pre", "nat", NF_INET_PRE_ROUTING, -100, ChainRole::kDnat},
    {"dnat_out", "nat", NF_INET_LOCAL_OUT, -100, ChainRole::kDnat},
};

}  // namespace

// --- The table -------------------------------------------------------------------------

struct NftTable::Impl {
  Options opt;
  std::string table;
  Netlink nl;
  bool persistent = false;
  const char* how = "created";
  std::map<MappingKey, InstalledMapping> installed;
  std::map<MappingKey, Hold> holds;
  std::set<std::string> objects;   // ct timeout objects in the table
  std::map<std::string, std::uint32_t> refs;  // installed mappings per timeout object
  std::set<std::uint32_t> used_ids;
  std::uint32_t next_id = 1;

  explicit Impl(Netlink n) : nl(std::move(n)) {}

  // --- batch pieces ---
  void AddTable(Batch& b, std::uint32_t flags, bool with_comment) {
    common::NftnlTable t(nftnl_table_alloc());
    nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.c_str());
    nftnl_table_set_u32(t.get(), NFTNL_TABLE_FLAGS, flags);
    std::unique_ptr<nftnl_udata_buf, void (*)(const nftnl_udata_buf*)> ud(
        nftnl_udata_buf_alloc(256), nftnl_udata_buf_free);
    if (with_comment) {
      nftnl_udata_put_strz(ud.get(), NFTNL_UDATA_TABLE_COMMENT, kLayoutTag);
      nftnl_table_set_data(t.get(), NFTNL_TABLE_USERDATA, nftnl_udata_buf_data(ud.get()),
                           nftnl_udata_buf_len(ud.get()));
    }
    nlmsghdr* h = b.Begin(NFT_MSG_NEWTABLE, NLM_F_CREATE, "create table inet " + table);
    nftnl_table_nlmsg_build_payload(h, t.get());
    b.End();
  }

  void DelTable(Batch& b) {
    common::NftnlTable t(nftnl_table_alloc());
    nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.c_str());
    nlmsghdr* h = b.Begin(NFT_MSG_DELTABLE, 0, "delete table inet " + table);
    nftnl_table_nlmsg_build_payload(h, t.get());
    b.End();
  }

  void AddLayout(Batch& b) {
    for (MapRole role : kRoles) {
      for (int ki = 0; ki < kKinds; ++ki) AddMap(b, role, static_cast<Kind>(ki));
    }
    for (int ki = 0; ki < kKinds; ++ki) AddMap(b, MapRole::kHold, static_cast<Kind>(ki));
    for (const ChainDef& c : kChains) AddChain(b, c);
  }

  void AddMap(Batch& b, MapRole role, Kind k) {
    common::NftnlSet s(nftnl_set_alloc());
    std::string name = MapName(role, k);
    nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
    nftnl_set_set_str(s.get(), NFTNL_SET_NAME, name.c_str());
    nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, NFPROTO_INET);
    nftnl_set_set_u32(s.get(), NFTNL_SET_ID, MapId(role, k));
    std::uint32_t addr = IsV4(k) ? kTypeIpv4 : kTypeIpv6;
    std::uint32_t key_type = IsWildcard(k) ? Concat(kTypeProto, kTypeService)
                                           : Concat(Concat(kTypeProto, addr), kTypeService);
    nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, key_type);
    nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, KeyLen(k));
    std::unique_ptr<nftnl_udata_buf, void (*)(const nftnl_udata_buf*)> ud(
        nftnl_udata_buf_alloc(64), nftnl_udata_buf_free);
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
        std::uint8_t alen = IsV4(k) ? 4 : 16;
        nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, Concat(key_type, addr));
        nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, KeyLen(k) + alen);
        std::vector<std::uint8_t> fields = {1, 2, alen};  // bytes of each field, unpadded
        if (!IsWildcard(k)) fields.insert(fields.begin() + 1, alen);
        nftnl_set_set_data(s.get(), NFTNL_SET_DESC_CONCAT, fields.data(),
                           static_cast<std::uint32_t>(fields.size()));
        break;
      }
    }
    nlmsghdr* h = b.Begin(NFT_MSG_NEWSET, NLM_F_CREATE,
                          (role == MapRole::kHold ? "create set " : "create map ") + name);
    nftnl_set_nlmsg_build_payload(h, s.get());
    b.End();
  }

  void AddChain(Batch& b, const ChainDef& c) {
    common::NftnlChain ch(nftnl_chain_alloc());
    nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_TABLE, table.c_str());
    nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_NAME, c.name);
    nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_TYPE, c.type);
    nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_HOOKNUM, c.hook);
    nftnl_chain_set_s32(ch.get(), NFTNL_CHAIN_PRIO, c.priority);
    nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
    nlmsghdr* h = b.Begin(NFT_MSG_NEWCHAIN, NLM_F_CREATE, std::string("create chain ") + c.name);
    nftnl_chain_nlmsg_build_payload(h, ch.get());
    b.End();
    if (c.role != ChainRole::kDnat) {
      // Only a flow's first packet: established traffic leaves after one rule.
      common::NftnlRule r = NewRule(c.name);
      CtLoad(r.get(), NFT_CT_STATE, NFT_REG32_00);
      std::uint32_t bit_new = NF_CT_STATE_BIT(IP_CT_NEW), zero = 0;
      Bitwise(r.get(), NFT_REG32_00, &bit_new, &zero, 4);
      Cmp(r.get(), NFT_REG32_00, NFT_CMP_EQ, &zero, 4);
      Accept(r.get());
      AddRule(b, c.name, std::move(r));
    }
    for (int ki = 0; ki < kKinds; ++ki) {
      Kind k = static_cast<Kind>(ki);
      common::NftnlRule r = NewRule(c.name);
      MatchAndLoadKey(r.get(), k);
      if (c.role == ChainRole::kHold) {
        std::uint32_t saddr_reg = NFT_REG32_00 + KeyLen(k) / 4;
        Payload(r.get(), NFT_PAYLOAD_NETWORK_HEADER, IsV4(k) ? 12 : 8, IsV4(k) ? 4 : 16, saddr_reg);
        InSet(r.get(), NFT_REG32_00, MapName(MapRole::kHold, k), MapId(MapRole::kHold, k));
        QueueTo(r.get(), kHoldQueue);
      } else if (c.role == ChainRole::kMark) {
        Lookup(r.get(), NFT_REG32_00, NFT_REG32_08, MapName(MapRole::kMark, k),
               MapId(MapRole::kMark, k));
        CtSetMark(r.get(), NFT_REG32_08);
        ObjrefMap(r.get(), NFT_REG32_00, MapName(MapRole::kTimeout, k),
                  MapId(MapRole::kTimeout, k));
      } else {
        Lookup(r.get(), NFT_REG32_00, NFT_REG32_00, MapName(MapRole::kDnat, k),
               MapId(MapRole::kDnat, k));
        Nat(r.get(), IsV4(k));
      }
      AddRule(b, c.name, std::move(r));
    }
  }

  common::NftnlRule NewRule(const char* chain) {
    common::NftnlRule r(nftnl_rule_alloc());
    nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.c_str());
    nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain);
    nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, NFPROTO_INET);
    return r;
  }

  void AddRule(Batch& b, const char* chain, common::NftnlRule r) {
    nlmsghdr* h = b.Begin(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND,
                          std::string("add rule to chain ") + chain);
    nftnl_rule_nlmsg_build_payload(h, r.get());
    b.End();
  }

  void AddTimeoutObject(Batch& b, const Mapping& m) {
    common::NftnlObj o(nftnl_obj_alloc());
    std::string name = TimeoutName(m);
    nftnl_obj_set_str(o.get(), NFTNL_OBJ_TABLE, table.c_str());
    nftnl_obj_set_str(o.get(), NFTNL_OBJ_NAME, name.c_str());
    nftnl_obj_set_u32(o.get(), NFTNL_OBJ_TYPE, NFT_OBJECT_CT_TIMEOUT);
    nftnl_obj_set_u16(o.get(), NFTNL_OBJ_CT_TIMEOUT_L3PROTO,
                      m.key.listen.is_v4() ? NFPROTO_IPV4 : NFPROTO_IPV6);
    nftnl_obj_set_u8(o.get(), NFTNL_OBJ_CT_TIMEOUT_L4PROTO, static_cast<std::uint8_t>(m.key.proto));
    auto policy = TimeoutPolicy(m.key.proto, m.flow_timeout_s);
    nftnl_obj_set_data(o.get(), NFTNL_OBJ_CT_TIMEOUT_ARRAY, policy.data(),
                       sizeof(std::uint32_t) * policy.size());
    nlmsghdr* h = b.Begin(NFT_MSG_NEWOBJ, NLM_F_CREATE | NLM_F_EXCL, "create ct timeout " + name);
    nftnl_obj_nlmsg_build_payload(h, o.get());
    b.End();
  }

  void DelTimeoutObject(Batch& b, const std::string& name) {
    common::NftnlObj o(nftnl_obj_alloc());
    nftnl_obj_set_str(o.get(), NFTNL_OBJ_TABLE, table.c_str());
    nftnl_obj_set_str(o.get(), NFTNL_OBJ_NAME, name.c_str());
    nftnl_obj_set_u32(o.get(), NFTNL_OBJ_TYPE, NFT_OBJECT_CT_TIMEOUT);
    nlmsghdr* h = b.Begin(NFT_MSG_DELOBJ, 0, "delete ct timeout " + name);
    nftnl_obj_nlmsg_build_payload(h, o.get());
    b.End();
  }

  // Adds (or deletes) `n` elements of set `name`, filled in by `fill`, in
  // messages of kElemsPerMessage. Deleting with n == 0 flushes the set.
  void SetElements(Batch& b, const std::string& name, bool add, std::size_t n,
                   const std::function<void(std::size_t, nftnl_set_elem*)>& fill) {
    std::size_t start = 0;
    do {
      std::size_t end = std::min(n, start + kElemsPerMessage);
      common::NftnlSet s(nftnl_set_alloc());
      nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
      nftnl_set_set_str(s.get(), NFTNL_SET_NAME, name.c_str());
      for (std::size_t i = start; i < end; ++i) {
        nftnl_set_elem* e = nftnl_set_elem_alloc();
        fill(i, e);
        nftnl_set_elem_add(s.get(), e);  // the set takes ownership
      }
      std::string what =
          (add ? "add " : "delete ") + std::to_string(end - start) + " element(s) of " + name;
      nlmsghdr* h = b.Begin(add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
                            add ? (NLM_F_CREATE | NLM_F_EXCL) : 0, what);
      nftnl_set_elems_nlmsg_build_payload(h, s.get());
      b.End();
      start = end;
    } while (start < n);
  }

  static void SetKey(nftnl_set_elem* e, std::uint16_t attr, const std::vector<std::uint8_t>& k) {
    nftnl_set_elem_set(e, attr, k.data(), static_cast<std::uint32_t>(k.size()));
  }

  // Adds (or deletes) the three elements of each mapping, grouped per map.
  void Elements(Batch& b, const std::vector<InstalledMapping>& items, bool add) {
    for (MapRole role : kRoles) {
      for (int ki = 0; ki < kKinds; ++ki) {
        std::vector<const InstalledMapping*> mine;
        for (const auto& im : items) {
          if (KindOf(im.mapping.key) == static_cast<Kind>(ki)) mine.push_back(&im);
        }
        if (mine.empty()) continue;
        SetElements(b, MapName(role, static_cast<Kind>(ki)), add, mine.size(),
                    [&](std::size_t i, nftnl_set_elem* e) {
                      const InstalledMapping& im = *mine[i];
                      SetKey(e, NFTNL_SET_ELEM_KEY, KeyBytes(im.mapping.key));
                      if (!add) return;
                      if (role == MapRole::kDnat) {
                        SetKey(e, NFTNL_SET_ELEM_DATA, DnatBytes(im.mapping.destination));
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

  // Adds (or deletes) the elements of each hold: one per allowed prefix, or
  // one for any source. With `flush`, first empties every hold set.
  void HoldElements(Batch& b, const std::vector<Hold>& items, bool add, bool flush = false) {
    for (int ki = 0; ki < kKinds; ++ki) {
      std::string name = MapName(MapRole::kHold, static_cast<Kind>(ki));
      if (flush) SetElements(b, name, false, 0, nullptr);
      std::vector<std::pair<const MappingKey*, ipc::netd::Prefix>> mine;
      for (const Hold& h : items) {
        if (KindOf(h.key) != static_cast<Kind>(ki)) continue;
        for (const auto& p : h.allow) mine.emplace_back(&h.key, p);
        if (h.allow.empty()) {  // any source
          mine.emplace_back(&h.key,
                            ipc::netd::Prefix{IpAddress::Unspecified(h.key.listen.family())});
        }
      }
      if (mine.empty()) continue;
      SetElements(b, name, add, mine.size(), [&](std::size_t i, nftnl_set_elem* e) {
        SetKey(e, NFTNL_SET_ELEM_KEY, HoldKeyBytes(*mine[i].first, mine[i].second, false));
        SetKey(e, NFTNL_SET_ELEM_KEY_END, HoldKeyBytes(*mine[i].first, mine[i].second, true));
      });
    }
  }

  // --- reading back ---
  struct TableInfo {
    bool exists = false;
    std::uint32_t flags = 0;
    bool layout_ok = false;
  };

  Result<TableInfo> GetTable() {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    common::NftnlTable t(nftnl_table_alloc());
    nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.c_str());
    nlmsghdr* h = nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, (*nl.seq())++);
    nftnl_table_nlmsg_build_payload(h, t.get());
    TableInfo info;
    Status st = nl.Query(h, [&](const nlmsghdr* m) {
      common::NftnlTable got(nftnl_table_alloc());
      if (nftnl_table_nlmsg_parse(m, got.get()) < 0) return;
      info.exists = true;
      info.flags = nftnl_table_get_u32(got.get(), NFTNL_TABLE_FLAGS);
      std::uint32_t len = 0;
      const void* ud = nftnl_table_get_data(got.get(), NFTNL_TABLE_USERDATA, &len);
      if (ud != nullptr && len > 0) {
        std::string blob(static_cast<const char*>(ud), len);
        info.layout_ok = blob.find(kLayoutTag) != std::string::npos;
      }
    }, "look up table");
    if (!st.ok()) {
      if (st.message().find(std::strerror(ENOENT)) != std::string::npos) return TableInfo{};
      return st;
    }
    return info;
  }

  // Every element of one map: key bytes -> (data bytes, objref name).
  struct Elem {
    std::vector<std::uint8_t> data;
    std::string obj;
  };
  Result<std::map<std::vector<std::uint8_t>, Elem>> DumpMap(const std::string& name) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    common::NftnlSet s(nftnl_set_alloc());
    nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
    nftnl_set_set_str(s.get(), NFTNL_SET_NAME, name.c_str());
    nlmsghdr* h = nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_GETSETELEM, NFPROTO_INET,
                                        NLM_F_DUMP | NLM_F_ACK, (*nl.seq())++);
    nftnl_set_elems_nlmsg_build_payload(h, s.get());
    std::map<std::vector<std::uint8_t>, Elem> out;
    Status st = nl.Query(h, [&](const nlmsghdr* m) {
      common::NftnlSet got(nftnl_set_alloc());
      if (nftnl_set_elems_nlmsg_parse(m, got.get()) < 0) return;
      nftnl_set_elem_foreach(got.get(), [](nftnl_set_elem* e, void* data) -> int {
        auto* o = static_cast<std::map<std::vector<std::uint8_t>, Elem>*>(data);
        std::uint32_t klen = 0, dlen = 0;
        const auto* k = static_cast<const std::uint8_t*>(nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen));
        if (k == nullptr) return 0;
        Elem el;
        if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_DATA)) {
          const auto* d = static_cast<const std::uint8_t*>(nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &dlen));
          el.data.assign(d, d + dlen);
        }
        if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_OBJREF)) {
          el.obj = nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_OBJREF);
        }
        (*o)[std::vector<std::uint8_t>(k, k + klen)] = std::move(el);
        return 0;
      }, &out);
    }, ("read map " + name).c_str());
    if (!st.ok()) return st;
    return out;
  }

  Result<std::set<std::string>> DumpTimeoutObjects() {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    common::NftnlObj o(nftnl_obj_alloc());
    nftnl_obj_set_str(o.get(), NFTNL_OBJ_TABLE, table.c_str());
    nftnl_obj_set_u32(o.get(), NFTNL_OBJ_TYPE, NFT_OBJECT_CT_TIMEOUT);
    nlmsghdr* h = nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_GETOBJ, NFPROTO_INET,
                                        NLM_F_DUMP | NLM_F_ACK, (*nl.seq())++);
    nftnl_obj_nlmsg_build_payload(h, o.get());
    std::set<std::string> out;
    Status st = nl.Query(h, [&](const nlmsghdr* m) {
      common::NftnlObj got(nftnl_obj_alloc());
      if (nftnl_obj_nlmsg_parse(m, got.get()) < 0) return;
      const char* t = nftnl_obj_get_str(got.get(), NFTNL_OBJ_TABLE);
      if (t == nullptr || table != t) return;
      if (nftnl_obj_get_u32(got.get(), NFTNL_OBJ_TYPE) != NFT_OBJECT_CT_TIMEOUT) return;
      out.insert(nftnl_obj_get_str(got.get(), NFTNL_OBJ_NAME));
    }, "read ct timeout objects");
    if (!st.ok()) return st;
    return out;
  }

  // Rebuilds `installed` from the kernel's maps. A key present in only some
  // of its three maps is reported as broken; the caller rebuilds.
  Status ReadInstalled(bool* consistent) {
    *consistent = true;
    installed.clear();
    used_ids.clear();
    for (int ki = 0; ki < kKinds; ++ki) {
      Kind k = static_cast<Kind>(ki);
      auto dnat = DumpMap(MapName(MapRole::kDnat, k));
      if (!dnat.ok()) return dnat.status();
      auto mark = DumpMap(MapName(MapRole::kMark, k));
      if (!mark.ok()) return mark.status();
      auto tmo = DumpMap(MapName(MapRole::kTimeout, k));
      if (!tmo.ok()) return tmo.status();
      if (dnat->size() != mark->size() || dnat->size() != tmo->size()) *consistent = false;
      for (const auto& [key, d] : *dnat) {
        auto mi = mark->find(key);
        auto ti = tmo->find(key);
        auto parsed = ParseEntry(k, key, d.data, mi == mark->end() ? nullptr : &mi->second.data,
                                 ti == tmo->end() ? "" : ti->second.obj);
        if (!parsed) {
          *consistent = false;
          continue;
        }
        used_ids.insert(IdOf(parsed->mark));
        installed[parsed->mapping.key] = *parsed;
      }
    }
    refs.clear();
    for (const auto& [key, im] : installed) ++refs[TimeoutName(im.mapping)];
    return Status::Ok();
  }

  std::optional<InstalledMapping> ParseEntry(Kind k, const std::vector<std::uint8_t>& key,
                                             const std::vector<std::uint8_t>& dnat,
                                             const std::vector<std::uint8_t>* mark,
                                             const std::string& obj) const {
    auto parsed_key = ParseKey(k, key);
    if (!parsed_key || key.size() != KeyLen(k) || mark == nullptr || mark->size() != 4 ||
        obj.empty()) {
      return std::nullopt;
    }
    InstalledMapping im;
    im.mapping.key = *parsed_key;
    std::size_t alen = IsV4(k) ? 4 : 16;
    if (dnat.size() != alen + 4) return std::nullopt;
    im.mapping.destination.address = AddressFrom(dnat.data(), alen);
    im.mapping.destination.port = static_cast<std::uint16_t>((dnat[alen] << 8) | dnat[alen + 1]);
    std::memcpy(&im.mark, mark->data(), 4);
    if ((im.mark & opt.mark_mask) != im.mark || im.mark == 0) return std::nullopt;
    // The object's name carries the timeout: "timeout_tcp_ipv4_60s".
    auto us = obj.rfind('_');
    if (us == std::string::npos || obj.back() != 's') return std::nullopt;
    im.mapping.flow_timeout_s =
        static_cast<std::uint32_t>(std::strtoul(obj.substr(us + 1).c_str(), nullptr, 10));
    if (TimeoutName(im.mapping) != obj) return std::nullopt;
    return im;
  }

  // The mapping key at the start of an element key of kind `k`.
  static std::optional<MappingKey> ParseKey(Kind k, const std::vector<std::uint8_t>& key) {
    auto proto = key.size() >= KeyLen(k) ? ipc::netd::ProtoFromWire(key[0]) : std::nullopt;
    if (!proto) return std::nullopt;
    std::size_t alen = IsV4(k) ? 4 : 16;
    std::size_t port_at = IsWildcard(k) ? 4 : 4 + alen;
    IpAddress listen = IsWildcard(k)
                           ? IpAddress::Unspecified(IsV4(k) ? Family::kIpv4 : Family::kIpv6)
                           : AddressFrom(&key[4], alen);
    return MappingKey{*proto, listen,
                      static_cast<std::uint16_t>((key[port_at] << 8) | key[port_at + 1])};
  }

  static IpAddress AddressFrom(const std::uint8_t* p, std::size_t len) {
    if (len == 4) return IpAddress::V4({p[0], p[1], p[2], p[3]});
    std::array<std::uint8_t, 16> b;
    std::memcpy(b.data(), p, 16);
    return IpAddress::V6(b);
  }

  std::uint32_t RefsOf(const std::string& name) const {
    auto it = refs.find(name);
    return it == refs.end() ? 0 : it->second;
  }

  std::uint32_t IdOf(std::uint32_t mark) const {
    return mark >> std::countr_zero(opt.mark_mask);
  }

  std::optional<std::uint32_t> AllocateId() {
    std::uint32_t cap = MarkCapacity(opt.mark_mask);
    for (std::uint32_t n = 0; n < cap; ++n) {
      std::uint32_t id = next_id;
      next_id = next_id % cap + 1;
      if (used_ids.insert(id).second) return id;
    }
    return std::nullopt;
  }
};

NftTable::NftTable(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NftTable::~NftTable() = default;

std::uint32_t NftTable::MarkCapacity(std::uint32_t mask) {
  if (mask == 0) return 0;
  return mask >> std::countr_zero(mask);
}

std::uint32_t NftTable::MarkFor(std::uint32_t id, std::uint32_t mask) {
  return id << std::countr_zero(mask);
}

Result<std::unique_ptr<NftTable>> NftTable::Open(const Options& options) {
  std::uint32_t mask = options.mark_mask;
  if (mask == 0 || std::popcount(mask) != 32 - std::countl_zero(mask) - std::countr_zero(mask)) {
    return Status::InvalidArgument("ct mark mask must be one run of contiguous bits, e.g. 0xffff0000");
  }
  if (options.max_mappings == 0 || options.max_mappings > MarkCapacity(mask)) {
    return Status::InvalidArgument("max mappings must be 1-" + std::to_string(MarkCapacity(mask)) +
                                   " (the mark values the ct mark mask has)");
  }
  auto nl = Netlink::Open();
  if (!nl.ok()) return nl.status();
  auto impl = std::make_unique<Impl>(std::move(nl).value());
  impl->opt = options;
  impl->table = options.table_name;
  Impl& t = *impl;

  auto info = t.GetTable();
  if (!info.ok()) return info.status();
  if (info->exists && (info->flags & kTableFlagOwner)) {
    return Status::Unavailable("table inet " + t.table +
                               " is owned by another running process (another proxygw-netd?)");
  }

  // Fresh layout: create (or replace) the table with everything in one batch,
  // owner+persist first, plain on kernels without them.
  auto build = [&](bool replace) -> Status {
    for (std::uint32_t flags : {kTableFlagOwner | kTableFlagPersist, 0u}) {
      Batch b(t.nl.seq());
      if (replace) t.DelTable(b);
      t.AddTable(b, flags, /*with_comment=*/true);
      t.AddLayout(b);
      Status st = t.nl.Transact(b);
      if (st.ok()) {
        t.persistent = flags != 0;
        t.installed.clear();
        t.holds.clear();
        t.objects.clear();
        t.refs.clear();
        t.used_ids.clear();
        return st;
      }
      if (flags == 0 || t.nl.last_errno() != EOPNOTSUPP) return st.WithContext("create table");
    }
    return Status::Internal("unreachable");
  };

  if (!info->exists) {
    Status st = build(false);
    if (!st.ok()) return st;
    t.how = "created";
    return std::unique_ptr<NftTable>(new NftTable(std::move(impl)));
  }
  if (!info->layout_ok) {
    Status st = build(true);
    if (!st.ok()) return st;
    t.how = "rebuilt";
    return std::unique_ptr<NftTable>(new NftTable(std::move(impl)));
  }
  // Ours, orphaned or plain: adopt. Re-asserting owner+persist on an orphan
  // makes this socket its owner; a plain table stays plain.
  if (info->flags & kTableFlagPersist) {
    Batch b(t.nl.seq());
    t.AddTable(b, kTableFlagOwner | kTableFlagPersist, /*with_comment=*/false);
    Status st = t.nl.Transact(b);
    if (!st.ok()) return st.WithContext("adopt table inet " + t.table);
    t.persistent = true;
  }
  bool consistent = true;
  Status st = t.ReadInstalled(&consistent);
  if (!st.ok()) return st.WithContext("read table inet " + t.table);
  auto objs = t.DumpTimeoutObjects();
  if (!objs.ok()) return objs.status();
  t.objects = *objs;
  if (!consistent) {
    // Half-written mappings cannot come from netd (every change is one
    // transaction): someone edited the table. Start clean.
    st = build(true);
    if (!st.ok()) return st;
    t.how = "rebuilt";
  } else {
    t.how = "adopted";
  }
  return std::unique_ptr<NftTable>(new NftTable(std::move(impl)));
}

bool NftTable::persistent() const { return impl_->persistent; }
const char* NftTable::how_opened() const { return impl_->how; }
std::uint32_t NftTable::mark_mask() const { return impl_->opt.mark_mask; }
std::uint32_t NftTable::max_mappings() const { return impl_->opt.max_mappings; }

const std::map<MappingKey, InstalledMapping>& NftTable::installed() const {
  return impl_->installed;
}

const std::map<MappingKey, Hold>& NftTable::holds() const { return impl_->holds; }

std::uint32_t NftTable::MarkOf(const MappingKey& key) const {
  auto it = impl_->installed.find(key);
  return it == impl_->installed.end() ? 0 : it->second.mark;
}

// What one transaction does to the installed set. Pointers are into
// `installed`, valid until Commit changes it.
struct NftTable::Delta {
  std::vector<const InstalledMapping*> gone;                       // keys removed
  std::vector<std::pair<const InstalledMapping*, Mapping>> replaced;  // same key and mark
  std::vector<Mapping> fresh;                                      // new keys
  std::uint32_t unchanged = 0;
  // A full sync: also delete the timeout objects no mapping uses, and
  // rewrite the hold sets (after a restart netd does not know what is there).
  bool full = false;
  std::map<MappingKey, Hold> holds;  // holds set (hold_s >= 1) or cleared (0)
};

Result<NftTable::Outcome> NftTable::Sync(const std::vector<Mapping>& desired,
                                         const std::vector<Hold>& holds) {
  std::map<MappingKey, const Mapping*> target;
  for (const auto& m : desired) target[m.key] = &m;
  Delta d;
  d.full = true;
  for (const auto& [k, h] : impl_->holds) d.holds[k] = Hold{k, 0, {}};
  for (const auto& h : holds) d.holds[h.key] = h;
  for (const auto& [k, im] : impl_->installed) {
    auto it = target.find(k);
    if (it == target.end()) {
      d.gone.push_back(&im);
    } else if (!(*it->second == im.mapping)) {
      d.replaced.emplace_back(&im, *it->second);
    } else {
      ++d.unchanged;
    }
  }
  for (const auto& [k, m] : target) {
    if (!impl_->installed.count(k)) d.fresh.push_back(*m);
  }
  return Commit(d);
}

// Costs what the change touches, not what the table holds: a Change with
// 50,000 mappings installed builds the same batch as with none.
Result<NftTable::Outcome> NftTable::Change(const std::vector<Mapping>& enable,
                                           const std::vector<MappingKey>& disable) {
  std::map<MappingKey, const Mapping*> on;  // a key enabled twice: the last wins
  for (const auto& m : enable) on[m.key] = &m;
  std::set<MappingKey> off;
  for (const auto& k : disable) {
    if (!on.count(k)) off.insert(k);  // enabled and disabled: enabled, as in a Sync
  }
  Delta d;
  for (const auto& k : off) {
    auto it = impl_->installed.find(k);
    if (it != impl_->installed.end()) d.gone.push_back(&it->second);
    else ++d.unchanged;
  }
  for (const auto& [k, m] : on) {
    auto it = impl_->installed.find(k);
    if (it == impl_->installed.end()) d.fresh.push_back(*m);
    else if (!(*m == it->second.mapping)) d.replaced.emplace_back(&it->second, *m);
    else ++d.unchanged;
  }
  return Commit(d);
}

Status NftTable::SetHolds(const std::vector<Hold>& holds) {
  Delta d;
  for (const auto& h : holds) d.holds[h.key] = h;
  return Commit(d).status();
}

Result<NftTable::Outcome> NftTable::Commit(const Delta& d) {
  Impl& t = *impl_;
  if (Status st = ValidateCount(t.installed.size() - d.gone.size() + d.fresh.size(),
                                t.opt.max_mappings);
      !st.ok()) {
    return st;
  }
  Outcome out;
  out.unchanged = d.unchanged;
  out.removed = static_cast<std::uint32_t>(d.gone.size());
  out.added = static_cast<std::uint32_t>(d.replaced.size() + d.fresh.size());
  std::vector<InstalledMapping> removes, adds;
  for (const InstalledMapping* g : d.gone) removes.push_back(*g);
  for (const auto& [old, m] : d.replaced) {
    removes.push_back(*old);
    adds.push_back(InstalledMapping{m, old->mark});
  }
  std::vector<std::uint32_t> allocated;
  for (const auto& m : d.fresh) {
    auto id = t.AllocateId();
    if (!id) {
      for (auto a : allocated) t.used_ids.erase(a);
      return Status::InvalidArgument("no free ct mark value under mask");
    }
    allocated.push_back(*id);
    adds.push_back(InstalledMapping{m, MarkFor(*id, t.opt.mark_mask)});
  }

  // Timeout objects: one per (protocol, family, timeout) in use. Created
  // before the elements that name them, deleted after the last goes.
  std::map<std::string, std::int64_t> refs_after;
  std::map<std::string, const Mapping*> user;
  for (const auto& im : removes) {
    auto name = TimeoutName(im.mapping);
    refs_after.try_emplace(name, t.RefsOf(name));
    --refs_after[name];
  }
  for (const auto& im : adds) {
    auto name = TimeoutName(im.mapping);
    refs_after.try_emplace(name, t.RefsOf(name));
    ++refs_after[name];
    user.try_emplace(name, &im.mapping);
  }
  std::vector<std::string> create, drop;
  for (const auto& [name, n] : refs_after) {
    if (n > 0 && !t.objects.count(name)) create.push_back(name);
    if (n <= 0 && t.objects.count(name)) drop.push_back(name);
  }
  if (d.full) {
    for (const auto& name : t.objects) {
      if (!refs_after.count(name) && t.RefsOf(name) == 0) drop.push_back(name);
    }
  }

  // Hold elements are in the kernel while their key has a hold and is cold:
  // a key going cold gets its hold's, a key going warm loses them.
  std::map<MappingKey, bool> cold_after;
  for (const auto* g : d.gone) cold_after[g->mapping.key] = true;
  for (const auto& m : d.fresh) cold_after[m.key] = false;
  for (const auto& [k, h] : d.holds) cold_after.try_emplace(k, !t.installed.count(k));
  std::vector<Hold> holds_off, holds_on;
  for (const auto& [k, cold] : cold_after) {
    auto before = t.holds.find(k);
    auto change = d.holds.find(k);
    const Hold* was = before != t.holds.end() && !t.installed.count(k) ? &before->second : nullptr;
    const Hold* will = change != d.holds.end()
                           ? (change->second.hold_s ? &change->second : nullptr)
                           : (before != t.holds.end() ? &before->second : nullptr);
    if (!cold) will = nullptr;
    if (was && will && *was == *will && !d.full) continue;
    if (was && !d.full) holds_off.push_back(*was);
    if (will) holds_on.push_back(*will);
  }

  Batch b(t.nl.seq());
  for (const auto& name : create) t.AddTimeoutObject(b, *user.at(name));
  t.HoldElements(b, holds_off, /*add=*/false, /*flush=*/d.full);
  t.Elements(b, removes, /*add=*/false);
  t.Elements(b, adds, /*add=*/true);
  t.HoldElements(b, holds_on, /*add=*/true);
  for (const auto& name : drop) t.DelTimeoutObject(b, name);
  Status st = b.messages() ? t.nl.Transact(b) : Status::Ok();
  if (!st.ok()) {
    for (auto a : allocated) t.used_ids.erase(a);
    return st;
  }

  for (const auto& im : removes) t.used_ids.erase(t.IdOf(im.mark));
  for (const auto& im : adds) t.used_ids.insert(t.IdOf(im.mark));
  // `removes` starts with the gone mappings, `adds` ends with the fresh ones.
  out.gone.assign(removes.begin(), removes.begin() + static_cast<std::ptrdiff_t>(d.gone.size()));
  for (const auto& im : out.gone) t.installed.erase(im.mapping.key);
  for (const auto& im : adds) t.installed[im.mapping.key] = im;
  out.fresh.assign(adds.end() - static_cast<std::ptrdiff_t>(d.fresh.size()), adds.end());
  for (const auto& [name, n] : refs_after) {
    if (n > 0) t.refs[name] = static_cast<std::uint32_t>(n);
    else t.refs.erase(name);
  }
  for (const auto& name : create) t.objects.insert(name);
  for (const auto& name : drop) t.objects.erase(name);
  for (const auto& [k, h] : d.holds) {
    if (h.hold_s)
      t.holds[k] = h;
    else
      t.holds.erase(k);
  }
  return out;
}

Status NftTable::DeleteTable() {
  Batch b(impl_->nl.seq());
  impl_->DelTable(b);
  Status st = impl_->nl.Transact(b);
  if (st.ok()) {
    impl_->installed.clear();
    impl_->holds.clear();
    impl_->objects.clear();
    impl_->refs.clear();
  }
  return st;
}

}  // namespace netd
