// cxx_methods: the CPU goes into a method of a class in a namespace, demo::Matrix::multiply, so the
// profile must show a demangled C++ name (with its parameter list) and cxx_methods.cpp as its file.
//
// Usage: cxx_methods      stdout is deterministic
#include <cinttypes>
#include <cstdio>
#include <vector>

#include "lib/dtshared.h"

namespace demo
{

class Matrix
{
      public:
	explicit Matrix(unsigned n) : n_(n), v_(static_cast<size_t>(n) * n, 0.0)
	{
	}

	double &at(unsigned r, unsigned c)
	{
		return v_[static_cast<size_t>(r) * n_ + c];
	}

	double at(unsigned r, unsigned c) const
	{
		return v_[static_cast<size_t>(r) * n_ + c];
	}

	// Naive i-k-j multiplication; noinline so the samples land in this method and not in main.
	// The loops use raw pointers so that every hot instruction maps to this file, not to an inlined
	// std::vector accessor in a libstdc++ header.
	__attribute__((noinline)) Matrix multiply(const Matrix &o) const
	{
		Matrix out(n_);
		const double *a = v_.data(), *b = o.v_.data();
		double *c = out.v_.data();
		for (size_t i = 0; i < n_; i++)
			for (size_t k = 0; k < n_; k++) {
				double aik = a[i * n_ + k];
				for (size_t j = 0; j < n_; j++)
					c[i * n_ + j] += aik * b[k * n_ + j];
			}
		return out;
	}

	double trace() const
	{
		double t = 0;
		for (unsigned i = 0; i < n_; i++)
			t += at(i, i);
		return t;
	}

      private:
	unsigned n_;
	std::vector<double> v_;
};

} // namespace demo

int main()
{
	const unsigned n = 256;
	const int rounds = 150;
	demo::Matrix a(n), b(n);

	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; j < n; j++) {
			a.at(i, j) = static_cast<double>((i * 31 + j * 17) % 101) / 101.0;
			b.at(i, j) = static_cast<double>((i * 13 + j * 7) % 97) / 97.0;
		}
	double sum = 0;
	for (int r = 0; r < rounds; r++) {
		demo::Matrix c = a.multiply(b);
		sum += c.trace();
		b.at(static_cast<unsigned>(r) % n, 0) += 1.0; // keep every round's product different
	}
	std::printf("cxx_methods: %d products of %ux%u, trace sum %.6f\n", rounds, n, n, sum);
	return 0;
}
