#include "proxygw-engine/config/ha_section.h"

namespace config {

void ReadHaSection(ErrorSink& sink, const Fields& top, HaConfig* out) {
  if (!top.Has("ha")) return;
  auto f = Fields::Read(sink, top.Get("ha"), "ha", top.KeyLocation("ha"), {"initial_role"},
                        /*null_is_empty=*/true);
  if (!f) return;
  out->enabled = true;
  auto role = f->String(sink, "initial_role", /*required=*/false);
  if (!role) return;
  // A node starts as master or backup; "fault" is keepalived's to say.
  auto r = common::ParseHaRole(*role);
  if (!r || *r == common::HaRole::kFault) {
    sink.Add(LocationOf(f->Get("initial_role")), f->PathOf("initial_role"),
             "expected \"backup\" or \"master\", got \"" + role->substr(0, 80) + "\"");
    return;
  }
  out->initial_role = *r;
}

}  // namespace config
