// hint_cxx: C++ names that need escaping in every report format carry the CPU time: a class template's
// operator<< and operator|, and a function template (its demangled name has a return type and <...>).
// Usage: hint_cxx      stdout is deterministic
#include <cinttypes>
#include <cstdint>
#include <cstdio>

#include "workload.h"

#define SHIFT_ITERATIONS 60000000ull /* most of the run: the top bottleneck */
#define PIPE_ITERATIONS 20000000ull
#define TEMPLATE_ITERATIONS 20000000ull

namespace demo
{

template <typename T> struct Acc {
	T v;

	__attribute__((noinline)) Acc &operator<<(uint64_t x)
	{
		v = static_cast<T>(dt_burn(v + x, SHIFT_ITERATIONS));
		return *this;
	}

	__attribute__((noinline)) Acc &operator|(uint64_t x)
	{
		v = static_cast<T>(dt_burn(v ^ x, PIPE_ITERATIONS));
		return *this;
	}
};

template <int N> __attribute__((noinline)) uint64_t spin_n(uint64_t x)
{
	return dt_burn(x + N, TEMPLATE_ITERATIONS);
}

} // namespace demo

int main()
{
	demo::Acc<uint64_t> a{1};

	a << 3;
	a | 5;
	uint64_t r = demo::spin_n<3>(a.v);
	std::printf("hint_cxx %" PRIu64 "\n", r & 1);
	return 0;
}
