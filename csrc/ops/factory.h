// Tensor factories, random sampling, sorting.
#pragma once
#include <memory>
#include <tuple>

#include "core/generator.h"
#include "core/tensor.h"

namespace ember {
namespace ops {

Tensor full(const DimVector& shape, const Tensor& value, ScalarType dtype);  // value: a 0-d tensor
Tensor arange(double start, double end, double step, ScalarType dtype);
Tensor linspace(double start, double end, int64_t steps, ScalarType dtype);
Tensor eye(int64_t n, int64_t m, ScalarType dtype);

// In-place random fills (the Generator may be null: the default one is used).
void uniform_(const Tensor& self, double from, double to, Generator* gen);
void normal_(const Tensor& self, double mean, double std, Generator* gen);
void random_int_(const Tensor& self, int64_t low, int64_t high, Generator* gen);
void bernoulli_scalar_(const Tensor& self, double p, Generator* gen);
void exponential_(const Tensor& self, double rate, Generator* gen);
Tensor bernoulli(const Tensor& p, Generator* gen);
Tensor randperm(int64_t n, ScalarType dtype, Generator* gen);
Tensor multinomial(const Tensor& probs, int64_t num_samples, bool replacement, Generator* gen);

std::tuple<Tensor, Tensor> sort(const Tensor& x, int64_t dim, bool descending);
std::tuple<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest, bool sorted);

}  // namespace ops
}  // namespace ember
