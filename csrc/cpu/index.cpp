// Gather/scatter through index tensors, nonzero and masked_select.
#include <type_traits>

#include "core/dispatch.h"
#include "core/shape.h"
#include "cpu/kernels.h"

namespace ember {
namespace cpu {

namespace {

inline int64_t offset_of(char** d, const int64_t* s, int64_t i, int nidx, const int64_t* st, const int64_t* sz) {
  int64_t off = 0;
  for (int k = 0; k < nidx; ++k) {
    int64_t v = *reinterpret_cast<const int64_t*>(d[2 + k] + i * s[2 + k]);
    if (v < 0) v += sz[k];
    off += v * st[k];
  }
  return off;
}

// Visits elements in C order (no dim reordering), for order-dependent outputs.
template <class F>
void c_order_for_each(const Tensor& x, const F& f) {
  const int64_t nd = x.dim();
  const int64_t n = x.numel();
  if (n == 0) return;
  DimVector idx(size_t(std::max<int64_t>(nd, 1)), 0);
  const char* p = x.data_ptr();
  const int64_t isz = int64_t(x.itemsize());
  for (int64_t lin = 0; lin < n; ++lin) {
    f(p, idx);
    for (int64_t d = nd - 1; d >= 0; --d) {
      p += x.strides()[d] * isz;
      if (++idx[size_t(d)] < x.sizes()[d]) break;
      p -= x.sizes()[d] * x.strides()[d] * isz;
      idx[size_t(d)] = 0;
    }
  }
}

template <class T>
bool truthy(const char* p) {
  return opmath_t<T>(*reinterpret_cast<const T*>(p)) != opmath_t<T>(0);
}

}  // namespace

void index_gather(const TensorIter& it, int nidx, const int64_t* st, const int64_t* sz, size_t itemsize) {
  EMBER_DISPATCH_BY_SIZE(itemsize, "index", [&] {
    it.for_each([&](char** d, const int64_t* s, int64_t n) {
      for (int64_t i = 0; i < n; ++i) {
        int64_t off = offset_of(d, s, i, nidx, st, sz);
        *reinterpret_cast<scalar_t*>(d[0] + i * s[0]) = *reinterpret_cast<const scalar_t*>(d[1] + i * s[1] + off);
      }
    });
  });
}

void index_scatter(const TensorIter& it, int nidx, const int64_t* st, const int64_t* sz, ScalarType dtype,
                   bool accumulate) {
  if (!accumulate) {
    EMBER_DISPATCH_BY_SIZE(itemsize(dtype), "index_put", [&] {
      it.serial_for_each(
          [&](char** d, const int64_t* s, int64_t n) {
            for (int64_t i = 0; i < n; ++i) {
              int64_t off = offset_of(d, s, i, nidx, st, sz);
              *reinterpret_cast<scalar_t*>(d[0] + i * s[0] + off) = *reinterpret_cast<const scalar_t*>(d[1] + i * s[1]);
            }
          },
          0, it.numel);
    });
    return;
  }
  EMBER_DISPATCH_ALL(dtype, "index_put (accumulate)", [&] {
    it.serial_for_each(
        [&](char** d, const int64_t* s, int64_t n) {
          for (int64_t i = 0; i < n; ++i) {
            int64_t off = offset_of(d, s, i, nidx, st, sz);
            scalar_t& dst = *reinterpret_cast<scalar_t*>(d[0] + i * s[0] + off);
            scalar_t v = *reinterpret_cast<const scalar_t*>(d[1] + i * s[1]);
            if constexpr (std::is_same<scalar_t, bool>::value) dst = dst || v;
            else dst = scalar_t(opmath_t<scalar_t>(dst) + opmath_t<scalar_t>(v));
          }
        },
        0, it.numel);
  });
}

void int_min_max(const Tensor& idx, int64_t* lo, int64_t* hi) {
  int64_t mn = INT64_MAX, mx = INT64_MIN;
  TensorIter it = TensorIter::build({&idx}, idx.sizes());
  it.serial_for_each(
      [&](char** d, const int64_t* s, int64_t n) {
        for (int64_t i = 0; i < n; ++i) {
          int64_t v = *reinterpret_cast<const int64_t*>(d[0] + i * s[0]);
          mn = v < mn ? v : mn;
          mx = v > mx ? v : mx;
        }
      },
      0, it.numel);
  *lo = mn;
  *hi = mx;
}

int64_t count_nonzero(const Tensor& x) {
  int64_t count = 0;
  EMBER_DISPATCH_ALL(x.dtype(), "nonzero", [&] {
    TensorIter it = TensorIter::build({&x}, x.sizes());
    it.serial_for_each(
        [&](char** d, const int64_t* s, int64_t n) {
          for (int64_t i = 0; i < n; ++i) count += truthy<scalar_t>(d[0] + i * s[0]);
        },
        0, it.numel);
  });
  return count;
}

void nonzero(const Tensor& x, const Tensor& out) {
  int64_t* o = out.data<int64_t>();
  const int64_t nd = x.dim();
  EMBER_DISPATCH_ALL(x.dtype(), "nonzero", [&] {
    c_order_for_each(x, [&](const char* p, const DimVector& idx) {
      if (!truthy<scalar_t>(p)) return;
      for (int64_t d = 0; d < nd; ++d) *o++ = idx[size_t(d)];
    });
  });
}

void masked_select(const Tensor& x, const Tensor& mask, const Tensor& out) {
  const int64_t nd = x.dim();
  const int64_t isz = int64_t(x.itemsize());
  char* o = out.data_ptr();
  EMBER_DISPATCH_BY_SIZE(x.itemsize(), "masked_select", [&] {
    c_order_for_each(mask, [&](const char* p, const DimVector& idx) {
      if (!*reinterpret_cast<const bool*>(p)) return;
      const char* src = x.data_ptr();
      for (int64_t d = 0; d < nd; ++d) src += idx[size_t(d)] * x.strides()[d] * isz;
      *reinterpret_cast<scalar_t*>(o) = *reinterpret_cast<const scalar_t*>(src);
      o += isz;
    });
  });
}

}  // namespace cpu
}  // namespace ember
