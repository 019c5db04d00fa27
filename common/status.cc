#include "common/status.h"

#include <cstring>

namespace common {

Status Status::FromErrno(std::string_view what, int err) {
  std::string msg(what);
  msg += ": ";
  msg += std::strerror(err);
  Status st(Code::kIoError, std::move(msg));
  st.errno_ = err;
  return st;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += message_;
  Status st(code_, std::move(msg));
  st.errno_ = errno_;
  return st;
}

}  // namespace common
