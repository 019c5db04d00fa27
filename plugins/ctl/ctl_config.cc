#include "plugins/ctl/ctl_config.h"

#include <grp.h>
#include <pwd.h>

#include <cerrno>
#include <regex>

namespace ctl_plugin {
namespace {

std::string Quoted(const std::string& s) {
  return "\"" + (s.size() > 64 ? s.substr(0, 61) + "..." : s) + "\"";
}

void ReadSocket(const config::Fields& f, config::ErrorSink& errors, CtlConfig* c) {
  c->socket_path = f.PathOf("socket");
  c->socket_location = f.location();
  auto s = f.String(errors, "socket", /*required=*/true);
  if (!s) return;
  c->socket_location = config::LocationOf(f.Get("socket"));
  if (s->front() != '/') {
    errors.Add(c->socket_location, c->socket_path, "must be an absolute path, got " + Quoted(*s));
  } else if (s->size() > kMaxSocketPathBytes) {
    errors.Add(c->socket_location, c->socket_path,
               "socket path is " + std::to_string(s->size()) + " bytes; the limit is " +
                   std::to_string(kMaxSocketPathBytes));
  } else if (s->find_first_of(std::string("\n\0", 2)) != std::string::npos) {
    errors.Add(c->socket_location, c->socket_path, "path must not contain a newline or NUL");
  } else {
    c->socket = *s;
  }
}

void ReadCodec(const config::Fields& f, config::ErrorSink& errors, CtlConfig* c) {
  if (!f.Has("codec")) return;
  auto s = f.String(errors, "codec", /*required=*/false, /*allow_empty=*/true);
  if (!s) return;
  auto codec = ipc::ctl::ParseCodec(*s);
  if (!codec) {
    errors.Add(config::LocationOf(f.Get("codec")), f.PathOf("codec"),
               "invalid codec " + Quoted(*s) + ": expected \"json\" or \"cbor\"");
    return;
  }
  c->codec = *codec;
}

void ReadMode(const config::Fields& f, config::ErrorSink& errors, CtlConfig* c) {
  if (!f.Has("mode")) return;
  YAML::Node v = f.Get("mode");
  // An unquoted 0660 is an integer to YAML; its text is what was meant.
  const auto type = config::ResolveScalar(v);
  static const std::regex kOctal("0?[0-7]{3}");
  if ((type == config::ScalarType::kString || type == config::ScalarType::kInt) &&
      std::regex_match(v.Scalar(), kOctal)) {
    c->mode = static_cast<mode_t>(std::stoul(v.Scalar(), nullptr, 8));
    return;
  }
  errors.Add(v.IsNull() ? f.KeyLocation("mode") : config::LocationOf(v), f.PathOf("mode"),
             "expected an octal file mode such as \"0660\", got " + config::DescribeNode(v));
}

// A user or group: a name NSS knows, or a numeric id.
template <class Id>
void ReadIds(const config::Fields& f, config::ErrorSink& errors, std::string_view key,
             std::optional<Id> (*lookup)(const std::string&), const char* what,
             std::vector<Id>* out) {
  if (!f.Has(key)) return;
  YAML::Node list = f.Get(key);
  const std::string path = f.PathOf(key);
  if (!list.IsSequence()) {
    errors.Add(list.IsNull() ? f.KeyLocation(key) : config::LocationOf(list), path,
               std::string("expected a list of ") + what + " names or ids, got " +
                   config::DescribeNode(list));
    return;
  }
  static const std::regex kNumber("[0-9]{1,10}");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string at = path + "[" + std::to_string(i) + "]";
    const auto type = config::ResolveScalar(list[i]);
    if (type == config::ScalarType::kInt && std::regex_match(list[i].Scalar(), kNumber)) {
      unsigned long id = std::stoul(list[i].Scalar());
      if (id < 0xffffffffUL) {
        out->push_back(static_cast<Id>(id));
        continue;
      }
    }
    auto name = config::ReadString(errors, list[i], at, f.KeyLocation(key));
    if (!name) continue;
    if (auto id = lookup(*name)) {
      out->push_back(*id);
    } else {
      errors.Add(config::LocationOf(list[i]), at, std::string("no ") + what + " " + Quoted(*name));
    }
  }
}

std::optional<uid_t> UserId(const std::string& name) {
  errno = 0;
  const passwd* pw = ::getpwnam(name.c_str());
  return pw ? std::optional<uid_t>(pw->pw_uid) : std::nullopt;
}

std::optional<gid_t> GroupId(const std::string& name) {
  errno = 0;
  const group* gr = ::getgrnam(name.c_str());
  return gr ? std::optional<gid_t>(gr->gr_gid) : std::nullopt;
}

}  // namespace

std::optional<CtlConfig> ReadCtlConfig(const config::Options& options, config::ErrorSink& errors) {
  const std::size_t before = errors.count();
  auto f = config::Fields::Read(errors, options.node, options.path, options.location,
                                {"socket", "codec", "mode", "allow_users", "allow_groups"},
                                /*null_is_empty=*/true);
  if (!f) return std::nullopt;
  CtlConfig c;
  ReadSocket(*f, errors, &c);
  ReadCodec(*f, errors, &c);
  ReadMode(*f, errors, &c);
  ReadIds<uid_t>(*f, errors, "allow_users", UserId, "user", &c.allow_users);
  ReadIds<gid_t>(*f, errors, "allow_groups", GroupId, "group", &c.allow_groups);
  if (errors.count() != before) return std::nullopt;
  return c;
}

}  // namespace ctl_plugin
