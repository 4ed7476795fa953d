// Error values for expected failures (bad input, bad config, Redis errors, timeouts).
// Programmer errors assert instead. Exceptions never cross a C callback: code that calls a
// throwing library (toml++) catches inside and returns an Error.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace policyd {

// kConflict: the request contradicts what is stored (an admin API 409, policyctl exit 1).
enum class ErrorCode {
  kInvalid, kTooLarge, kNotFound, kConflict, kUnavailable, kTimeout, kInternal
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;  // says what to fix: file:line: key: problem
};

inline Error Invalid(std::string message) { return {ErrorCode::kInvalid, std::move(message)}; }

// Result<T> holds a T or an Error. operator bool is true for a value.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}        // NOLINT
  explicit operator bool() const { return v_.index() == 0; }
  bool ok() const { return v_.index() == 0; }
  T& value() { assert(ok()); return std::get<0>(v_); }
  const T& value() const { assert(ok()); return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Status is a Result without a value.
struct Ok {};
using Status = Result<Ok>;

}  // namespace policyd
