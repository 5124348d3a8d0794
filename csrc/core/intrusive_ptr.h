// A minimal intrusive reference-counted pointer: one atomic count inside the object, no control block.
#pragma once
#include <atomic>
#include <utility>

namespace ember {

// T provides `std::atomic<int64_t> refcount_` and a static `void destroy(T*)`.
template <class T>
class intrusive_ptr {
 public:
  intrusive_ptr() = default;
  // Adopts an object whose count is already 1.
  static intrusive_ptr adopt(T* p) {
    intrusive_ptr r;
    r.p_ = p;
    return r;
  }
  intrusive_ptr(const intrusive_ptr& o) : p_(o.p_) { retain(); }
  intrusive_ptr(intrusive_ptr&& o) noexcept : p_(o.p_) { o.p_ = nullptr; }
  ~intrusive_ptr() { release(); }
  intrusive_ptr& operator=(const intrusive_ptr& o) {
    if (p_ != o.p_) {
      o.retain();
      release();
      p_ = o.p_;
    }
    return *this;
  }
  intrusive_ptr& operator=(intrusive_ptr&& o) noexcept {
    if (this != &o) {
      release();
      p_ = o.p_;
      o.p_ = nullptr;
    }
    return *this;
  }
  T* get() const { return p_; }
  T* operator->() const { return p_; }
  T& operator*() const { return *p_; }
  explicit operator bool() const { return p_ != nullptr; }
  int64_t use_count() const { return p_ ? p_->refcount_.load(std::memory_order_relaxed) : 0; }
  void reset() {
    release();
    p_ = nullptr;
  }

 private:
  void retain() const {
    if (p_) p_->refcount_.fetch_add(1, std::memory_order_relaxed);
  }
  void release() {
    if (p_ && p_->refcount_.fetch_sub(1, std::memory_order_acq_rel) == 1) T::destroy(p_);
  }
  T* p_ = nullptr;
};

}  // namespace ember
