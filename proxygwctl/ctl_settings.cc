#include "proxygwctl/ctl_settings.h"

#include <cerrno>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "proxygw-engine/config/loader.h"

namespace proxygwctl {
namespace {

using common::Result;
using common::Status;

Result<std::string> ReadFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FromErrno(what, errno);
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > config::kMaxConfigBytes) {
      return Status::InvalidArgument(what + " is larger than " +
                                     std::to_string(config::kMaxConfigBytes) + " bytes");
    }
  }
  if (in.bad()) return Status::FromErrno(what, errno);
  return text;
}

std::string Line(const YAML::Node& n) { return std::to_string(n.Mark().line + 1); }

// The plugins.ctl settings of a parsed document. yaml-cpp only throws on
// misuse; the caller catches that too.
Result<CtlSettings> FromDocument(const YAML::Node& root, const std::string& what) {
  const std::string no_ctl = what + " does not define plugins.ctl";
  // Looking up a missing key gives an invalid node: test IsDefined() first.
  if (!root.IsDefined() || !root.IsMap()) return Status::InvalidArgument(no_ctl);
  const YAML::Node plugins = root["plugins"];
  if (!plugins.IsDefined() || !plugins.IsMap()) return Status::InvalidArgument(no_ctl);
  const YAML::Node ctl = plugins["ctl"];
  if (!ctl.IsDefined()) return Status::InvalidArgument(no_ctl);
  if (!ctl.IsMap()) {
    if (ctl.IsNull()) return Status::InvalidArgument(what + " is missing plugins.ctl.socket");
    return Status::InvalidArgument(what + ", line " + Line(ctl) +
                                   ": plugins.ctl must be a mapping");
  }
  CtlSettings s;
  const YAML::Node socket = ctl["socket"];
  if (!socket.IsDefined() || socket.IsNull()) {
    return Status::InvalidArgument(what + " is missing plugins.ctl.socket");
  }
  if (!socket.IsScalar() || socket.Scalar().empty() || socket.Scalar().front() != '/') {
    return Status::InvalidArgument(what + ", line " + Line(socket) +
                                   ": plugins.ctl.socket must be an absolute path, got " +
                                   (socket.IsScalar() ? "\"" + socket.Scalar() + "\"" : "no text"));
  }
  s.socket = socket.Scalar();
  const YAML::Node codec = ctl["codec"];
  if (codec.IsDefined() && !codec.IsNull()) {
    std::optional<ipc::ctl::Codec> c;
    if (codec.IsScalar()) c = ipc::ctl::ParseCodec(codec.Scalar());
    if (!c) {
      return Status::InvalidArgument(what + " has invalid plugins.ctl.codec \"" +
                                     (codec.IsScalar() ? codec.Scalar() : std::string("?")) +
                                     "\"");
    }
    s.codec = *c;
  }
  return s;
}

}  // namespace

Result<CtlSettings> ReadCtlSettings(const std::string& path) {
  const std::string what = "config \"" + path + "\"";
  Result<std::string> text = ReadFile(path, what);
  if (!text.ok()) return text.status();
  try {
    return FromDocument(YAML::Load(*text), what);
  } catch (const YAML::ParserException& e) {
    return Status::InvalidArgument(what + ": invalid YAML at line " +
                                   std::to_string(e.mark.line + 1) + ", column " +
                                   std::to_string(e.mark.column + 1) + ": " + e.msg);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(what + ": " + e.msg);
  }
}

}  // namespace proxygwctl
