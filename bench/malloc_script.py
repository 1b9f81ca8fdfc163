# A python3 allocation-heavy workload for bench/malloc_bench.sh: JSON round trips of nested data
# (dicts, lists, strings of many sizes: pymalloc for the small, malloc for the large).
import json
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
data = [{"k": i, "v": list(range(i % 50)), "s": "x" * (i % 700)} for i in range(n)]
for _ in range(3):
    text = json.dumps(data)
    data = json.loads(text)
print(len(text))
