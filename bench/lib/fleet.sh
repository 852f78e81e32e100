# shellcheck shell=bash
# Parts (m) and (f) of bench/run.sh (issue 17), sourced by it: many shops in one run, and a
# fleet of workers on PostgreSQL. Both are bound by the platforms' rate limits and the
# sandbox's latency, not by the CPU; the load average is recorded with every run.
#
#   m  M_SHOPS shops per platform (5 × 10 = 50), M_ORDERS orders each, --latency-ms 100:
#      one `pull --all --shops-at-once <all of them>` vs the ideal = the slowest shop's
#      requests (its summary row) ÷ its platform's rate limit
#   f  F_SHOPS shops per platform (5 × 4 = 20), F_ORDERS orders each, into PostgreSQL: one
#      `pull --all --db postgres://…` with --shops-at-once 20 vs three of them started together
#      with --shops-at-once 7 each (each configuration on a fresh database): either way every
#      shop is pulled at once, so the shops' rate limits are the bound, and the three workers
#      share the shops through their leases (with --shops-at-once 20 each, the first worker
#      would take every shop before the others start)

M_SHOPS=${M_SHOPS:-10}
M_ORDERS=${M_ORDERS:-$([ "$QUICK" = 1 ] && echo 500 || echo 3000)}
F_SHOPS=${F_SHOPS:-4}
F_ORDERS=${F_ORDERS:-$([ "$QUICK" = 1 ] && echo 500 || echo 2000)}
# vv-tool lists by creation time only over the last 30 days; every platform's orders lie in
# the 30 days before the sandbox started.
FLEET_RANGE=(--since 30d --by created)

load_now() { cut -d' ' -f1-3 /proc/loadavg; }

# A sandbox serving SHOPS shops per platform (its config lists sandbox-<platform>-1 … -SHOPS).
sandbox_start_shops() { # NAME SHOPS ORDERS LATENCY_MS
    SB_NAME=$1
    local shops=$2 orders=$3 latency=$4
    SB_CFG=$OUT/sandbox-$SB_NAME.toml
    local cmd=("$BIN" sandbox --addr 127.0.0.1:0 --shops "$shops" --orders "$orders" --seed "$SEED"
        --latency-ms "$latency")
    logcmd "${cmd[@]}"
    say "sandbox $SB_NAME: --shops $shops --orders $orders --latency-ms $latency"
    "${cmd[@]}" >"$SB_CFG" 2>"$OUT/sandbox-$SB_NAME.log" &
    SB_PID=$!
    until grep -q "^\[shops\.sandbox-pandapon-1688-$shops\]" "$SB_CFG" 2>/dev/null \
        && [ -z "$(tail -n 1 "$SB_CFG")" ]; do
        kill -0 "$SB_PID" 2>/dev/null || { echo "run.sh: sandbox exited; see $OUT/sandbox-$SB_NAME.log" >&2; SB_PID=""; exit 1; }
        sleep 0.2
    done
}

# Every shop asked for one order first, untimed, so that no timed run pays the sandbox's
# first answer for a shop.
warm_shops() { # CONFIG
    # shellcheck disable=SC2046
    timeout 600 "$BIN" pull --config "$1" --all --shops-at-once 50 "${FLEET_RANGE[@]}" --limit 1 \
        --rate-limit 1000 -q >/dev/null 2>&1
}

# The rate limit of each platform, as `platform=rate` words for the report.
rates() {
    local p
    for p in $ALL_PLATFORMS; do printf '%s=%s ' "$p" "$(rate_of "$p")"; done
}

# ---- (m) many shops in one process -------------------------------------------------------------
part_m() {
    local shops=$((M_SHOPS * 5))
    sandbox_start_shops m "$M_SHOPS" "$M_ORDERS" "$LATENCY_MS"
    warm_shops "$SB_CFG"
    local rep
    for rep in 1 2; do
        local sum=$OUT/m-$rep.summary.json err=$OUT/m-$rep.stderr
        rm -f "$sum"
        local cmd=("$BIN" pull --config "$SB_CFG" --all --shops-at-once "$shops" "${FLEET_RANGE[@]}"
            --format ndjson --summary-json "$sum" -q)
        logcmd "${cmd[@]}"
        say "(m) $shops shops x $M_ORDERS orders, one process, run $rep"
        local load0 t0 t1 rc
        load0=$(load_now)
        t0=$(now_ns)
        run timeout "$A_TIMEOUT" "${cmd[@]}" >/dev/null 2>"$err"
        rc=$?
        t1=$(now_ns)
        rec part=m rep="$rep" shops="$shops" orders_per_shop="$M_ORDERS" latency_ms="$LATENCY_MS" \
            shops_at_once="$shops" rc="$rc" wall_s="$(secs "$t0" "$t1")" load_before="$load0" \
            load_after="$(load_now)" rates="$(rates)" summary="@json:$sum" stderr="@tail:$err"
    done
    sandbox_stop
}

# ---- (f) a fleet on PostgreSQL -----------------------------------------------------------------
PG_ROOT=""
PG_BIN=""
PG_PORT=""
PG_PASSWORD=""
pg_as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# A cluster of our own, as tests/it/pg.rs makes it: initdb in a temp folder (as the postgres
# user when we are root: initdb refuses root), served on a free loopback port.
pg_start() {
    PG_BIN=/usr/lib/postgresql/15/bin
    [ -x "$PG_BIN/initdb" ] || PG_BIN=$(pg_config --bindir 2>/dev/null)
    [ -x "$PG_BIN/initdb" ] || { echo "run.sh: no PostgreSQL server (initdb); apt-get install postgresql-15" >&2; return 1; }
    PG_ROOT=$BENCH_TMP/pg
    mkdir -p "$PG_ROOT/run"
    PG_PASSWORD=bench-$$-$RANDOM
    printf '%s\n' "$PG_PASSWORD" >"$PG_ROOT/pw"
    [ "$(id -u)" = 0 ] && chown -R postgres "$PG_ROOT"
    pg_as "$PG_BIN/initdb" -D "$PG_ROOT/data" -U postgres -E UTF8 --locale=C --no-sync \
        --auth-local=trust --auth-host=scram-sha-256 --pwfile="$PG_ROOT/pw" >"$OUT/pg-initdb.log" 2>&1 \
        || { echo "run.sh: initdb failed; see $OUT/pg-initdb.log" >&2; return 1; }
    PG_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    pg_as "$PG_BIN/pg_ctl" -D "$PG_ROOT/data" -l "$PG_ROOT/server.log" -w -o \
        "-p $PG_PORT -k $PG_ROOT/run -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >/dev/null || { echo "run.sh: PostgreSQL did not start; see $PG_ROOT/server.log" >&2; return 1; }
    say "PostgreSQL on 127.0.0.1:$PG_PORT"
}
pg_stop() {
    [ -n "$PG_ROOT" ] || return 0
    pg_as "$PG_BIN/pg_ctl" -D "$PG_ROOT/data" -m fast -w stop >/dev/null 2>&1
    rm -rf "$PG_ROOT"
    PG_ROOT=""
}
pg_createdb() { # NAME
    pg_as "$PG_BIN/createdb" -h "$PG_ROOT/run" -p "$PG_PORT" -U postgres "$1"
}

# Start WORKERS processes of `pull --all --db` on a fresh database DB at once; wait for all.
fleet_run() { # WORKERS DB
    local workers=$1 db=$2 shops=$((F_SHOPS * 5)) w pids=()
    local slots=$(((shops + workers - 1) / workers))
    pg_createdb "$db" || return 1
    # The URL goes through the environment (ORDERSYNC_DB), as it would in a cron line: it
    # holds the password, so it stays out of commands.txt and ps.
    local url="postgres://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/$db"
    local load0 t0 t1
    load0=$(load_now)
    t0=$(now_ns)
    for w in $(seq 1 "$workers"); do
        local cmd=("$BIN" pull --config "$SB_CFG" --all --shops-at-once "$slots" "${FLEET_RANGE[@]}"
            --format ndjson --summary-json "$OUT/f-$workers-$w.summary.json" -q)
        logcmd env ORDERSYNC_DB=postgres://postgres:***@127.0.0.1:PORT/"$db" "${cmd[@]}"
        ORDERSYNC_DB=$url timeout "$A_TIMEOUT" "${cmd[@]}" >/dev/null 2>"$OUT/f-$workers-$w.stderr" &
        pids+=($!)
    done
    local rcs=""
    for w in "${pids[@]}"; do wait "$w"; rcs="$rcs$? "; done
    t1=$(now_ns)
    local sums=()
    for w in $(seq 1 "$workers"); do sums+=("summary$w=@json:$OUT/f-$workers-$w.summary.json"); done
    rec part=f workers="$workers" shops="$shops" shops_at_once="$slots" orders_per_shop="$F_ORDERS" latency_ms="$LATENCY_MS" \
        rc="$rcs" wall_s="$(secs "$t0" "$t1")" load_before="$load0" load_after="$(load_now)" \
        rates="$(rates)" "${sums[@]}"
}

part_f() {
    pg_start || return 0
    sandbox_start_shops f "$F_SHOPS" "$F_ORDERS" "$LATENCY_MS"
    warm_shops "$SB_CFG"
    say "(f) $((F_SHOPS * 5)) shops x $F_ORDERS orders: one worker"
    fleet_run 1 fleet_one_a
    say "(f) three workers"
    fleet_run 3 fleet_three_a
    say "(f) one worker again"
    fleet_run 1 fleet_one_b
    say "(f) three workers again"
    fleet_run 3 fleet_three_b
    sandbox_stop
    pg_stop
}

# The tables of (m) and (f), into $OUT/fleet.md (also printed).
fleet_report() {
    python3 - "$RESULTS" <<'PY' | tee "$OUT/fleet.md"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def rates(r):
    return {k: float(v) for k, v in (w.split("=") for w in r["rates"].split())}
def slowest(rows, rate):
    # The ideal of a shop: its requests at its platform's rate; the run's: the slowest shop.
    pulled = [s for s in rows if not s.get("skipped")]
    best = max(pulled, key=lambda s: s["requests"] / rate[s["platform"]])
    return best, best["requests"] / rate[best["platform"]]
ms = [r for r in recs if r.get("part") == "m"]
if ms:
    print("| run | shops | orders/shop | --shops-at-once | wall s | slowest shop (requests @ rate) | ideal s | ratio | orders | failed | load before → after |")
    print("|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|")
    for r in ms:
        s = r.get("summary") or {}
        rows = s.get("shops") or []
        if not rows:
            print(f"| {r['rep']} | {r['shops']} | {r['orders_per_shop']} | {r['shops_at_once']} | {r['wall_s']} | ERROR (exit {r['rc']}) | | | | | |")
            continue
        rate = rates(r)
        shop, ideal = slowest(rows, rate)
        print(f"| {r['rep']} | {r['shops']} | {r['orders_per_shop']:,} | {r['shops_at_once']} | {r['wall_s']:.2f} | "
              f"{shop['shop']} ({shop['requests']} @ {rate[shop['platform']]:g}/s) | {ideal:.2f} | "
              f"{r['wall_s'] / ideal:.3f} | {s.get('orders_emitted', 0):,} | {s.get('shops_failed')} | "
              f"{r['load_before']} → {r['load_after']} |")
    print()
fs = [r for r in recs if r.get("part") == "f"]
if fs:
    print("| workers × --shops-at-once | shops | orders/shop | wall s | shops pulled by each worker | shops pulled twice | new orders in the mirror | slowest shop ideal s | exit codes | load before → after |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---|---|")
    for r in fs:
        sums = [r.get(f"summary{w}") or {} for w in range(1, r["workers"] + 1)]
        rows = [row for s in sums for row in (s.get("shops") or [])]
        pulled = [row for row in rows if not row.get("skipped")]
        per_worker = "/".join(str(sum(1 for row in (s.get("shops") or []) if not row.get("skipped"))) for s in sums)
        # A worker that ends its shops early takes the next ones in the config; one another
        # worker has finished meanwhile is pulled again from its new mark (the lookback only).
        twice = len(pulled) - len(set(row["shop"] for row in pulled))
        orders = sum(row.get("new") or 0 for row in pulled)
        ideal = slowest(pulled, rates(r))[1] if pulled else float("nan")
        print(f"| {r['workers']} × {r.get('shops_at_once', '?')} | {r['shops']} | {r['orders_per_shop']:,} | {r['wall_s']:.2f} | {per_worker} | "
              f"{twice} | {orders:,} | {ideal:.2f} | {str(r['rc']).strip()} | {r['load_before']} → {r['load_after']} |")
PY
}
