# shellcheck shell=bash disable=SC2034 # sourced by tests/real/run.sh, which reads these variables
# sqlite3: 5000 inserts in a transaction into an on-disk database, an index, and a grouping query.
# The CLI links libsqlite3.so, whose internals (sqlite3VdbeExec) are static; its API is exported.
REQUIRES=(sqlite3 python3)
setup()
{
	python3 -c '
print("CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v INTEGER);")
print("BEGIN;")
for i in range(5000):
    print("INSERT INTO t(k, v) VALUES (%s, %d);" % ("%c" % 39 + "k%d" % (i % 97) + "%c" % 39, i * 7 % 1013))
print("COMMIT;")
print("CREATE INDEX tk ON t(k);")
print("SELECT k, count(*), sum(v), max(v) FROM t GROUP BY k ORDER BY sum(v) DESC LIMIT 5;")
print("SELECT count(*) FROM t a JOIN t b ON a.k = b.k AND a.id < b.id WHERE a.v < 10;")' >sql.txt
}
CMD=(bash -c 'sqlite3 db.sqlite <sql.txt')
EXPECT_PROGS=(sqlite3)
EXPECT_FNS=('^libsqlite3\.so[.0-9]*:sqlite3_(step|exec|prepare)')
