// C++ allocations go through malloc: std::map, std::string and std::vector under the shim, so that
// the report names demangled allocating methods. The workload is deterministic; it prints
// "truth KEY VALUE" lines for what it can know itself (the map's node count) with write(2).
// Usage: mem_cxx [keys]
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

constexpr unsigned kDefaultKeys = 20000;
constexpr unsigned kValuesPerKey = 20; // pushed one by one: the vector grows (reallocations)

// Long enough to leave the small-string buffer: every key is a heap allocation of its own.
__attribute__((noinline)) std::string make_key(unsigned i)
{
	return "deiatrace-memory-key-" + std::to_string(i * 2654435761u);
}

__attribute__((noinline)) void fill(std::map<std::string, std::vector<int>> &index, unsigned keys)
{
	for (unsigned i = 0; i < keys; i++) {
		std::vector<int> &v = index[make_key(i)];
		for (unsigned k = 0; k < kValuesPerKey; k++)
			v.push_back(static_cast<int>(i + k));
	}
}

void say(const char *key, unsigned long long v)
{
	char line[128];
	int n = std::snprintf(line, sizeof(line), "truth %s %llu\n", key, v);
	if (n > 0 && write(STDOUT_FILENO, line, static_cast<size_t>(n)) < 0)
		_exit(3);
}

} // namespace

int main(int argc, char **argv)
{
	unsigned keys = argc > 1 ? static_cast<unsigned>(std::strtoul(argv[1], nullptr, 10)) : kDefaultKeys;
	unsigned long long sum = 0;
	{
		std::map<std::string, std::vector<int>> index;
		fill(index, keys);
		for (const auto &kv : index)
			sum += kv.second.back();
		say("map.nodes", index.size());
	}
	say("checksum", sum);
	return 0;
}
