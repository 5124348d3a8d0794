// A small fork-safe thread pool. The calling thread runs the first chunk itself. Between jobs the workers
// spin for a short while before they sleep on a condition variable: waking a sleeping thread costs tens of
// microseconds (far more on a virtual machine, whose idle vCPU must be rescheduled), and back-to-back
// parallel regions (a GEMM's packing and compute phases, consecutive ops of a training step) would pay it
// every time, or see the caller take every chunk itself before the worker is up.
#include "core/parallel.h"

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
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

constexpr auto kSpin = std::chrono::microseconds(200);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins until done() holds or kSpin has passed; true if done() held.
template <class F>
bool spin_until(const F& done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return done();
  }
}

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
  // current job (its fields are written under mu before generation is bumped)
  std::atomic<uint64_t> generation{0};
  detail::RangeFn fn = nullptr;
  void* ctx = nullptr;
  int64_t begin = 0, end = 0, chunk = 0;
  std::atomic<int64_t> nchunks{0};
  // (job generation << 32) | next chunk index. Claiming through one word means a worker that lags behind
  // (still holding a finished job's generation) can never take a chunk of the next job under the old count.
  std::atomic<uint64_t> claim{0};
  std::atomic<int> remaining{0};
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

  // Claims one chunk of job `gen`; false when that job has none left (or has been replaced).
  bool claim_chunk(uint64_t gen, int64_t* c) {
    uint64_t v = claim.load(std::memory_order_acquire);
    do {
      if ((v >> 32) != (gen & 0xffffffffu) || int64_t(v & 0xffffffffu) >= nchunks.load(std::memory_order_relaxed))
        return false;
    } while (!claim.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel));
    *c = int64_t(v & 0xffffffffu);
    return true;
  }

  void run_chunks(uint64_t gen) {
    t_in_parallel = true;
    int64_t c;
    while (claim_chunk(gen, &c)) {
      int64_t b = begin + c * chunk, e = std::min(end, b + chunk);
      try {
        fn(ctx, b, e);
      } catch (...) {
        std::lock_guard<std::mutex> g(mu);
        if (!error) error = std::current_exception();
      }
      if (remaining.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> g(mu);  // so a caller about to sleep cannot miss the notification
        done_cv.notify_all();
      }
    }
    t_in_parallel = false;
  }

  void loop() {
    uint64_t seen = 0;
    for (;;) {
      if (!spin_until([&] { return generation.load(std::memory_order_acquire) != seen; })) {
        std::unique_lock<std::mutex> lk(mu);
        work_cv.wait(lk, [&] { return stop || generation.load() != seen; });
      }
      {
        std::lock_guard<std::mutex> g(mu);
        if (stop) return;
        seen = generation.load();
      }
      run_chunks(seen);
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
      nchunks.store((n + chunk - 1) / chunk);
      remaining.store(int(nchunks.load()));
      error = nullptr;
      const uint64_t gen = generation.load() + 1;
      claim.store((gen & 0xffffffffu) << 32, std::memory_order_release);
      generation.store(gen, std::memory_order_release);
    }
    work_cv.notify_all();
    run_chunks(generation.load());
    std::unique_lock<std::mutex> lk(mu, std::defer_lock);
    if (!spin_until([&] { return remaining.load(std::memory_order_acquire) == 0; })) {
      lk.lock();
      done_cv.wait(lk, [&] { return remaining.load() == 0; });
    } else {
      lk.lock();
    }
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
  // each pool thread is an OS thread with its own stack: an absurd count would abort when the pool starts
  constexpr int kMaxThreads = 1024;
  EMBER_VALUE_CHECK(n <= kMaxThreads, "set_num_threads: ", n, " threads requested; at most ", kMaxThreads,
                    " are supported (this machine has ", std::thread::hardware_concurrency(), " hardware threads)");
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
