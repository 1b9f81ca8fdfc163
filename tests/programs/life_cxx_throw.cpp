// An uncaught C++ exception: std::terminate prints its line and aborts (SIGABRT). Burns CPU first.
#include <cstdio>
#include <stdexcept>

static volatile unsigned long long sink;

int main()
{
	for (unsigned long long i = 0; i < 20000000ull; i++)
		sink += i * i;
	std::printf("throwing\n");
	std::fflush(stdout);
	throw std::runtime_error("life_cxx_throw: nobody catches this");
}
