// Copy with dtype conversion (any of the 8 dtypes to any other) and fill.
#include <cstring>
#include <type_traits>

#include "core/dispatch.h"
#include "cpu/kernels.h"

namespace ember {
namespace cpu {

namespace {

template <class To, class From>
inline To convert(From x) {
  if constexpr (std::is_same<To, From>::value) {
    return x;
  } else if constexpr (std::is_same<To, bool>::value) {
    return opmath_t<From>(x) != opmath_t<From>(0);
  } else if constexpr (std::is_integral<To>::value && !std::is_integral<From>::value) {
    return To(int64_t(opmath_t<From>(x)));  // through int64 so negative floats wrap like PyTorch's uint8 casts
  } else {
    return To(opmath_t<From>(x));
  }
}

template <class To, class From>
void copy_loop(char** d, const int64_t* s, int64_t n) {
  if (s[0] == int64_t(sizeof(To)) && s[1] == int64_t(sizeof(From))) {
    To* o = reinterpret_cast<To*>(d[0]);
    const From* a = reinterpret_cast<const From*>(d[1]);
    if constexpr (std::is_same<To, From>::value) {
      std::memcpy(o, a, size_t(n) * sizeof(To));
    } else {
      for (int64_t i = 0; i < n; ++i) o[i] = convert<To>(a[i]);
    }
  } else if (s[1] == 0) {
    To v = convert<To>(*reinterpret_cast<const From*>(d[1]));
    for (int64_t i = 0; i < n; ++i) *reinterpret_cast<To*>(d[0] + i * s[0]) = v;
  } else {
    for (int64_t i = 0; i < n; ++i)
      *reinterpret_cast<To*>(d[0] + i * s[0]) = convert<To>(*reinterpret_cast<const From*>(d[1] + i * s[1]));
  }
}

}  // namespace

void copy(const TensorIter& it, ScalarType dst, ScalarType src) {
  if (dst == src) {
    // Same dtype: move bytes, one instantiation per element size.
    EMBER_DISPATCH_BY_SIZE(itemsize(dst), "copy", [&] { it.for_each(copy_loop<scalar_t, scalar_t>); });
    return;
  }
  EMBER_DISPATCH_ALL(dst, "copy", [&] {
    using To = scalar_t;
    EMBER_DISPATCH_ALL(src, "copy", [&] { it.for_each(copy_loop<To, scalar_t>); });
  });
}

void fill(const Tensor& t, double vf, int64_t vi, bool integral_value) {
  if (t.numel() == 0) return;
  EMBER_DISPATCH_ALL(t.dtype(), "fill", [&] {
    scalar_t v = integral_value ? convert<scalar_t>(vi) : convert<scalar_t>(vf);
    TensorIter it = TensorIter::build({&t}, t.sizes());
    it.for_each([v](char** d, const int64_t* s, int64_t n) {
      if (s[0] == int64_t(sizeof(scalar_t))) {
        scalar_t* o = reinterpret_cast<scalar_t*>(d[0]);
        for (int64_t i = 0; i < n; ++i) o[i] = v;
      } else {
        for (int64_t i = 0; i < n; ++i) *reinterpret_cast<scalar_t*>(d[0] + i * s[0]) = v;
      }
    });
  });
}

}  // namespace cpu
}  // namespace ember
