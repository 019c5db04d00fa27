// Reading netd's table back from the kernel; see nft_readback.h. Runs inside
// proxygw-netd only.
#include "proxygw-netd/nft_readback.h"

// <arpa/inet.h> and <netinet/in.h> must come before <linux/netfilter.h>.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <libnftnl/udata.h>

#include "common/c_handles.h"
#include "proxygw-netd/nft_layout.h"

namespace netd::nft {

using common::Result;
using common::Status;

namespace {

// Every element of one map: key bytes -> (data bytes, objref name).
struct Elem {
  std::vector<std::uint8_t> data;
  std::string obj;
};
using Elems = std::map<std::vector<std::uint8_t>, Elem>;

Result<Elems> DumpMap(Netlink& nl, const std::string& table, const std::string& name) {
  common::NftnlSet s = NewSet(table, name);
  Elems out;
  Status st = nl.Get(NFT_MSG_GETSETELEM, NLM_F_DUMP, nftnl_set_elems_nlmsg_build_payload, s.get(),
                     [&](const nlmsghdr* m) {
    common::NftnlSet got(nftnl_set_alloc());
    if (nftnl_set_elems_nlmsg_parse(m, got.get()) < 0) return;
    nftnl_set_elem_foreach(got.get(), [](nftnl_set_elem* e, void* data) -> int {
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
      (*static_cast<Elems*>(data))[std::vector<std::uint8_t>(k, k + klen)] = std::move(el);
      return 0;
    }, &out);
  }, "read map " + name);
  if (!st.ok()) return st;
  return out;
}

}  // namespace

Result<TableInfo> ReadTableInfo(Netlink& nl, const std::string& table) {
  common::NftnlTable t = NewTable(table);
  TableInfo info;
  Status st = nl.Get(NFT_MSG_GETTABLE, 0, nftnl_table_nlmsg_build_payload, t.get(),
                     [&](const nlmsghdr* m) {
    common::NftnlTable got(nftnl_table_alloc());
    if (nftnl_table_nlmsg_parse(m, got.get()) < 0) return;
    info.exists = true;
    info.flags = nftnl_table_get_u32(got.get(), NFTNL_TABLE_FLAGS);
    std::uint32_t len = 0;
    const void* ud = nftnl_table_get_data(got.get(), NFTNL_TABLE_USERDATA, &len);
    auto on_attr = [](const nftnl_udata* attr, void* data) -> int {
      if (nftnl_udata_type(attr) != NFTNL_UDATA_TABLE_COMMENT) return 0;
      static_cast<std::string*>(data)->assign(static_cast<const char*>(nftnl_udata_get(attr)),
                                              strnlen(static_cast<const char*>(nftnl_udata_get(attr)),
                                                      nftnl_udata_len(attr)));
      return 0;
    };
    if (ud != nullptr) nftnl_udata_parse(ud, len, on_attr, &info.comment);
  }, "look up table");
  if (!st.ok()) {
    if (st.message().find(std::strerror(ENOENT)) != std::string::npos) return TableInfo{};
    return st;
  }
  return info;
}

Result<InstalledRead> ReadInstalled(Netlink& nl, const std::string& table,
                                    std::uint32_t mark_mask) {
  InstalledRead out;
  for (Kind k : kAllKinds) {
    auto dnat = DumpMap(nl, table, MapName(MapRole::kDnat, k));
    if (!dnat.ok()) return dnat.status();
    auto mark = DumpMap(nl, table, MapName(MapRole::kMark, k));
    if (!mark.ok()) return mark.status();
    auto tmo = DumpMap(nl, table, MapName(MapRole::kTimeout, k));
    if (!tmo.ok()) return tmo.status();
    if (dnat->size() != mark->size() || dnat->size() != tmo->size()) out.consistent = false;
    for (const auto& [key, d] : *dnat) {
      auto parsed = ParseElements(k, key, d.data, (*mark)[key].data, (*tmo)[key].obj, mark_mask);
      if (!parsed) {
        out.consistent = false;
        continue;
      }
      out.installed[parsed->mapping.key] = *parsed;
    }
  }
  return out;
}

Result<std::set<std::string>> ReadTimeoutObjects(Netlink& nl, const std::string& table) {
  common::NftnlObj o(nftnl_obj_alloc());
  nftnl_obj_set_str(o.get(), NFTNL_OBJ_TABLE, table.c_str());
  nftnl_obj_set_u32(o.get(), NFTNL_OBJ_TYPE, NFT_OBJECT_CT_TIMEOUT);
  std::set<std::string> out;
  Status st = nl.Get(NFT_MSG_GETOBJ, NLM_F_DUMP, nftnl_obj_nlmsg_build_payload, o.get(),
                     [&](const nlmsghdr* m) {
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

}  // namespace netd::nft
