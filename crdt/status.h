// Status and StatusOr<T>: how every module boundary in Converge reports failure.
//
// The code says what the caller should do next (as in abseil's status.h):
//   kUnavailable          retry, possibly elsewhere or later
//   kDeadlineExceeded     the operation ran out of time; its outcome may be unknown
//   kFailedPrecondition   do not retry until the state changes (e.g. rights lacking)
//   kInvalidArgument      the request itself is wrong; retrying will not help
//   kNotFound             the thing asked for does not exist
//   kCorruption           bytes from disk or a peer are malformed
//   kPermissionDenied     authentication or authorization failed
//   kResourceExhausted    a size or count bound was hit
//   kInternal             a bug: an invariant of ours did not hold
//
// Status is cheap to copy when ok (no allocation). Thread-compatible.
#ifndef CONVERGE_CRDT_STATUS_H_
#define CONVERGE_CRDT_STATUS_H_

#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace converge {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kFailedPrecondition,
  kUnavailable,
  kDeadlineExceeded,
  kCorruption,
  kPermissionDenied,
  kResourceExhausted,
  kInternal,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "CODE: message", or "OK".
  std::string ToString() const;

  // Marks a status that is deliberately not checked; greppable on purpose.
  void IgnoreError() const {}

  bool operator==(const Status& other) const = default;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgumentError(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFoundError(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status FailedPreconditionError(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status UnavailableError(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status DeadlineExceededError(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
inline Status CorruptionError(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
inline Status PermissionDeniedError(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
inline Status ResourceExhaustedError(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status InternalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// A value or the Status saying why there is none.
// REQUIRES: value() only when ok(); a StatusOr is never built from an ok Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(const T& value) : rep_(value) {}                // NOLINT: implicit by design
  StatusOr(T&& value) : rep_(std::move(value)) {}          // NOLINT
  StatusOr(Status status) : rep_(std::move(status)) {      // NOLINT
    if (std::get<Status>(rep_).ok()) rep_ = Status(StatusCode::kInternal, "StatusOr built from OK");
  }

  bool ok() const { return std::holds_alternative<T>(rep_); }
  Status status() const { return ok() ? Status() : std::get<Status>(rep_); }

  const T& value() const& { return Checked(); }
  T& value() & { return Checked(); }
  T&& value() && { return std::move(Checked()); }
  const T& operator*() const& { return Checked(); }
  T& operator*() & { return Checked(); }
  const T* operator->() const { return &Checked(); }
  T* operator->() { return &Checked(); }

 private:
  T& Checked() {
    if (!ok()) std::abort();  // a caller bug: value() of an error
    return std::get<T>(rep_);
  }
  const T& Checked() const {
    if (!ok()) std::abort();
    return std::get<T>(rep_);
  }
  std::variant<Status, T> rep_;
};

}  // namespace converge

// Returns early with the status of `expr` when it is not ok.
#define CONVERGE_RETURN_IF_ERROR(expr)              \
  do {                                              \
    ::converge::Status _converge_st = (expr);       \
    if (!_converge_st.ok()) return _converge_st;    \
  } while (0)

#define CONVERGE_CONCAT_INNER(a, b) a##b
#define CONVERGE_CONCAT(a, b) CONVERGE_CONCAT_INNER(a, b)
// ASSIGN_OR_RETURN(lhs, StatusOr-expr): binds the value or returns the error.
#define CONVERGE_ASSIGN_OR_RETURN(lhs, expr) \
  CONVERGE_ASSIGN_OR_RETURN_IMPL(CONVERGE_CONCAT(_converge_or_, __LINE__), lhs, expr)
#define CONVERGE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return tmp.status();                  \
  lhs = std::move(tmp).value()

#endif  // CONVERGE_CRDT_STATUS_H_
