// One owning C++ type per C handle the privileged helper uses (libnftnl,
// libmnl, libnetfilter_conntrack); descriptors use UniqueFd (common/unique_fd.h).
// Construction that can fail lives in the code that creates the handle; these
// only free. Included by proxygw-netd only: the engine links none of these
// libraries.
#pragma once

#include <memory>

#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "common/c_free.h"
#include "common/unique_fd.h"

namespace common {

using MnlSocket = std::unique_ptr<mnl_socket, CFree<mnl_socket_close>>;
using NftnlBatch = std::unique_ptr<nftnl_batch, CFree<nftnl_batch_free>>;
using NftnlTable = std::unique_ptr<nftnl_table, CFree<nftnl_table_free>>;
using NftnlChain = std::unique_ptr<nftnl_chain, CFree<nftnl_chain_free>>;
using NftnlRule = std::unique_ptr<nftnl_rule, CFree<nftnl_rule_free>>;
using NftnlExpr = std::unique_ptr<nftnl_expr, CFree<nftnl_expr_free>>;
using NftnlSet = std::unique_ptr<nftnl_set, CFree<nftnl_set_free>>;
using NftnlSetElem = std::unique_ptr<nftnl_set_elem, CFree<nftnl_set_elem_free>>;
using NftnlObj = std::unique_ptr<nftnl_obj, CFree<nftnl_obj_free>>;
using NfctHandle = std::unique_ptr<nfct_handle, CFree<nfct_close>>;
using NfConntrack = std::unique_ptr<nf_conntrack, CFree<nfct_destroy>>;
using NfctFilter = std::unique_ptr<nfct_filter, CFree<nfct_filter_destroy>>;
using NfctFilterDump = std::unique_ptr<nfct_filter_dump, CFree<nfct_filter_dump_destroy>>;

}  // namespace common
