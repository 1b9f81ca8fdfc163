# shellcheck shell=bash disable=SC2034 # sourced by tests/real/run.sh, which reads these variables
# git init, add, commit (twice) and log in a fresh repository. Author and committer dates are fixed
# so the commit ids, and with them the whole output, are the same in both runs.
REQUIRES=(git)
setup()
{
	local i
	for i in $(seq 1 200); do
		seq "$i" 3 3000 >"file$i.txt"
	done
}
CMD=(bash -c '
export GIT_AUTHOR_DATE="2024-01-01T00:00:00Z" GIT_COMMITTER_DATE="2024-01-01T00:00:00Z"
export GIT_CONFIG_NOSYSTEM=1 HOME="$PWD" GIT_CONFIG_GLOBAL=/dev/null
g() { git -c user.name=Real -c user.email=real@example.org -c init.defaultBranch=main "$@"; }
set -e
g init -q .
g add .
g commit -q -m first
sed -i 1d file7.txt
g commit -q -a -m second
g log --stat --format="%H %an %s" | head -n 20
g gc -q
g fsck --strict 2>&1
')
EXPECT_PROGS=(git bash)
EXPECT_FNS=('^git:git\+0x' '^libz\.so[.0-9]*:(deflate|inflate|adler32|crc32)')
