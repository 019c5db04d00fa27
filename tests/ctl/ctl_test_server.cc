// A fake engine for proxygwctl's integration tests (tests/integration/
// test_proxygwctl.py): the real ctl plugin, loaded as the engine loads it,
// serving a scripted engine::Control (plugins/ctl/fake_control.h) on the
// engine's kind of event loop.
//
//   ctl_test_server --socket PATH [--codec json|cbor] [--mode 0660] [--closed NAME]...
//                   [--refuse-reload]
//
// Prints "ready" on stdout once the socket accepts connections. SIGTERM or
// SIGINT unloads the plugin (which removes the socket) and exits 0. Plugin
// errors are printed as the engine prints config errors, exit status 1.
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "plugins/ctl/fake_control.h"
#include "proxygw-engine/plugin_api.h"

extern const engine::PluginDef proxygw_plugin_ctl;

namespace {

// A YAML single-quoted scalar.
std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ctl_test_server: the ctl plugin serving a scripted engine, for tests"};
  std::string socket;
  std::string codec = "json";
  std::string mode = "0660";
  std::vector<std::string> closed;
  app.add_option("--socket", socket, "Socket path")->required();
  app.add_option("--codec", codec, "json or cbor");
  app.add_option("--mode", mode, "Socket file mode");
  app.add_option("--closed", closed, "Targets whose state is \"closed\" (warm/drain refused)");
  bool refuse_reload = false;
  app.add_flag("--refuse-reload", refuse_reload,
               "Answer a reload with the sample refusal (two located errors)");
  CLI11_PARSE(app, argc, argv);

  YAML::Node node = YAML::Load("{socket: " + Quote(socket) + ", codec: " + Quote(codec) +
                               ", mode: " + Quote(mode) + "}");
  config::Options options;
  options.node = node;
  options.path = "plugins.ctl";
  config::Config cfg;
  cfg.file = "command line";

  ctl_plugin::FakeControl control;
  if (refuse_reload) control.reload_report() = ctl_plugin::SampleReloadReport(/*refused=*/true);
  for (auto& t : control.snapshot().targets) {
    for (const auto& name : closed) {
      if (t.name == name) t.state = "closed";
    }
  }

  boost::asio::io_context io;
  std::vector<config::ConfigError> errors;
  config::ErrorSink sink(cfg.file, &errors);
  engine::PluginContext ctx{io, control, cfg, &options, "ctl",
                            engine::Logger().With({{"plugin", "ctl"}})};
  engine::Namespace ns;
  std::unique_ptr<engine::PluginInstance> instance;
  proxygw_plugin_ctl.load(ctx, ns, sink, /*start=*/true, &instance);
  if (!errors.empty() || !instance) {
    for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
    return 1;
  }

  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    instance->Unload();
    io.stop();
  });
  std::puts("ready");
  std::fflush(stdout);
  io.run();
  return 0;
}
