// proxygwctl: the command-line client of the engine's control socket. It
// finds the socket (--socket, or plugins.ctl of the engine's config), sends
// one request (status, warm, drain, reload or role) and prints the answer. Errors are one
// line on stderr, "proxygwctl: ...", with an exit code per kind of failure.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "common/ipc/ctl_protocol.h"
#include "proxygw-engine/config/default_path.h"
#include "proxygw-engine/config/duration.h"
#include "proxygwctl/ctl_client.h"
#include "proxygwctl/ctl_settings.h"
#include "proxygwctl/status_table.h"

namespace {

namespace wire = ipc::ctl;
using proxygwctl::CallOptions;

// Exit codes; --help lists them.
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,          // anything else (config unreadable, engine refused...)
  kExitUsage = 2,          // bad command line
  kExitNotRunning = 3,     // no socket, or connection refused
  kExitPermission = 4,     // not allowed to connect to the socket
  kExitUnknownTarget = 5,  // warm/drain of a target the engine does not have
  kExitTimeout = 6,        // no answer within --timeout
  kExitProtocol = 7,       // the answer was not the ctl protocol
  kExitRefused = 8,        // reload refused: the new config is invalid or needs a restart
};

constexpr const char* kExitCodesHelp =
    "Exit codes:\n"
    "  0  ok\n"
    "  1  other error (config unreadable, the engine refused the request...)\n"
    "  2  bad usage\n"
    "  3  the engine is not running (no socket, or connection refused)\n"
    "  4  permission denied (by the socket's mode, or by the engine's allow lists)\n"
    "  5  unknown target name (warm, drain)\n"
    "  6  timeout (no answer within --timeout)\n"
    "  7  protocol error (the answer could not be read)\n"
    "  8  reload refused (the config has errors, or changes what only a restart applies;\n"
    "     the errors are printed on stderr and the running config stays)";

struct Args {
  std::string config;
  std::string socket;
  std::string codec;
  std::string output = "json";
  std::string timeout = "5s";
  std::string command;  // status | warm | drain | reload | role
  std::string target;
  std::string role;  // role: master | backup | fault
};

int Fail(int code, const std::string& msg) {
  std::fprintf(stderr, "proxygwctl: %s\n", msg.c_str());
  return code;
}

int ExitFor(const common::Status& st) {
  switch (st.code()) {
    case common::Status::Code::kUnavailable:
      return kExitNotRunning;
    case common::Status::Code::kPermissionDenied:
      return kExitPermission;
    case common::Status::Code::kProtocolError:
      return kExitProtocol;
    case common::Status::Code::kIoError:
      return st.sys_errno() == ETIMEDOUT ? kExitTimeout : kExitError;
    default:
      return kExitError;
  }
}

// Where to connect: --socket, else plugins.ctl of the config file; --codec
// overrides the config's codec.
common::Result<CallOptions> Resolve(const Args& args) {
  CallOptions o;
  if (!args.socket.empty()) {
    o.socket = args.socket;
  } else {
    std::string path = args.config;
    if (path.empty()) {
      config::DefaultConfig d = config::ResolveDefaultConfig();
      if (!d.notice.empty()) std::fprintf(stderr, "proxygwctl: %s\n", d.notice.c_str());
      path = d.path;
    }
    auto s = proxygwctl::ReadCtlSettings(path);
    if (!s.ok()) {
      if (!args.config.empty()) return s.status();
      return common::Status::InvalidArgument(s.status().message() +
                                             " (give --config FILE or --socket PATH)");
    }
    o.socket = s->socket;
    o.codec = s->codec;
  }
  if (!args.codec.empty()) o.codec = *wire::ParseCodec(args.codec);  // checked by the parser
  return o;
}

int PrintStatus(const wire::Body& answer, const Args& args) {
  const auto* status = std::get_if<wire::StatusResponse>(&answer);
  if (status == nullptr) {
    return Fail(kExitProtocol, "status request: unexpected answer " +
                                   std::string(wire::MethodName(wire::MethodOf(answer))));
  }
  std::string text = args.output == "table"
                         ? proxygwctl::FormatStatusTable(*status, std::chrono::system_clock::now())
                         : wire::StatusResponseText(*status);
  std::fputs(text.c_str(), stdout);
  return kExitOk;
}

// Applied: the plan on stdout. Refused: each error on stderr, then one line.
int PrintReload(const wire::Body& answer) {
  const auto* reload = std::get_if<wire::ReloadResponse>(&answer);
  if (reload == nullptr) {
    return Fail(kExitProtocol, "reload request: unexpected answer " +
                                   std::string(wire::MethodName(wire::MethodOf(answer))));
  }
  std::string text = wire::ReloadResponseText(*reload);
  if (reload->applied) {
    std::fputs(("config reloaded\n" + text).c_str(), stdout);
    return kExitOk;
  }
  std::fputs(text.c_str(), stderr);
  return Fail(kExitRefused, "reload refused (" + std::to_string(reload->errors.size()) +
                                " error" + (reload->errors.size() == 1 ? "" : "s") +
                                "); the running config stays");
}

int PrintRole(const wire::Body& answer) {
  const auto* role = std::get_if<wire::RoleResponse>(&answer);
  if (role == nullptr) {
    return Fail(kExitProtocol, "role request: unexpected answer " +
                                   std::string(wire::MethodName(wire::MethodOf(answer))));
  }
  std::printf("role: %s (was %s)\n", common::HaRoleName(role->role),
              common::HaRoleName(role->previous));
  return kExitOk;
}

template <class Response>
int PrintAction(const wire::Body& answer, const Args& args) {
  if (!std::holds_alternative<Response>(answer)) {
    return Fail(kExitProtocol, args.command + " request: unexpected answer " +
                                   std::string(wire::MethodName(wire::MethodOf(answer))));
  }
  std::printf("target \"%s\": %s requested\n", args.target.c_str(), args.command.c_str());
  return kExitOk;
}

int Run(const Args& args, const CallOptions& options) {
  wire::Body request;
  if (args.command == "status") {
    request = wire::StatusRequest{};
  } else if (args.command == "warm") {
    request = wire::WarmTargetRequest{args.target};
  } else if (args.command == "reload") {
    request = wire::ReloadRequest{};
  } else if (args.command == "role") {
    request = wire::RoleRequest{*common::ParseHaRole(args.role)};  // checked by the parser
  } else {
    request = wire::DrainTargetRequest{args.target};
  }
  auto answer = proxygwctl::Call(options, request);
  if (!answer.ok()) return Fail(ExitFor(answer.status()), answer.status().message());
  if (const auto* e = std::get_if<wire::ErrorResponse>(&*answer)) {
    // As the original: "status request: <msg>".
    int code = kExitError;
    if (e->code == wire::ErrorCodeName(common::Status::Code::kNotFound) &&
        (args.command == "warm" || args.command == "drain")) {
      code = kExitUnknownTarget;
    } else if (e->code == wire::ErrorCodeName(common::Status::Code::kProtocolError)) {
      code = kExitProtocol;  // the engine could not read our request
    } else if (e->code == wire::ErrorCodeName(common::Status::Code::kPermissionDenied)) {
      code = kExitPermission;  // plugins.ctl.allow_users/allow_groups
    }
    return Fail(code, args.command + " request: " + e->msg);
  }
  if (args.command == "status") return PrintStatus(*answer, args);
  if (args.command == "reload") return PrintReload(*answer);
  if (args.command == "role") return PrintRole(*answer);
  if (args.command == "warm") return PrintAction<wire::WarmTargetResponse>(*answer, args);
  return PrintAction<wire::DrainTargetResponse>(*answer, args);
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  CLI::App app{"proxygwctl: ask the proxygw engine for its status, to warm or drain a target, "
               "or to reload its config",
               "proxygwctl"};
  app.fallthrough();  // global options may also follow the command
  auto* config = app.add_option("--config", args.config,
                                std::string("The engine's config file, of which only "
                                            "plugins.ctl.socket and plugins.ctl.codec are read "
                                            "(default ") +
                                    config::kDefaultConfigPath + ", or " +
                                    config::kOriginalConfigPath + " when only that one exists)")
                     ->type_name("FILE");
  auto* socket = app.add_option("--socket", args.socket, "The control socket (instead of --config)")
                     ->type_name("PATH");
  config->excludes(socket);
  app.add_option("--codec", args.codec,
                 "The socket's codec, as plugins.ctl.codec (default: the config's, else json)")
      ->type_name("json|cbor");
  app.add_option("--output", args.output, "How to print the status (default json)")
      ->check(CLI::IsMember({"json", "table"}));
  app.add_option("--timeout", args.timeout,
                 "Give up when the engine has not answered within this long, connecting "
                 "included (default 5s)")
      ->type_name("DURATION");
  app.add_subcommand("status", "Print the engine's status");
  app.add_subcommand("warm", "Ask the engine to warm (start) a target")
      ->add_option("NAME", args.target, "The target")
      ->required();
  app.add_subcommand("drain", "Ask the engine to drain (stop) a target")
      ->add_option("NAME", args.target, "The target")
      ->required();
  app.add_subcommand("reload",
                     "Ask the engine to re-read its config file and apply what changed (as "
                     "SIGHUP does); prints the plan, or the errors that refused it");
  app.add_subcommand("role",
                     "Tell the engine its node's HA role (keepalived's notify hook does): "
                     "master decides warms and drains, backup and fault follow (docs/ha.md)")
      ->add_option("ROLE", args.role, "master, backup or fault")
      ->required()
      ->check(CLI::IsMember({"master", "backup", "fault"}));
  app.require_subcommand(1);
  app.footer(kExitCodesHelp);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    return Fail(kExitUsage, std::string(e.what()) + " (see --help)");
  }
  args.command = app.get_subcommands().front()->get_name();

  if (!args.codec.empty() && !wire::ParseCodec(args.codec)) {
    return Fail(kExitUsage, "--codec: expected json or cbor, got \"" + args.codec + "\"");
  }
  auto timeout = config::ParseGoDuration(args.timeout);
  if (!timeout.ok()) return Fail(kExitUsage, "--timeout: " + timeout.status().message());
  auto timeout_ms = std::chrono::ceil<std::chrono::milliseconds>(*timeout);
  if (timeout_ms.count() <= 0) {
    return Fail(kExitUsage, "--timeout: must be positive, got \"" + args.timeout + "\"");
  }

  auto options = Resolve(args);
  if (!options.ok()) return Fail(kExitError, options.status().message());
  options->timeout = timeout_ms;
  return Run(args, *options);
}
