// Status and Result<T>: how expected failures travel in every proxygw process.
//
// A Status is ok, or a small code plus a message that names the object, what
// failed and (where it helps) what the user can change. Result<T> holds a T or
// a non-ok Status. Shaped after leveldb's Status; Result<T> becomes an alias for
// std::expected<T, Status> if we move to C++23. Library code returns these and
// does not log; the caller that decides what happens logs once.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace common {

class Status {
 public:
  enum class Code : unsigned char {
    kOk = 0,
    kInvalidArgument,  // the caller's input is wrong (config, request field)
    kNotFound,
    kAlreadyExists,
    kPermissionDenied,
    kUnavailable,      // a peer or resource is not there right now; retry may help
    kIoError,          // a system call failed
    kProtocolError,    // a peer broke the wire protocol
    kInternal,
  };

  Status() = default;  // ok

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return {Code::kInvalidArgument, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {Code::kAlreadyExists, std::move(msg)}; }
  static Status PermissionDenied(std::string msg) {
    return {Code::kPermissionDenied, std::move(msg)};
  }
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status IoError(std::string msg) { return {Code::kIoError, std::move(msg)}; }
  // An IoError whose message ends in ": <strerror(err)>".
  static Status FromErrno(std::string_view what, int err);
  static Status ProtocolError(std::string msg) { return {Code::kProtocolError, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // The errno behind a FromErrno status (kept through WithContext); else 0.
  int sys_errno() const { return errno_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsUnavailable() const { return code_ == Code::kUnavailable; }

  // "<context>: <message>", same code. Used to add the object a failure concerns.
  Status WithContext(std::string_view context) const;

  // The message, or "ok".
  std::string ToString() const { return ok() ? std::string("ok") : message_; }

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {
    assert(code != Code::kOk);
  }
  Code code_ = Code::kOk;
  std::string message_;
  int errno_ = 0;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  // The status: ok when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace common
