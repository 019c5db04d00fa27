// Reading a unit's states out of systemd's D-Bus messages: the a{sv} of
// org.freedesktop.DBus.Properties.GetAll and the PropertiesChanged signal
// (interface, changed a{sv}, invalidated as). Only LoadState, ActiveState,
// SubState and Result are kept, and only when they are strings; every other
// property is skipped. proxygw-engine's systemd plugin.
#pragma once

#include "plugins/systemd/unit_state.h"

struct sd_bus_message;

namespace plugins::systemd {

// Reads an a{sv} at the message's read position into `s` (the fields it
// names; others keep their values). 0, or a negative errno when the message
// is not shaped so; `s` may be partly updated then.
int ReadUnitProperties(sd_bus_message* m, UnitState& s);

// The same for a PropertiesChanged signal (any interface: the unit's, or
// the service's, which carries Result); the invalidated list is ignored.
int ReadPropertiesChanged(sd_bus_message* m, UnitState& s);

}  // namespace plugins::systemd
