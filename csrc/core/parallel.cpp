// A small fork-safe thread pool. Workers sleep on a condition variable between jobs; the calling thread
// runs the first chunk itself, so one job costs one wake-up per extra thread.
#include "core/parallel.h"

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/error.h"

namespace ember {

namespace {

thread_local bool t_in_parallel = false;

int default_num_threads() {
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n ? int(n) : 1;
}

struct Pool {
  std::mutex mu;
  std::condition_variable work_cv, done_cv;
  std::vector<std::thread> workers;
  // current job
  uint64_t generation = 0;
  detail::RangeFn fn = nullptr;
  void* ctx = nullptr;
  int64_t begin = 0, end = 0, chunk = 0;
  int nchunks = 0;
  std::atomic<int> next_chunk{0};
  int remaining = 0;
  std::exception_ptr error;
  bool stop = false;

  explicit Pool(int nworkers) {
    for (int i = 0; i < nworkers; ++i) workers.emplace_back([this] { loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> g(mu);
      stop = true;
    }
    work_cv.notify_all();
    for (auto& t : workers) t.join();
  }

  void run_chunks() {
    t_in_parallel = true;
    for (;;) {
      int c = next_chunk.fetch_add(1);
      if (c >= nchunks) break;
      int64_t b = begin + c * chunk, e = std::min(end, b + chunk);
      try {
        fn(ctx, b, e);
      } catch (...) {
        std::lock_guard<std::mutex> g(mu);
        if (!error) error = std::current_exception();
      }
      std::lock_guard<std::mutex> g(mu);
      if (--remaining == 0) done_cv.notify_all();
    }
    t_in_parallel = false;
  }

  void loop() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(mu);
        work_cv.wait(lk, [&] { return stop || generation != seen; });
        if (stop) return;
        seen = generation;
      }
      run_chunks();
    }
  }

  void run(int64_t b, int64_t e, int64_t grain, detail::RangeFn f, void* c, int nthreads) {
    int64_t n = e - b;
    int64_t max_chunks = (n + grain - 1) / grain;
    int chunks = int(std::min<int64_t>(nthreads, max_chunks));
    {
      std::lock_guard<std::mutex> g(mu);
      fn = f;
      ctx = c;
      begin = b;
      end = e;
      chunk = (n + chunks - 1) / chunks;
      nchunks = int((n + chunk - 1) / chunk);
      remaining = nchunks;
      next_chunk.store(0);
      error = nullptr;
      ++generation;
    }
    work_cv.notify_all();
    run_chunks();
    std::unique_lock<std::mutex> lk(mu);
    done_cv.wait(lk, [&] { return remaining == 0; });
    if (error) {
      auto err = error;
      error = nullptr;
      std::rethrow_exception(err);
    }
  }
};

std::atomic<int> g_num_threads{0};
Pool* g_pool = nullptr;  // owned; deliberately leaked in a forked child (its threads do not exist there)
std::mutex g_pool_mu;    // serialises jobs: one parallel region at a time per process

void after_fork_child() {
  g_pool = nullptr;
  new (&g_pool_mu) std::mutex();
}

struct ForkHandlerInstaller {
  ForkHandlerInstaller() { pthread_atfork(nullptr, nullptr, after_fork_child); }
} g_fork_installer;

}  // namespace

int get_num_threads() {
  int n = g_num_threads.load(std::memory_order_relaxed);
  if (n == 0) {
    n = default_num_threads();
    g_num_threads.store(n);
  }
  return n;
}

void set_num_threads(int n) {
  EMBER_VALUE_CHECK(n > 0, "set_num_threads expects a positive integer, got ", n);
  std::lock_guard<std::mutex> g(g_pool_mu);
  if (n != g_num_threads.load()) {
    delete g_pool;
    g_pool = nullptr;
    g_num_threads.store(n);
  }
}

bool in_parallel_region() { return t_in_parallel; }

namespace detail {
void parallel_run(int64_t begin, int64_t end, int64_t grain, RangeFn fn, void* ctx) {
  std::unique_lock<std::mutex> lk(g_pool_mu, std::try_to_lock);
  if (!lk.owns_lock()) {  // another thread is using the pool: run inline rather than queue
    fn(ctx, begin, end);
    return;
  }
  int n = get_num_threads();
  if (!g_pool) g_pool = new Pool(n - 1);
  g_pool->run(begin, end, std::max<int64_t>(grain, 1), fn, ctx, n);
}
}  // namespace detail

}  // namespace ember
