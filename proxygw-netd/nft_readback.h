// Reading netd's table back from the kernel: whether it exists and is of
// this layout, its mappings, and its ct timeout objects. What a restarted
// netd adopts (NftTable::Open). Runs inside proxygw-netd only.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "common/status.h"
#include "proxygw-netd/nft_netlink.h"
#include "proxygw-netd/nft_table.h"

namespace netd::nft {

struct TableInfo {
  bool exists = false;
  std::uint32_t flags = 0;
  std::string comment;  // the userdata's comment, "" if none
};
common::Result<TableInfo> ReadTableInfo(Netlink& nl, const std::string& table);

struct InstalledRead {
  std::map<MappingKey, InstalledMapping> installed;
  // False when a key is in only some of its three maps, or an element is not
  // one netd writes: someone edited the table.
  bool consistent = true;
};
// The mappings in the kernel's maps, with marks inside `mark_mask`.
common::Result<InstalledRead> ReadInstalled(Netlink& nl, const std::string& table,
                                            std::uint32_t mark_mask);

// The names of the table's ct timeout objects.
common::Result<std::set<std::string>> ReadTimeoutObjects(Netlink& nl, const std::string& table);

}  // namespace netd::nft
