// Reduction entry points. `dims` empty means "all dims" (PyTorch's dim=None).
#pragma once
#include <optional>
#include <tuple>

#include "core/tensor.h"

namespace ember {
namespace ops {

Tensor sum(const Tensor& x, const DimVector& dims, bool keepdim, std::optional<ScalarType> dtype = std::nullopt);
Tensor nansum(const Tensor& x, const DimVector& dims, bool keepdim);
Tensor mean(const Tensor& x, const DimVector& dims, bool keepdim, std::optional<ScalarType> dtype = std::nullopt);
Tensor prod(const Tensor& x, const DimVector& dims, bool keepdim, std::optional<ScalarType> dtype = std::nullopt);
Tensor amax(const Tensor& x, const DimVector& dims, bool keepdim);
Tensor amin(const Tensor& x, const DimVector& dims, bool keepdim);
Tensor all(const Tensor& x, const DimVector& dims, bool keepdim);
Tensor any(const Tensor& x, const DimVector& dims, bool keepdim);
// values and int64 indices along one dim (torch.max(x, dim))
std::tuple<Tensor, Tensor> max_dim(const Tensor& x, int64_t dim, bool keepdim);
std::tuple<Tensor, Tensor> min_dim(const Tensor& x, int64_t dim, bool keepdim);
// dim < 0 with has_dim=false flattens
Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim);
Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim);
Tensor var(const Tensor& x, const DimVector& dims, double correction, bool keepdim);
Tensor std(const Tensor& x, const DimVector& dims, double correction, bool keepdim);
std::tuple<Tensor, Tensor> var_mean(const Tensor& x, const DimVector& dims, double correction, bool keepdim);
Tensor norm(const Tensor& x, double p, const DimVector& dims, bool keepdim);
Tensor logsumexp(const Tensor& x, const DimVector& dims, bool keepdim);
Tensor cumsum(const Tensor& x, int64_t dim, std::optional<ScalarType> dtype = std::nullopt);
Tensor cumprod(const Tensor& x, int64_t dim, std::optional<ScalarType> dtype = std::nullopt);
// Sums x down to `shape` (the reverse of broadcasting): what every broadcasting op's backward needs.
Tensor sum_to(const Tensor& x, const DimVector& shape);
// Number of elements a reduction over dims combines.
int64_t reduced_count(const Tensor& x, const DimVector& dims);

}  // namespace ops
}  // namespace ember
