// Exceptions thrown by the core (mapped to Python exceptions in bindings) and the check macros.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ember {

// std::invalid_argument -> ValueError, std::out_of_range -> IndexError, std::runtime_error -> RuntimeError.
struct TypeError : std::runtime_error { using std::runtime_error::runtime_error; };
struct OutOfMemoryError : std::runtime_error { using std::runtime_error::runtime_error; };
struct NotImplementedError : std::runtime_error { using std::runtime_error::runtime_error; };

namespace detail {
inline void str_into(std::ostringstream&) {}
template <class T, class... Rest>
void str_into(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << v;
  str_into(os, rest...);
}
}  // namespace detail

template <class... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  detail::str_into(os, args...);
  return os.str();
}

// "[2, 3]" for a shape
template <class Vec>
std::string shape_str(const Vec& v) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << ']';
  return os.str();
}

}  // namespace ember

// EMBER_CHECK(cond, ExceptionType, message parts...): the message is only built on failure.
#define EMBER_CHECK(cond, Exc, ...)                 \
  do {                                              \
    if (__builtin_expect(!(cond), 0)) {             \
      throw Exc(::ember::str(__VA_ARGS__));         \
    }                                               \
  } while (0)

#define EMBER_RUNTIME_CHECK(cond, ...) EMBER_CHECK(cond, std::runtime_error, __VA_ARGS__)
#define EMBER_VALUE_CHECK(cond, ...) EMBER_CHECK(cond, std::invalid_argument, __VA_ARGS__)
#define EMBER_INDEX_CHECK(cond, ...) EMBER_CHECK(cond, std::out_of_range, __VA_ARGS__)
#define EMBER_TYPE_CHECK(cond, ...) EMBER_CHECK(cond, ::ember::TypeError, __VA_ARGS__)

namespace ember {
struct ZeroDivisionError : std::runtime_error { using std::runtime_error::runtime_error; };
}  // namespace ember
