// The thread pool: one per process, sized by set_num_threads, recreated lazily in a forked child.
#pragma once
#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

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

// A sum over items [0, n) too large to keep one output per item: each thread takes a contiguous range and
// run(acc, begin, end) overwrites its own buffer acc (size elements) with that range's total; the buffers are
// then added into out (the first thread's buffer is out itself). Nested calls run on one thread.
template <class T, class F>
void parallel_partial_sums(int64_t n, int64_t size, T* out, const F& run) {
  const int nt = in_parallel_region() ? 1 : int(std::max<int64_t>(1, std::min<int64_t>(get_num_threads(), n)));
  const int64_t step = (n + nt - 1) / std::max(nt, 1);
  if (nt <= 1) {
    run(out, int64_t(0), n);
    return;
  }
  std::vector<std::vector<T>> partial(size_t(nt - 1), std::vector<T>(size_t(size)));
  parallel_for(0, nt, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      run(t == 0 ? out : partial[size_t(t - 1)].data(), std::min(n, t * step), std::min(n, (t + 1) * step));
  });
  for (const auto& p : partial)
    for (int64_t i = 0; i < size; ++i) out[i] += p[size_t(i)];
}

// Elements of cheap elementwise work below which threading costs more than it saves.
constexpr int64_t kGrainSize = 32768;

}  // namespace ember
