// A compiled-in plugin table for the engine's own tests (engine_tests links
// it instead of the generated one): namespace "test" with the kinds
// test:target and test:frontend, whose handlers are scripted
// (testing/fakes.h). Each handler the running engine builds gets a script of
// its own, kept per object name in build order, so that a test can see what
// a reload did to each generation of an object. Handlers built to check a
// config (CheckPlugins) get a throwaway script. Test-only.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "proxygw-engine/testing/fakes.h"

namespace boost::asio {
class io_context;
}

namespace engine::testing {

struct TestPluginState {
  // The engine's loop: handlers built on another (a check's) are thrown away.
  boost::asio::io_context* io = nullptr;
  std::map<std::string, std::vector<std::unique_ptr<ScriptedTarget::Script>>> targets;
  std::map<std::string, std::vector<std::unique_ptr<ScriptedFrontend::Script>>> frontends;
  // Each frontend's warm callback, of its latest generation.
  std::map<std::string, std::function<void()>> warm;
  // Applied to every new target script (e.g. auto_complete = false).
  std::function<void(ScriptedTarget::Script&)> new_target;
};

// The plugin's state; Reset() before each test.
TestPluginState& TestPlugin();
void ResetTestPlugin(boost::asio::io_context& io);

}  // namespace engine::testing
