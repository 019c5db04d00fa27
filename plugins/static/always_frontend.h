// static:always: a frontend that wants its target warm whenever it runs. It
// opens no socket. It warms the target when it starts, and again after the
// target failed (warm error, not ready in time, backend exited), with back-off
// from 1s to 60s; an idle drain or `proxygwctl drain` is respected, so an
// unused target stays cold until `proxygwctl warm` or a restart. (The
// original re-warmed every second and, with its idle bug, restarted unused
// targets every minute.) Options: none.
#pragma once

#include <memory>

#include "proxygw-engine/plugin_api.h"

namespace plugins::static_ns {

std::unique_ptr<engine::FrontendHandler> NewAlwaysFrontend(const engine::FrontendContext& ctx,
                                                           config::ErrorSink& errors);

}  // namespace plugins::static_ns
