// Boxed<T>: an optional T whose value lives on the heap.
//
// It has the parts of std::optional's interface that Object uses, with the
// same value semantics (a copy copies the value, == compares values) and the
// same Cereal encoding, so bytes written with std::optional<T> read back as
// Boxed<T> and the other way round. What differs is the size: one pointer
// whatever T is. An Object has a slot for each of four types and almost
// always uses one; held inline, the empty slots made every Object 504 bytes,
// a node's object cache of 100k keys ~60 MB of mostly empty slots.
//
// Thread-compatible.
#ifndef CONVERGE_CRDT_INTERNAL_BOXED_H_
#define CONVERGE_CRDT_INTERNAL_BOXED_H_

#include <memory>
#include <utility>

namespace converge {

template <class T>
class Boxed {
 public:
  Boxed() = default;
  Boxed(const Boxed& other) : p_(other.p_ ? std::make_unique<T>(*other.p_) : nullptr) {}
  Boxed(Boxed&&) noexcept = default;
  Boxed& operator=(const Boxed& other) {
    if (this == &other) return *this;
    if (!other.p_) {
      p_.reset();
    } else if (p_) {
      *p_ = *other.p_;
    } else {
      p_ = std::make_unique<T>(*other.p_);
    }
    return *this;
  }
  Boxed& operator=(Boxed&&) noexcept = default;
  ~Boxed() = default;

  bool has_value() const { return p_ != nullptr; }
  explicit operator bool() const { return has_value(); }

  // REQUIRES: has_value().
  T& operator*() { return *p_; }
  const T& operator*() const { return *p_; }
  T* operator->() { return p_.get(); }
  const T* operator->() const { return p_.get(); }

  // Replaces any value with a value-initialized T.
  T& emplace() {
    p_ = std::make_unique<T>();
    return *p_;
  }
  void reset() { p_.reset(); }

  friend bool operator==(const Boxed& a, const Boxed& b) {
    if (!a.p_ || !b.p_) return !a.p_ && !b.p_;
    return *a.p_ == *b.p_;
  }

  // std::optional's Cereal encoding (cereal/types/optional.hpp): a bool
  // "nullopt", then the value when there is one.
  template <class Archive>
  void save(Archive& ar) const {
    const bool nullopt = !p_;
    ar(nullopt);
    if (p_) ar(*p_);
  }
  template <class Archive>
  void load(Archive& ar) {
    bool nullopt = true;
    ar(nullopt);
    if (nullopt) {
      p_.reset();
    } else {
      ar(emplace());
    }
  }

 private:
  std::unique_ptr<T> p_;
};

}  // namespace converge

#endif  // CONVERGE_CRDT_INTERNAL_BOXED_H_
