// cxx_stl: standard-library heavy work for tests/real/case_cxx.sh; stdout is deterministic.
#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

static std::vector<std::string> make_words(unsigned n)
{
	std::vector<std::string> v;
	v.reserve(n);
	for (unsigned i = 0; i < n; i++) {
		std::ostringstream os;
		os << "w" << (i * 2654435761u % 100003u) << '-' << std::string(i % 9, 'z');
		v.push_back(os.str());
	}
	return v;
}

__attribute__((noinline)) static std::map<std::string, unsigned> build_index(const std::vector<std::string> &w)
{
	std::map<std::string, unsigned> m;
	for (const auto &s : w)
		m[s.substr(0, 4)] += static_cast<unsigned>(s.size());
	return m;
}

__attribute__((noinline)) static std::vector<std::pair<unsigned, std::string>> rank_words(const std::vector<std::string> &w)
{
	std::unordered_map<std::string, unsigned> counts;
	for (const auto &s : w)
		counts[s]++;
	std::vector<std::pair<unsigned, std::string>> r;
	for (const auto &kv : counts)
		r.emplace_back(kv.second, kv.first);
	std::sort(r.begin(), r.end(), [](const auto &a, const auto &b) {
		return a.first != b.first ? a.first > b.first : a.second < b.second;
	});
	return r;
}

static unsigned parse_or_throw(const std::string &s)
{
	if (s.empty() || s[0] != 'w')
		throw std::invalid_argument(s);
	return static_cast<unsigned>(std::stoul(s.substr(1)));
}

int main()
{
	unsigned long total = 0, errors = 0;
	for (int round = 0; round < 3; round++) {
		auto words = make_words(150000);
		auto idx = build_index(words);
		auto ranked = rank_words(words);
		total += idx.size() + ranked.front().first + ranked.size();
		for (unsigned i = 0; i < 2000; i++) {
			try {
				total += parse_or_throw(i % 10 ? words[i] : std::string("x"));
			} catch (const std::invalid_argument &) {
				errors++;
			}
		}
	}
	std::printf("cxx_stl: total %lu, errors %lu\n", total, errors);
	return 0;
}
