// Fuzzes what proxygw-netd does with a packet from its peer before touching
// the kernel: DecodeRequest (msgpack under limits, shapes, types) and, for
// what decodes, the validators. Also checks the codec is stable: a decoded
// request re-encodes to bytes that decode to the same request. Seeds:
// tests/fuzz/seeds/netd_request (one valid message per request type, and a
// sync-add carrying holds).
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>

#include "common/ipc/netd_protocol.h"
#include "proxygw-netd/validate.h"

using namespace ipc::netd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> bytes(data, size);
  auto r = DecodeRequest(bytes);
  (void)PeekRequestId(bytes);
  if (!r.ok()) {
    if (r.status().message().empty()) __builtin_trap();
    return 0;
  }
  auto again = EncodeRequest(*r);
  auto r2 = DecodeRequest(again);
  if (!r2.ok() || r2->id != r->id || r2->op() != r->op() || EncodeRequest(*r2) != again) {
    __builtin_trap();
  }
  std::map<MappingKey, Mapping> set;
  auto check = [&](const std::vector<Mapping>& ms) {
    for (const auto& m : ms) {
      (void)netd::ValidateMapping(m);
      set[m.key] = m;
    }
    (void)netd::ValidateSet(set, 100);
  };
  auto check_holds = [](const std::vector<Hold>& hs, bool clear_ok) {
    for (const auto& h : hs) (void)netd::ValidateHold(h, clear_ok);
  };
  if (auto* a = std::get_if<SyncAddRequest>(&r->body)) {
    check(a->mappings);
    check_holds(a->holds, false);
  }
  if (auto* h = std::get_if<HoldRequest>(&r->body)) check_holds(h->holds, true);
  if (auto* rel = std::get_if<ReleaseRequest>(&r->body)) {
    for (const auto& k : rel->keys) (void)netd::ValidateKey(k);
  }
  if (auto* c = std::get_if<ChangeRequest>(&r->body)) {
    check(c->enable);
    for (const auto& k : c->disable) (void)netd::ValidateKey(k);
  }
  if (auto* f = std::get_if<FlushRequest>(&r->body)) {
    for (const auto& k : f->keys) (void)netd::ValidateKey(k);
  }
  return 0;
}
