// Closing the libuv handles an object owns. libuv frees nothing itself but may still touch a
// handle until its close callback has run, so an object that owns handles counts them and may
// go (or report itself stopped) only when the last callback has run. This is that count, in
// one place instead of one lambda per owner.
#pragma once

#include <uv.h>

namespace policyd {
namespace detail {
template <typename T>
struct MemberClass;
template <typename C, typename M>
struct MemberClass<M C::*> {
  using type = C;
};
}  // namespace detail

// Closes `handle`, whose data points to its owner: each close callback decrements the owner's
// `*Count`, and the one that brings it to 0 calls `(owner->*OnLast)()`, which may delete the
// owner. Use as CloseCounted<&Owner::open_handles_, &Owner::OnHandlesClosed>(&timer_).
template <auto Count, auto OnLast>
void CloseCounted(uv_handle_t* handle) {
  using Owner = typename detail::MemberClass<decltype(Count)>::type;
  uv_close(handle, [](uv_handle_t* h) {
    auto* owner = static_cast<Owner*>(h->data);
    if (--(owner->*Count) == 0) (owner->*OnLast)();
  });
}

template <auto Count, auto OnLast, typename Handle>
void CloseCounted(Handle* handle) {
  CloseCounted<Count, OnLast>(reinterpret_cast<uv_handle_t*>(handle));
}

}  // namespace policyd
