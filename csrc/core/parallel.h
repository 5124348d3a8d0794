// The thread pool: one per process, sized by set_num_threads, recreated lazily in a forked child.
#pragma once
#include <cstdint>
#include <utility>

namespace ember {

int get_num_threads();
void set_num_threads(int n);
bool in_parallel_region();

namespace detail {
using RangeFn = void (*)(void* ctx, int64_t begin, int64_t end);
void parallel_run(int64_t begin, int64_t end, int64_t grain, RangeFn fn, void* ctx);
}  // namespace detail

// Splits [begin, end) into at most get_num_threads() contiguous chunks of at least `grain` items and runs
// f(chunk_begin, chunk_end) on the pool; small ranges and nested calls run inline on the caller's thread.
// Exceptions thrown by f are rethrown here.
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
  if (end <= begin) return;
  if (end - begin <= grain || in_parallel_region() || get_num_threads() == 1) {
    f(begin, end);
    return;
  }
  detail::parallel_run(
      begin, end, grain, [](void* ctx, int64_t b, int64_t e) { (*static_cast<const F*>(ctx))(b, e); },
      const_cast<F*>(&f));
}

// Elements of cheap elementwise work below which threading costs more than it saves.
constexpr int64_t kGrainSize = 32768;

}  // namespace ember
