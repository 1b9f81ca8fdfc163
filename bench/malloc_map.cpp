// A C++ allocation-heavy workload for bench/malloc_bench.sh: a std::map<int, std::string> filled,
// probed and emptied, ROUNDS times. Every node and every (non-SSO) string is a malloc.
// Usage: malloc_map [KEYS] [ROUNDS]
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

int main(int argc, char **argv)
{
	unsigned keys = argc > 1 ? static_cast<unsigned>(std::strtoul(argv[1], nullptr, 10)) : 200000;
	unsigned rounds = argc > 2 ? static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10)) : 5;
	unsigned long long sum = 0;
	for (unsigned r = 0; r < rounds; r++) {
		std::map<int, std::string> m;
		for (unsigned i = 0; i < keys; i++)
			m.emplace(static_cast<int>(i * 2654435761u), "value-string-long-enough-for-heap-" + std::to_string(i));
		for (unsigned i = 0; i < keys; i += 3)
			sum += m.count(static_cast<int>(i * 2654435761u));
		for (auto it = m.begin(); it != m.end();)
			it = (it->first & 1) ? m.erase(it) : std::next(it);
		sum += m.size();
	}
	std::printf("checksum %llu\n", sum);
	return 0;
}
