// Helpers shared by the op entry points: type promotion, dtype conversion, output allocation, checks.
#pragma once
#include <initializer_list>

#include "core/tensor.h"

namespace ember {
namespace ops {

// PyTorch's result_type: dimensioned tensors outrank 0-d tensors, which outrank wrapped Python numbers,
// unless a lower-priority operand is of a higher category (bool < integer < floating).
ScalarType result_type(std::initializer_list<const Tensor*> operands);
// A copy converted to dtype, or x itself when it already has it.
Tensor to_dtype(const Tensor& x, ScalarType dtype);
// Contiguous copy (x itself when already contiguous).
Tensor contiguous(const Tensor& x);
// New tensor of `shape` and dtype; keeps `like`'s dense layout when like has exactly that shape.
Tensor alloc_like_layout(const DimVector& shape, ScalarType dtype, const Tensor& like);
// In-place writes into a tensor whose elements share memory (expanded views) are refused, like PyTorch.
void check_writable(const Tensor& self, const char* op);
void check_same_device(const Tensor& a, const Tensor& b, const char* op);
// All defined operands on one device (kernels that take tensors directly: conv, norms, losses, pools).
void check_devices(std::initializer_list<const Tensor*> operands, const char* op);
// The device an op on these operands runs on. 0-d CPU tensors (and wrapped Python numbers) may join an op on
// another device, as in PyTorch; any other mix raises, naming both devices.
Device common_device(std::initializer_list<const Tensor*> operands, const char* op);
// t itself, or a copy on `device` (a 0-d CPU operand joining an op on another device).
Tensor on_device(const Tensor& t, Device device);
// x on `device` (x itself when already there): a contiguous copy moved by the non-CPU side's copy_bytes.
Tensor to_device(const Tensor& x, Device device);
// A 0-d tensor holding v in dtype.
Tensor scalar_tensor(double v, ScalarType dtype);
Tensor scalar_tensor_int(int64_t v, ScalarType dtype);
// The value of a one-element tensor on any device, as double / int64 (read on the host).
double item_double(const Tensor& t);
int64_t item_int(const Tensor& t);

}  // namespace ops
}  // namespace ember
