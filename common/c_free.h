// CFree: the deleter that turns a C library's free function into an owning
// std::unique_ptr (`std::unique_ptr<T, CFree<t_free>>`). Header-only, no
// library of its own: netd's handles (common/c_handles.h) and the engine's
// sd-bus handles use it alike.
#pragma once

namespace common {

template <auto Free>
struct CFree {
  template <class T>
  void operator()(T* p) const noexcept {
    if (p) Free(p);
  }
};

}  // namespace common
