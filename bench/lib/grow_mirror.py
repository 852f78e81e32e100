#!/usr/bin/env python3
"""Grow an ordersync mirror to N orders by copying its orders (and their lines) under new ids.

    grow_mirror.py DB N

Part (d) of bench/run.sh: a mirror of a million orders pulled through the sandbox would take
an hour of emulator time; copies of real mirrored orders (each `doc` rewritten with its new
`order_id`) have the same size and shape, which is what `export` speed depends on.
"""
import sqlite3
import sys

db, target = sys.argv[1], int(sys.argv[2])
con = sqlite3.connect(db)
con.execute("PRAGMA journal_mode=WAL")
con.execute("PRAGMA synchronous=NORMAL")
base = con.execute("SELECT count(*) FROM orders").fetchone()[0]
if base == 0:
    sys.exit("grow_mirror.py: the mirror is empty")
have, copy = base, 1
cols = [r[1] for r in con.execute("PRAGMA table_info(orders)")]
line_cols = [r[1] for r in con.execute("PRAGMA table_info(order_lines)")]
while have < target:
    take = min(base, target - have)
    suffix = f"-c{copy}"
    sel = ", ".join(
        "order_id || :s" if c == "order_id"
        else "json_set(doc, '$.order_id', order_id || :s)" if c == "doc"
        else c
        for c in cols
    )
    with con:
        con.execute(
            f"INSERT INTO orders ({', '.join(cols)}) SELECT {sel} FROM orders "
            f"WHERE order_id NOT LIKE '%-c%' ORDER BY order_id LIMIT :n",
            {"s": suffix, "n": take},
        )
        lsel = ", ".join("l.order_id || :s" if c == "order_id" else "l." + c for c in line_cols)
        con.execute(
            f"INSERT INTO order_lines ({', '.join(line_cols)}) SELECT {lsel} FROM order_lines l "
            f"JOIN (SELECT shop, order_id FROM orders WHERE order_id NOT LIKE '%-c%' "
            f"ORDER BY order_id LIMIT :n) o USING (shop, order_id)",
            {"s": suffix, "n": take},
        )
    have += take
    copy += 1
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
con.close()
print(have)
