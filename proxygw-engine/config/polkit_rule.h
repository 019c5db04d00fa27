// The polkit rule that lets the engine's user start and stop the systemd
// units of the config's systemd:unit targets, and nothing else
// (init/polkit/50-proxygw.rules.in, compiled in, with the user and the unit
// list filled in). Root-side code: `proxygw-engine --write-polkit-rule` (the
// engine unit's ExecStartPre=+ and ExecReload=+ steps, as root); the engine at
// run time never writes it.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "proxygw-engine/config/config.h"

namespace config {

// The `unit` option of every systemd:unit target, in config order, without
// repeats. Options that are not a string are left out (the plugin refuses
// such a config anyway).
std::vector<std::string> SystemdUnits(const Config& cfg);

// The rule's text for `user` and `units` (written as JSON strings, so no
// name can change the rule's code).
std::string PolkitRuleText(const std::string& user, const std::vector<std::string>& units);

// Writes PolkitRuleText(user, SystemdUnits(cfg)) to `path` (mode 0644),
// atomically, unless the file holds that text already (polkitd reloads its
// rules whenever the directory changes). When the directory is missing
// (polkit not installed): ok without writing if the config has no
// systemd:unit target, else an error saying polkit is needed.
common::Status WritePolkitRule(const Config& cfg, const std::string& user, const std::string& path);

}  // namespace config
