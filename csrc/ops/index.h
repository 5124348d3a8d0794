// Indexing ops: index_select, gather/scatter, advanced indexing (index / index_put_), masks, nonzero.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ember {
namespace ops {

using OptTensorList = std::vector<std::optional<Tensor>>;

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// reduce: "" (plain scatter) or "add"
void scatter_(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src, bool accumulate);
void index_add_(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src, double alpha);
void index_fill_(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& value);
// Advanced indexing: indices[k] indexes dim k (nullopt = whole dim). Bool/uint8 masks consume as many dims
// as they have.
Tensor index(const Tensor& x, const OptTensorList& indices);
void index_put_(const Tensor& self, const OptTensorList& indices, const Tensor& values, bool accumulate);
void masked_fill_(const Tensor& self, const Tensor& mask, const Tensor& value);
Tensor masked_select(const Tensor& x, const Tensor& mask);
Tensor nonzero(const Tensor& x);
Tensor take(const Tensor& x, const Tensor& index);

}  // namespace ops
}  // namespace ember
