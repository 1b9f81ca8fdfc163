# shellcheck shell=bash disable=SC2034 # sourced by tests/real/run.sh, which reads these variables
# A C++ program using the standard library (std::map, std::unordered_map, std::string, std::sort,
# std::ostringstream, exceptions), compiled here with g++ -O2 -g from tests/real/cxx_stl.cpp.
REQUIRES=(g++)
setup()
{
	g++ -O2 -g -std=gnu++17 -o cxx_stl "$DT_REAL_SRC/cxx_stl.cpp"
}
CMD=(./cxx_stl)
EXPECT_PROGS=(cxx_stl)
EXPECT_FNS=('^cxx_stl:(build_index|rank_words)' '^libstdc\+\+\.so[.0-9]*:' '^cxx_stl:std::')
