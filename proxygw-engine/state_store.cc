#include "proxygw-engine/state_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "proxygw-engine/config/root_file.h"

namespace engine {

using common::Status;

Status StateStore::Open() {
  if (dir_.empty()) return Status::Ok();
  if (mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::FromErrno("create state directory " + dir_, errno);
  }
  struct stat st{};
  if (stat(dir_.c_str(), &st) != 0) return Status::FromErrno("state directory " + dir_, errno);
  if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(dir_ + " is not a directory");
  if (access(dir_.c_str(), W_OK | X_OK) != 0) {
    return Status::FromErrno("state directory " + dir_ + " is not writable", errno);
  }
  return Status::Ok();
}

std::string StateStore::File(const std::string& name) const {
  return dir_ + "/target-" + name + ".json";
}

std::string StateStore::PathFor(const std::string& name, const std::string& suffix) const {
  return dir_ + "/target-" + name + "." + suffix;
}

nlohmann::json StateStore::Get(const std::string& name) const {
  if (dir_.empty()) return nlohmann::json::object();
  std::ifstream in(File(name));
  if (!in) return nlohmann::json::object();
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return nlohmann::json::object();
  return j;
}

Status StateStore::Put(const std::string& name, const nlohmann::json& record) {
  if (dir_.empty()) return Status::Ok();
  // No fsync: a record matters to an engine that restarts while the host
  // runs (the page cache has it); after a power loss no backend survives to
  // adopt, and an empty record reads as none. An fsync per state change made
  // starting 10,000 targets take a minute on a virtio disk.
  return config::WriteFileAtomically(File(name), record.dump(), 0600, /*durable=*/false);
}

Status StateStore::Set(const std::string& name, const std::string& key, nlohmann::json value) {
  nlohmann::json j = Get(name);
  j[key] = std::move(value);
  return Put(name, j);
}

}  // namespace engine
