// Shape arithmetic shared by every op: dim wrapping, contiguous strides, broadcasting, view strides.
#pragma once
#include <cstdint>
#include <optional>

#include "core/small_vector.h"

namespace ember {

// Wraps a possibly negative dim into [0, ndim). A 0-d tensor accepts dims -1 and 0 (like PyTorch).
int64_t wrap_dim(int64_t dim, int64_t ndim);
DimVector contiguous_strides(const DimVector& sizes);
// Product of sizes with overflow and negative-size checks; `what` names the caller in errors.
int64_t checked_numel(const DimVector& sizes);
// Broadcast two shapes; RuntimeError naming both sizes at the first mismatching dim.
DimVector broadcast_shapes(const DimVector& a, const DimVector& b);
// Resolves a single -1 in a view/reshape request against numel.
DimVector infer_size(const DimVector& shape, int64_t numel);
// Strides for viewing (sizes, strides) as new_sizes without a copy, or nullopt when impossible.
std::optional<DimVector> view_strides(const DimVector& sizes, const DimVector& strides, const DimVector& new_sizes);

}  // namespace ember
