// The control socket handed down by whoever started the engine. The proxygw
// supervisor binds it as root (the engine's user may not create files in the
// socket's directory, /run for one), keeps it across engine restarts so that
// clients queue instead of failing, and removes it when it stops; a systemd
// socket unit could do the same. Both pass it with systemd's
// socket-activation convention (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES) under
// the name "ctl". Engine-side, called once at start-up.
#pragma once

#include <string>

#include "common/status.h"
#include "common/unique_fd.h"

namespace ctl_plugin {

// The LISTEN_FDNAMES entry of the control socket.
inline constexpr char kInheritedSocketName[] = "ctl";

// Takes the descriptor passed down as "ctl":
//   - nothing passed, or nothing under that name: an empty UniqueFd;
//   - a listening Unix stream socket bound to `path` (getsockname): that
//     socket, whose file belongs to whoever passed it;
//   - anything else (bound elsewhere because the config changed since it was
//     bound, not listening, another kind of descriptor): InvalidArgument
//     naming the path and what is wrong; the descriptor is closed.
// Unsets the LISTEN_* variables, so that backends started later do not see
// them; descriptors passed under other names are left alone (close-on-exec).
common::Result<common::UniqueFd> TakeInheritedSocket(const std::string& path);

}  // namespace ctl_plugin
