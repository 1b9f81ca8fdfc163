# CPU- and allocation-heavy work for tests/real/case_python3.sh; prints a deterministic digest.
import hashlib
import json


def words(n):
    return ["w%05d-%s" % (i, "xyz"[i % 3] * (i % 7)) for i in range(n)]


def main():
    h = hashlib.sha256()
    counts = {}
    for rnd in range(6):
        ws = words(40000)
        for w in ws:
            counts[w[-3:]] = counts.get(w[-3:], 0) + len(w)
        objs = [{"id": i, "name": w, "tags": [w[:2], w[-2:]]} for i, w in enumerate(ws[:8000])]
        text = json.dumps(objs, sort_keys=True)
        back = json.loads(text)
        back.sort(key=lambda o: (o["name"][::-1], o["id"]))
        h.update(text.encode())
        h.update(str(back[rnd]["id"]).encode())
    print(len(counts), sum(counts.values()), h.hexdigest())


main()
