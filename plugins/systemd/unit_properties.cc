#include "plugins/systemd/unit_properties.h"

#include <systemd/sd-bus.h>

#include <string>
#include <string_view>

namespace plugins::systemd {

int ReadUnitProperties(sd_bus_message* m, UnitState& s) {
  int r = sd_bus_message_enter_container(m, 'a', "{sv}");
  if (r < 0) return r;
  while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
    const char* key = nullptr;
    if ((r = sd_bus_message_read(m, "s", &key)) < 0) return r;
    std::string_view k = key;
    std::string* field = k == "LoadState"     ? &s.load_state
                         : k == "ActiveState" ? &s.active_state
                         : k == "SubState"    ? &s.sub_state
                         : k == "Result"      ? &s.result
                                              : nullptr;
    const char* contents = nullptr;
    if ((r = sd_bus_message_peek_type(m, nullptr, &contents)) < 0) return r;
    if (field != nullptr && contents != nullptr && std::string_view(contents) == "s") {
      const char* value = nullptr;
      if ((r = sd_bus_message_read(m, "v", "s", &value)) < 0) return r;
      *field = value;
    } else if ((r = sd_bus_message_skip(m, "v")) < 0) {
      return r;
    }
    if ((r = sd_bus_message_exit_container(m)) < 0) return r;
  }
  if (r < 0) return r;
  r = sd_bus_message_exit_container(m);
  return r < 0 ? r : 0;
}

int ReadPropertiesChanged(sd_bus_message* m, UnitState& s) {
  const char* iface = nullptr;
  if (int r = sd_bus_message_read(m, "s", &iface); r < 0) return r;
  return ReadUnitProperties(m, s);
}

}  // namespace plugins::systemd
