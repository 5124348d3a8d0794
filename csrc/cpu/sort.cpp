// Row-wise stable sort and top-k. Each row is copied into (value, index) pairs, ordered, and written back;
// rows run in parallel.
#include <algorithm>
#include <vector>

#include "core/dispatch.h"
#include "cpu/kernels.h"

namespace ember {
namespace cpu {

namespace {

// Runs f(row_in, row_values, row_indices) for every row along dim, in parallel.
template <class F>
void for_each_row(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim, const F& f) {
  DimVector sizes = x.sizes();
  const int64_t len = sizes[dim];
  sizes[dim] = 1;
  DimVector vs = values.sizes();
  vs[dim] = 1;
  Tensor xb = x.as_view(sizes, x.strides(), x.offset());
  Tensor vb = values.as_view(vs, values.strides(), values.offset());
  Tensor ib = indices.as_view(vs, indices.strides(), indices.offset());
  TensorIter it = TensorIter::build({&vb, &ib, &xb}, sizes, 2);
  it.for_each(
      [&](char** d, const int64_t* s, int64_t n) {
        for (int64_t i = 0; i < n; ++i) f(d[2] + i * s[2], d[0] + i * s[0], d[1] + i * s[1]);
      },
      std::max<int64_t>(1, 8192 / std::max<int64_t>(len, 1)));
}

template <class A>
struct Less {  // ascending with NaN last
  bool operator()(const std::pair<A, int64_t>& a, const std::pair<A, int64_t>& b) const {
    bool an = a.first != a.first, bn = b.first != b.first;
    if (an || bn) return !an && bn;
    return a.first < b.first;
  }
};
template <class A>
struct Greater {  // descending with NaN first
  bool operator()(const std::pair<A, int64_t>& a, const std::pair<A, int64_t>& b) const {
    bool an = a.first != a.first, bn = b.first != b.first;
    if (an || bn) return an && !bn;
    return a.first > b.first;
  }
};

}  // namespace

void sort(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim, bool descending) {
  const int64_t len = x.sizes()[dim];
  const int64_t xs = x.strides()[dim] * int64_t(x.itemsize());
  const int64_t vs = values.strides()[dim] * int64_t(values.itemsize());
  const int64_t is = indices.strides()[dim] * 8;
  EMBER_DISPATCH_ALL(x.dtype(), "sort", [&] {
    using A = opmath_t<scalar_t>;
    for_each_row(values, indices, x, dim, [&](const char* in, char* vout, char* iout) {
      std::vector<std::pair<A, int64_t>> row(static_cast<size_t>(len));
      for (int64_t j = 0; j < len; ++j) row[size_t(j)] = {A(*reinterpret_cast<const scalar_t*>(in + j * xs)), j};
      if (descending) std::stable_sort(row.begin(), row.end(), Greater<A>());
      else std::stable_sort(row.begin(), row.end(), Less<A>());
      for (int64_t j = 0; j < len; ++j) {
        *reinterpret_cast<scalar_t*>(vout + j * vs) = scalar_t(row[size_t(j)].first);
        *reinterpret_cast<int64_t*>(iout + j * is) = row[size_t(j)].second;
      }
    });
  });
}

void topk(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t k, int64_t dim, bool largest) {
  const int64_t len = x.sizes()[dim];
  const int64_t xs = x.strides()[dim] * int64_t(x.itemsize());
  const int64_t vs = values.strides()[dim] * int64_t(values.itemsize());
  const int64_t is = indices.strides()[dim] * 8;
  EMBER_DISPATCH_ALL(x.dtype(), "topk", [&] {
    using A = opmath_t<scalar_t>;
    for_each_row(values, indices, x, dim, [&](const char* in, char* vout, char* iout) {
      std::vector<std::pair<A, int64_t>> row(static_cast<size_t>(len));
      for (int64_t j = 0; j < len; ++j) row[size_t(j)] = {A(*reinterpret_cast<const scalar_t*>(in + j * xs)), j};
      if (largest) std::partial_sort(row.begin(), row.begin() + k, row.end(), Greater<A>());
      else std::partial_sort(row.begin(), row.begin() + k, row.end(), Less<A>());
      for (int64_t j = 0; j < k; ++j) {
        *reinterpret_cast<scalar_t*>(vout + j * vs) = scalar_t(row[size_t(j)].first);
        *reinterpret_cast<int64_t*>(iout + j * is) = row[size_t(j)].second;
      }
    });
  });
}

}  // namespace cpu
}  // namespace ember
