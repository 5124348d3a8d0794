// Shape and view ops. Views share storage with their input; reshape copies only when strides forbid a view.
#pragma once
#include <vector>

#include "core/tensor.h"

namespace ember {
namespace ops {

Tensor view(const Tensor& x, const DimVector& shape);
Tensor reshape(const Tensor& x, const DimVector& shape);
Tensor permute(const Tensor& x, const DimVector& dims);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor t(const Tensor& x);
Tensor expand(const Tensor& x, const DimVector& sizes);
Tensor squeeze(const Tensor& x);
Tensor squeeze_dim(const Tensor& x, int64_t dim);
Tensor squeeze_dims(const Tensor& x, const DimVector& dims);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor flatten(const Tensor& x, int64_t start, int64_t end);
Tensor unflatten(const Tensor& x, int64_t dim, const DimVector& sizes);
Tensor select(const Tensor& x, int64_t dim, int64_t index);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
// Python slice semantics along one dim (start/end clamped, step > 0).
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step);
Tensor as_strided(const Tensor& x, const DimVector& sizes, const DimVector& strides, int64_t offset);
Tensor diagonal(const Tensor& x, int64_t offset, int64_t d1, int64_t d2);
Tensor unfold(const Tensor& x, int64_t dim, int64_t size, int64_t step);
Tensor repeat(const Tensor& x, const DimVector& repeats);
Tensor flip(const Tensor& x, const DimVector& dims);
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim);
Tensor tril(const Tensor& x, int64_t diagonal, bool upper);  // upper=true gives triu

}  // namespace ops
}  // namespace ember
