# shellcheck shell=bash disable=SC2034 # sourced by tests/real/run.sh, which reads these variables
# bash running its own loop (arithmetic, string ops, arrays) and a pipeline of coreutils and awk.
# Debian's bash exports its internal functions (for loadable builtins), so they are named.
REQUIRES=(bash awk)
CMD=(bash -c '
s=0; a=()
for ((i = 0; i < 1000; i++)); do s=$(( (s * 31 + i) % 1000003 )); a[i % 100]=${s}x; done
echo "$s ${#a[@]} ${a[7]}"
seq 1 300000 | awk "{ print \$1 % 97, \$1 }" | sort -n -k1,1 -s | cut -d" " -f1 | uniq -c | sort -rn | head -n 3
')
EXPECT_PROGS=(bash seq '(m|g)?awk' sort cut uniq)
EXPECT_FNS=('^bash:(execute_command|execute_command_internal|expand_word_list_internal|expand_word|eval_expression|evalexp|subexpr|expassign|execute_arith_for_command)$')
