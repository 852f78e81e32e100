#!/usr/bin/env bash
# ordersync benchmark against the built-in sandbox (issue 7, item 4). See bench/README.md.
#
#   bench/run.sh [--quick] [a] [b] [c] [d] [s] [m] [f] [PLATFORM ...]
#
#   a  wall time of a pull (20,000 orders, --latency-ms 100, default rate limit) vs the ideal
#      requests / rate limit
#   b  orders/s of `ordersync normalize` on one large saved response (each of B_ORDERS, e.g.
#      "50000 1000000") vs jq flattening the same file (sizes up to B_JQ_MAX: jq 1.6 holds the
#      whole document as a tree) and vs the parse-only floor (examples/parse_floor.rs: serde_json
#      into IgnoredAny over the same bytes); peak RSS of each
#   c  peak RSS of the pull process for 10,000 and 200,000 orders to NDJSON, JSON and CSV
#   s  the sandbox at scale: start time and RSS of `ordersync sandbox --orders N` (1,000,000 and
#      10,000,000) under /usr/bin/time -v, and its RSS while each platform is pulled over a day
#   d  the SQLite mirror (issue 16): wall of `pull --db` vs the same pull to NDJSON at the
#      platform's rate, the mirror's size per order, and `export` of 1,000,000 mirrored orders
#   m  many shops (issue 17): 50 sandbox shops in one `pull --all` vs the slowest shop's ideal
#   f  a fleet on PostgreSQL (issue 17): three `pull --all --db postgres://` processes vs one
#      (parts m and f: bench/lib/fleet.sh; PLATFORMS does not apply, every shop is pulled)
#   r  flat memory (issue 18): peak RSS of the pull process at 10,000 and 1,000,000 orders to
#      NDJSON, JSON, CSV and `--db sqlite:FILE`, one cell at a time (R_SIZES, R_OUTPUTS; JSON
#      and CSV above the smallest size only on the platforms in R_WIDE, default all); the
#      output `pg` (not in the default R_OUTPUTS) is `--db postgres://` on a cluster of its own
#
# Environment (all optional): PLATFORMS, PARTS, QUICK=1, A_ORDERS, LATENCY_MS, B_ORDERS, B_REPS,
# C_SIZES, C_MAX_SECONDS, A_TIMEOUT, C_TIMEOUT, PROBE_LIMIT, SEED, OUT, BENCH_TMP, KEEP=1,
# B_JQ_MAX, B_FILES (a folder of PLATFORM-ORDERS.json files for (b) to reuse), D_ORDERS,
# D_EXPORT, S_SIZES, M_SHOPS, M_ORDERS, F_SHOPS, F_ORDERS, R_SIZES, R_OUTPUTS, R_WIDE, R_TIMEOUT,
# ORDERSYNC_BIN (skip the build), NO_BUILD=1, CARGO_TARGET_DIR.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
ALL_PLATFORMS="taobao-tw taobao-enhanced vvtool pandapon-taobao pandapon-1688"

# ---- arguments --------------------------------------------------------------------------------
arg_parts=""
arg_platforms=""
for a in "$@"; do
    case "$a" in
        --quick) QUICK=1 ;;
        a|b|c|d|s|m|f|r) arg_parts="$arg_parts $a" ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *)
            if [[ " $ALL_PLATFORMS " == *" $a "* ]]; then
                arg_platforms="$arg_platforms $a"
            else
                echo "run.sh: unknown argument '$a' (parts: a b c d s m f r; platforms: $ALL_PLATFORMS; --quick)" >&2
                exit 2
            fi ;;
    esac
done
QUICK=${QUICK:-0}
PARTS=${arg_parts:-${PARTS:-a b c}}
PLATFORMS=${arg_platforms:-${PLATFORMS:-$ALL_PLATFORMS}}
for p in $PLATFORMS; do
    [[ " $ALL_PLATFORMS " == *" $p "* ]] || { echo "run.sh: unknown platform '$p'" >&2; exit 2; }
done

if [ "$QUICK" = 1 ]; then
    A_ORDERS=${A_ORDERS:-1000}
    B_ORDERS=${B_ORDERS:-5000}
    B_REPS=${B_REPS:-1}
    C_SIZES=${C_SIZES:-500 2000}
    C_MAX_SECONDS=${C_MAX_SECONDS:-120}
    S_SIZES=${S_SIZES:-100000 1000000}
    D_ORDERS=${D_ORDERS:-1000}
    D_EXPORT=${D_EXPORT:-100000}
    R_SIZES=${R_SIZES:-1000 20000}
else
    A_ORDERS=${A_ORDERS:-20000}
    B_ORDERS=${B_ORDERS:-50000}
    B_REPS=${B_REPS:-3}
    C_SIZES=${C_SIZES:-10000 200000}
    S_SIZES=${S_SIZES:-1000000 10000000}
    D_ORDERS=${D_ORDERS:-20000}
    D_EXPORT=${D_EXPORT:-1000000}
    R_SIZES=${R_SIZES:-10000 1000000}
fi
B_JQ_MAX=${B_JQ_MAX:-50000}
R_OUTPUTS=${R_OUTPUTS:-ndjson json csv db}
R_WIDE=${R_WIDE:-$ALL_PLATFORMS}
R_TIMEOUT=${R_TIMEOUT:-3600}        # one (r) pull
LATENCY_MS=${LATENCY_MS:-100}
SEED=${SEED:-42}
A_TIMEOUT=${A_TIMEOUT:-3600}        # one (a) pull
C_MAX_SECONDS=${C_MAX_SECONDS:-900} # skip a (c) cell predicted to take longer than this
C_TIMEOUT=${C_TIMEOUT:-1800}        # one (c) pull
PROBE_LIMIT=${PROBE_LIMIT:-300}     # orders of a probe pull (sandbox speed, request count)
MEM_RATE=100000                     # --rate-limit of (c) and probe pulls
OUT=${OUT:-$HERE/out/$(date +%Y%m%d-%H%M%S)}
BENCH_TMP=${BENCH_TMP:-${TMPDIR:-/tmp}/ordersync-bench.$$}

mkdir -p "$OUT" "$BENCH_TMP" || exit 1
RESULTS=$OUT/results.jsonl
COMMANDS=$OUT/commands.txt
: >"$RESULTS"
: >"$COMMANDS"

say() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }
rec() { python3 "$HERE/lib/record.py" "$RESULTS" "$@"; }
# Log a command line (quoted so it can be pasted back).
logcmd() { printf '%q ' "$@" >>"$COMMANDS"; echo >>"$COMMANDS"; }
now_ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }

# ---- tools ------------------------------------------------------------------------------------
need_apt() { # command package
    command -v "$1" >/dev/null 2>&1 && return 0
    say "installing $2 (apt)"
    if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq >/dev/null 2>&1; APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1
    command -v "$1" >/dev/null 2>&1 || { echo "run.sh: cannot install $2" >&2; exit 1; }
}
[ -x /usr/bin/time ] || need_apt /usr/bin/time time
[[ " $PARTS " == *" b "* ]] && need_apt jq jq

if [ -n "${ORDERSYNC_BIN:-}" ]; then
    BIN=$ORDERSYNC_BIN
else
    BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/ordersync
    if [ "${NO_BUILD:-0}" != 1 ]; then
        say "cargo build --release"
        (cd "$ROOT" && cargo build --release --quiet) || { echo "run.sh: build failed" >&2; exit 1; }
    fi
fi
FLOOR_BIN=$(dirname "$BIN")/examples/parse_floor
if [[ " $PARTS " == *" b "* ]] && [ "${NO_BUILD:-0}" != 1 ] && [ -z "${ORDERSYNC_BIN:-}" ]; then
    (cd "$ROOT" && cargo build --release --quiet --example parse_floor) || {
        echo "run.sh: build of examples/parse_floor failed" >&2; exit 1; }
fi
[ -x "$BIN" ] || { echo "run.sh: no binary at $BIN" >&2; exit 1; }

# ---- environment ------------------------------------------------------------------------------
dirty=$(git -C "$ROOT" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null | wc -l)
rec part=env date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    nproc="$(nproc)" cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
    mem_gb="$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)" \
    load="$(cut -d' ' -f1-3 /proc/loadavg)" \
    commit="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    dirty_src_files="$dirty" binary="$BIN" version="$("$BIN" --version 2>&1)" \
    jq="$(jq --version 2>/dev/null || echo none)" quick="$QUICK" parts="$PARTS" \
    platforms="$PLATFORMS" a_orders="$A_ORDERS" latency_ms="$LATENCY_MS" b_orders="$B_ORDERS" \
    b_reps="$B_REPS" c_sizes="$C_SIZES" seed="$SEED" probe_limit="$PROBE_LIMIT" \
    d_orders="$D_ORDERS" d_export="$D_EXPORT" r_sizes="$R_SIZES" r_outputs="$R_OUTPUTS" \
    r_wide="$R_WIDE"

rate_of() { # documented default rate limit, from `ordersync platforms`
    "$BIN" platforms 2>/dev/null | awk -v p="$1" '$1 == p { f = 1 } f && $1 == "rate" && $2 == "limit" { print $3; exit }'
}
# Range flags per platform: every generated order lies in the 30 days before the sandbox
# started. vv-tool serves --by created (erps/sold) only for the last 30 days, so 30d there.
range_of() {
    case "$1" in
        vvtool) echo "--since 30d --by created" ;;
        *) echo "--since 31d --by created" ;;
    esac
}

# ---- sandbox ----------------------------------------------------------------------------------
SB_PID=""
SB_CFG=""
sandbox_stop() {
    [ -n "$SB_PID" ] || return 0
    local hwm
    hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$SB_PID/status" 2>/dev/null)
    [ -n "$hwm" ] && rec part=sandbox name="$SB_NAME" peak_rss_kb="$hwm"
    kill "$SB_PID" 2>/dev/null
    wait "$SB_PID" 2>/dev/null
    SB_PID=""
}
# Long commands run in the background and are waited for, so that a signal is handled at once
# (bash runs traps only between foreground commands); the handler stops the command and the sandbox.
CHILD=""
run() {
    "$@" &
    CHILD=$!
    wait "$CHILD"
    local rc=$?
    CHILD=""
    return "$rc"
}
cleanup() {
    [ -n "$CHILD" ] && kill "$CHILD" 2>/dev/null
    sandbox_stop
    declare -F pg_stop >/dev/null && pg_stop
    [ "${KEEP:-0}" = 1 ] || rm -rf "$BENCH_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sandbox_start() { # NAME ORDERS LATENCY_MS [extra sandbox flags...]
    SB_NAME=$1
    local orders=$2 latency=$3
    shift 3
    SB_CFG=$OUT/sandbox-$SB_NAME.toml
    local cmd=("$BIN" sandbox --addr 127.0.0.1:0 --orders "$orders" --seed "$SEED" --latency-ms "$latency" "$@")
    logcmd "${cmd[@]}"
    say "sandbox $SB_NAME: --orders $orders --latency-ms $latency $*"
    local t0
    t0=$(now_ns)
    "${cmd[@]}" >"$SB_CFG" 2>"$OUT/sandbox-$SB_NAME.log" &
    SB_PID=$!
    # The config is complete once the last shop's table is followed by the blank line.
    until grep -q '^\[shops\.sandbox-pandapon-1688\]' "$SB_CFG" 2>/dev/null \
        && [ -z "$(tail -n 1 "$SB_CFG")" ]; do
        if ! kill -0 "$SB_PID" 2>/dev/null; then
            echo "run.sh: sandbox exited; see $OUT/sandbox-$SB_NAME.log" >&2
            SB_PID=""
            exit 1
        fi
        sleep 0.2
    done
    rec part=sandbox_start name="$SB_NAME" orders="$orders" latency_ms="$latency" \
        startup_s="$(secs "$t0" "$(now_ns)")"
}

# A short pull with a huge rate limit, twice: the sandbox's time per request with one request
# in flight, and requests per order. The sandbox renders a platform's orders once, on its first
# request, so the first (cold) pull pays that and the second (warm) one shows the steady state.
# Needs a sandbox started with a high --throttle-rps. Prints the predicted seconds of a pull
# of SIZE orders (cold extra + warm time per request × requests), -1 if unknown.
probe() { # PART PLATFORM SIZE
    local part=$1 p=$2 size=$3 pass
    for pass in cold warm; do
        local sum=$BENCH_TMP/probe-$part-$p-$size-$pass.json err=$BENCH_TMP/probe-$part-$p-$size-$pass.err
        rm -f "$sum"
        # shellcheck disable=SC2046
        local cmd=("$BIN" pull --config "$SB_CFG" --shop "sandbox-$p" $(range_of "$p") --format ndjson
            --limit "$PROBE_LIMIT" --rate-limit "$MEM_RATE" --summary-json "$sum" -q)
        logcmd "${cmd[@]}"
        timeout 600 "${cmd[@]}" >/dev/null 2>"$err"
        local rc=$?
        rec part=probe for="$part" pass="$pass" platform="$p" size="$size" rc="$rc" \
            summary="@json:$sum" stderr="@tail:$err"
    done
    python3 - "$BENCH_TMP/probe-$part-$p-$size-cold.json" "$BENCH_TMP/probe-$part-$p-$size-warm.json" "$size" <<'EOF'
import json, sys
try:
    cold, warm = (json.load(open(f)) for f in sys.argv[1:3])
    n = int(sys.argv[3])
    per_req = warm["elapsed_ms"] / max(warm["requests"], 1) / 1000
    est_requests = n * warm["requests"] / max(warm["orders_emitted"], 1)
    extra = max(cold["elapsed_ms"] - warm["elapsed_ms"], 0) / 1000
    print(f"{extra + per_req * est_requests:.0f}")
except Exception:
    print("-1")
EOF
}

# ---- (a) wall time vs requests / rate limit ---------------------------------------------------
part_a() {
    sandbox_start "a" "$A_ORDERS" "$LATENCY_MS"
    local p
    for p in $PLATFORMS; do
        local rate sum=$OUT/a-$p.summary.json err=$OUT/a-$p.stderr
        rate=$(rate_of "$p")
        rm -f "$sum"
        # shellcheck disable=SC2046
        local cmd=("$BIN" pull --config "$SB_CFG" --shop "sandbox-$p" $(range_of "$p")
            --format ndjson --summary-json "$sum" -q)
        # One request first, untimed: the sandbox renders a platform's orders on first use
        # (up to a second at 20,000 orders), a cost of the emulator, not of the client.
        # shellcheck disable=SC2046
        local warm=("$BIN" pull --config "$SB_CFG" --shop "sandbox-$p" $(range_of "$p") --limit 1 -q)
        logcmd "${warm[@]}"
        say "(a) $p: warming the sandbox (one request)"
        timeout 600 "${warm[@]}" >/dev/null 2>&1
        logcmd "${cmd[@]}"
        say "(a) $p: $A_ORDERS orders, latency ${LATENCY_MS}ms, rate limit ${rate}/s"
        local t0 t1 rc
        t0=$(now_ns)
        run timeout "$A_TIMEOUT" "${cmd[@]}" >/dev/null 2>"$err"
        rc=$?
        t1=$(now_ns)
        rec part=a platform="$p" orders="$A_ORDERS" latency_ms="$LATENCY_MS" rate="$rate" rc="$rc" \
            wall_s="$(secs "$t0" "$t1")" summary="@json:$sum" stderr="@tail:$err"
    done
    sandbox_stop
    # The same data without latency or throttling: how long the sandbox itself takes per request.
    sandbox_start "a-probe" "$A_ORDERS" 0 --throttle-rps 1000000
    for p in $PLATFORMS; do
        say "(a) probe $p"
        probe a "$p" "$A_ORDERS" >/dev/null
    done
    sandbox_stop
}

# ---- (b) normalize vs jq ----------------------------------------------------------------------
time_best() { # REPS OUTFILE cmd... -> best wall seconds (stdout of cmd to OUTFILE)
    local reps=$1 out=$2 best="" i t0 t1 s
    shift 2
    for ((i = 0; i < reps; i++)); do
        t0=$(now_ns)
        "$@" >"$out" 2>/dev/null || { echo "fail"; return; }
        t1=$(now_ns)
        s=$(secs "$t0" "$t1")
        if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$s; fi
    done
    echo "$best"
}

part_b() {
    local p n
    for n in $B_ORDERS; do
        for p in $PLATFORMS; do
            part_b_one "$p" "$n"
        done
    done
}

part_b_one() { # PLATFORM ORDERS
    local p=$1 n=$2
    local big=$BENCH_TMP/b-$p-$n.json bytes keep=""
    if [ -n "${B_FILES:-}" ] && [ -f "$B_FILES/$p-$n.json" ]; then
        # Built before by make_large.py (a million orders takes it minutes): reused, kept.
        big=$B_FILES/$p-$n.json keep=1
        bytes=$(stat -c %s "$big")
        say "(b) $p: reusing $big"
    else
        say "(b) $p: building a $n-order response from fixtures/$p"
        logcmd python3 "$HERE/lib/make_large.py" "$p" "$n" "$ROOT/fixtures" "$big"
        bytes=$(python3 "$HERE/lib/make_large.py" "$p" "$n" "$ROOT/fixtures" "$big") || {
            rec part=b platform="$p" orders="$n" error="make_large failed"; return; }
    fi
    local os_out=$BENCH_TMP/b-$p.ordersync.ndjson jq_out=$BENCH_TMP/b-$p.jq.ndjson
    local os_err=$OUT/b-$p-$n.ordersync.stderr tv=$OUT/b-$p-$n.ordersync.time
    local ftv=$OUT/b-$p-$n.floor.time
    local os_cmd=("$BIN" normalize --platform "$p" "$big")
    local jq_cmd=(jq -c -L "$HERE/jq" -f "$HERE/jq/$p.jq" "$big")
    local floor_cmd=("$FLOOR_BIN" "$big")
    logcmd "${os_cmd[@]}"
    logcmd "${floor_cmd[@]}"
    # One run under /usr/bin/time -v: exit code, output count, peak RSS.
    run /usr/bin/time -v -o "$tv" "${os_cmd[@]}" >"$os_out" 2>"$os_err"
    local os_rc=$? os_lines os_best="" jq_lines="" jq_best="" floor_best="" floor_rc=""
    os_lines=$(wc -l <"$os_out")
    if [ "$os_rc" = 0 ]; then
        say "(b) $p $n: ordersync normalize x$B_REPS"
        os_best=$(time_best "$B_REPS" /dev/null "${os_cmd[@]}")
    fi
    if [ -x "$FLOOR_BIN" ]; then
        run /usr/bin/time -v -o "$ftv" "${floor_cmd[@]}" >/dev/null 2>&1
        floor_rc=$?
        say "(b) $p $n: parse floor x$B_REPS"
        floor_best=$(time_best "$B_REPS" /dev/null "${floor_cmd[@]}")
    fi
    if [ "$n" -le "$B_JQ_MAX" ]; then
        logcmd "${jq_cmd[@]}"
        say "(b) $p $n: jq x$B_REPS"
        jq_best=$(time_best "$B_REPS" "$jq_out" "${jq_cmd[@]}")
        jq_lines=$(wc -l <"$jq_out")
    fi
    rec part=b platform="$p" orders="$n" bytes="$bytes" reps="$B_REPS" \
        ordersync_rc="$os_rc" ordersync_s="$os_best" ordersync_lines="$os_lines" \
        ordersync_rss_kb="@rss:$tv" ordersync_stderr="@tail:$os_err" \
        floor_rc="$floor_rc" floor_s="$floor_best" floor_rss_kb="$( [ -s "$ftv" ] && echo "@rss:$ftv")" \
        jq_s="$jq_best" jq_lines="$jq_lines"
    [ -n "$keep" ] || rm -f "$big"
    rm -f "$os_out" "$jq_out"
}

# ---- (c) peak RSS of the pull -----------------------------------------------------------------
part_c() {
    local n p fmt
    for n in $C_SIZES; do
        sandbox_start "c-$n" "$n" 0 --throttle-rps 1000000
        for p in $PLATFORMS; do
            say "(c) $p $n: probe"
            local predicted
            predicted=$(probe c "$p" "$n")
            if [ "$predicted" -gt "$C_MAX_SECONDS" ] 2>/dev/null; then
                say "(c) $p $n: skipped, predicted ${predicted}s per format (sandbox-bound)"
                for fmt in ndjson json csv; do
                    rec part=c platform="$p" orders="$n" format="$fmt" skipped=1 predicted_s="$predicted"
                done
                continue
            fi
            for fmt in ndjson json csv; do
                local sum=$OUT/c-$p-$n-$fmt.summary.json err=$OUT/c-$p-$n-$fmt.stderr
                local tv=$OUT/c-$p-$n-$fmt.time
                rm -f "$sum" "$tv"
                # shellcheck disable=SC2046
                local cmd=("$BIN" pull --config "$SB_CFG" --shop "sandbox-$p" $(range_of "$p")
                    --format "$fmt" --rate-limit "$MEM_RATE" --summary-json "$sum" -q)
                logcmd /usr/bin/time -v "${cmd[@]}"
                say "(c) $p $n $fmt (predicted ${predicted}s)"
                local t0 t1 rc
                t0=$(now_ns)
                # Only the pull runs under time(1); stdout goes to /dev/null (not --output
                # /dev/null: --output renames a temporary file onto the path).
                run timeout "$C_TIMEOUT" /usr/bin/time -v -o "$tv" "${cmd[@]}" >/dev/null 2>"$err"
                rc=$?
                t1=$(now_ns)
                rec part=c platform="$p" orders="$n" format="$fmt" rc="$rc" \
                    wall_s="$(secs "$t0" "$t1")" predicted_s="$predicted" \
                    peak_rss_kb="@rss:$tv" summary="@json:$sum" stderr="@tail:$err"
            done
        done
        sandbox_stop
    done
}

# (s) The sandbox at scale (issue 18): `ordersync sandbox --orders N` runs under
# /usr/bin/time -v (startup = until its config is printed; peak RSS from time(1)), then each
# platform is pulled over one day of its orders (N/30 of them; Taobao TW by modification time,
# the others by creation time) and the sandbox's resident memory read after each pull.
part_s() {
    local n p
    for n in $S_SIZES; do
        SB_NAME=s-$n
        local cfg=$OUT/sandbox-$SB_NAME.toml tv=$OUT/sandbox-$SB_NAME.time log=$OUT/sandbox-$SB_NAME.log
        local cmd=("$BIN" sandbox --addr 127.0.0.1:0 --orders "$n" --seed "$SEED" --throttle-rps 1000000)
        logcmd /usr/bin/time -v -o "$tv" "${cmd[@]}"
        say "(s) sandbox --orders $n"
        local t0 tpid
        t0=$(now_ns)
        /usr/bin/time -v -o "$tv" "${cmd[@]}" >"$cfg" 2>"$log" &
        tpid=$!
        until grep -q '^\[shops\.sandbox-pandapon-1688\]' "$cfg" 2>/dev/null \
            && [ -z "$(tail -n 1 "$cfg")" ]; do
            kill -0 "$tpid" 2>/dev/null || { echo "run.sh: sandbox exited; see $log" >&2; exit 1; }
            sleep 0.05
        done
        local startup
        startup=$(secs "$t0" "$(now_ns)")
        SB_PID=$(pgrep -P "$tpid" | head -n 1) # the sandbox under time(1); cleanup stops it
        SB_CFG=$cfg
        rec part=sandbox_start name="$SB_NAME" orders="$n" latency_ms=0 startup_s="$startup"
        rec part=s step=start orders="$n" startup_s="$startup" \
            rss_kb="$(awk '/VmRSS/ { print $2 }' "/proc/$SB_PID/status")"
        for p in $PLATFORMS; do
            local by=created sum=$BENCH_TMP/s-$n-$p.json err=$BENCH_TMP/s-$n-$p.err
            [ "$p" = taobao-tw ] && by=modified
            local cmd2=("$BIN" pull --config "$cfg" --shop "sandbox-$p" --by "$by"
                --since "$(date -u -d '-3 days' +%Y-%m-%dT%H:%M:%SZ)"
                --until "$(date -u -d '-2 days' +%Y-%m-%dT%H:%M:%SZ)"
                --rate-limit "$MEM_RATE" --summary-json "$sum" -q)
            logcmd "${cmd2[@]}"
            say "(s) $n: pull $p over one day"
            local t1 rc
            t1=$(now_ns)
            run timeout "$C_TIMEOUT" "${cmd2[@]}" >/dev/null 2>"$err"
            rc=$?
            rec part=s step=pull orders="$n" platform="$p" rc="$rc" wall_s="$(secs "$t1" "$(now_ns)")" \
                sandbox_rss_kb="$(awk '/VmRSS/ { print $2 }' "/proc/$SB_PID/status")" \
                summary="@json:$sum" stderr="@tail:$err"
        done
        rec part=sandbox name="$SB_NAME" \
            peak_rss_kb="$(awk '/VmHWM/ { print $2 }' "/proc/$SB_PID/status")"
        kill -INT "$SB_PID"
        wait "$tpid"
        SB_PID=""
        rec part=s step=stop orders="$n" peak_rss_kb="@rss:$tv"
    done
    python3 - "$RESULTS" >"$OUT/sandbox-scale.md" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if '"part": "s"' in l or '"part":"s"' in l]
mb = lambda kb: "%.1f" % (kb / 1024) if isinstance(kb, (int, float)) else "?"
print("| orders/platform | startup s | RSS at start MB | peak RSS MB (time -v) |")
print("|---:|---:|---:|---:|")
for r in recs:
    if r.get("step") == "start":
        stop = next((s for s in recs if s.get("step") == "stop" and s["orders"] == r["orders"]), {})
        print(f"| {r['orders']:,} | {r['startup_s']} | {mb(r.get('rss_kb'))} | {mb(stop.get('peak_rss_kb'))} |")
print()
print("| orders/platform | platform | orders pulled | pull wall s | sandbox RSS after MB |")
print("|---:|---|---:|---:|---:|")
for r in recs:
    if r.get("step") == "pull":
        got = (r.get("summary") or {}).get("orders_emitted", "?")
        print(f"| {r['orders']:,} | {r['platform']} | {got} | {r['wall_s']} | {mb(r.get('sandbox_rss_kb'))} |")
PY
    say "(s) figures in $OUT/sandbox-scale.md"
}

# ---- (d) the mirror ---------------------------------------------------------------------------
# The same pull as (a), at the platform's rate with --latency-ms, once to NDJSON and once into a
# new mirror (every order new: the most the mirror writes); the mirror's size per order; then
# the mirror grown to D_EXPORT orders and exported to NDJSON and CSV.
part_d() {
    sandbox_start "d" "$D_ORDERS" "$LATENCY_MS"
    local p grown=""
    for p in $PLATFORMS; do
        local db=$BENCH_TMP/d-$p.db kind
        rm -f "$db" "$db"-*
        # shellcheck disable=SC2046
        local warm=("$BIN" pull --config "$SB_CFG" --shop "sandbox-$p" $(range_of "$p") --limit 1 -q)
        timeout 600 "${warm[@]}" >/dev/null 2>&1
        for kind in ndjson db; do
            local sum=$OUT/d-$p-$kind.summary.json err=$OUT/d-$p-$kind.stderr extra=()
            [ "$kind" = db ] && extra=(--db "sqlite:$db")
            rm -f "$sum"
            # shellcheck disable=SC2046
            local cmd=("$BIN" pull --config "$SB_CFG" --shop "sandbox-$p" $(range_of "$p")
                --format ndjson --summary-json "$sum" -q "${extra[@]}")
            logcmd "${cmd[@]}"
            say "(d) $p: $D_ORDERS orders to $kind"
            local t0 t1 rc
            t0=$(now_ns)
            run timeout "$A_TIMEOUT" "${cmd[@]}" >/dev/null 2>"$err"
            rc=$?
            t1=$(now_ns)
            rec part=d platform="$p" kind="$kind" orders="$D_ORDERS" rc="$rc" \
                wall_s="$(secs "$t0" "$t1")" summary="@json:$sum" stderr="@tail:$err" \
                db_bytes="$( [ "$kind" = db ] && stat -c %s "$db" || echo "")"
        done
        [ -z "$grown" ] && [ -s "$db" ] && grown=$db
    done
    sandbox_stop
    [ -n "$grown" ] || return 0
    say "(d) growing the mirror to $D_EXPORT orders"
    logcmd python3 "$HERE/lib/grow_mirror.py" "$grown" "$D_EXPORT"
    python3 "$HERE/lib/grow_mirror.py" "$grown" "$D_EXPORT" >/dev/null || return 0
    local fmt
    for fmt in ndjson csv; do
        local cmd=("$BIN" export --db "sqlite:$grown" --format "$fmt" -q)
        logcmd "${cmd[@]}"
        local best
        best=$(time_best 3 /dev/null "${cmd[@]}")
        say "(d) export of $D_EXPORT orders to $fmt: ${best}s"
        rec part=d_export format="$fmt" orders="$D_EXPORT" wall_s="$best" db_bytes="$(stat -c %s "$grown")"
    done
}

# shellcheck source=lib/fleet.sh
. "$HERE/lib/fleet.sh"

# ---- (r) flat memory to a million ------------------------------------------------------------
# Peak RSS (time -v) of the pull process alone, at each of R_SIZES orders per platform, to each
# output: NDJSON, JSON, CSV on stdout (to /dev/null) and a new SQLite mirror (`--db`, its change
# lines to /dev/null). The sandbox generates orders on demand and is not counted. Pulls run at
# MEM_RATE with no latency: CPU-bound, the most a pull can have in flight. Cells run one at a time.
part_r() {
    local n p out smallest
    smallest=$(printf '%s\n' $R_SIZES | sort -n | head -n 1)
    for n in $R_SIZES; do
        sandbox_start "r-$n" "$n" 0 --throttle-rps 1000000
        for p in $PLATFORMS; do
            for out in $R_OUTPUTS; do
                if [ "$n" != "$smallest" ] && [[ "$out" == json || "$out" == csv ]] \
                    && [[ " $R_WIDE " != *" $p "* ]]; then
                    continue
                fi
                local sum=$OUT/r-$p-$n-$out.summary.json err=$OUT/r-$p-$n-$out.stderr
                local tv=$OUT/r-$p-$n-$out.time db=$BENCH_TMP/r-$p-$n.db
                local fmt=$out
                local extra=()
                rm -f "$sum" "$tv" "$db" "$db"-*
                if [ "$out" = db ]; then
                    fmt=ndjson
                    extra=(--db "sqlite:$db")
                elif [ "$out" = pg ]; then
                    # A database of its own per cell, on one cluster started for the part.
                    [ -n "$PG_ROOT" ] || pg_start || return 1
                    local pgdb=r_${p//-/_}_$n
                    pg_createdb "$pgdb" || return 1
                    fmt=ndjson
                    extra=(--db "postgres://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/$pgdb")
                fi
                # shellcheck disable=SC2046
                # --give-up-after: its default (10 minutes) is shorter than a million-order pull.
                local cmd=("$BIN" pull --config "$SB_CFG" --shop "sandbox-$p" $(range_of "$p")
                    --format "$fmt" --rate-limit "$MEM_RATE" --give-up-after "${R_TIMEOUT}s"
                    --summary-json "$sum" -q "${extra[@]}")
                logcmd /usr/bin/time -v "${cmd[@]//$PG_PASSWORD/***}"
                say "(r) $p $n $out"
                local t0 t1 rc
                t0=$(now_ns)
                run timeout "$R_TIMEOUT" /usr/bin/time -v -o "$tv" "${cmd[@]}" >/dev/null 2>"$err"
                rc=$?
                t1=$(now_ns)
                rec part=r platform="$p" orders="$n" output="$out" rc="$rc" \
                    wall_s="$(secs "$t0" "$t1")" peak_rss_kb="@rss:$tv" summary="@json:$sum" \
                    stderr="@tail:$err" load="$(cut -d' ' -f1 /proc/loadavg)" \
                    db_bytes="$( [ "$out" = db ] && stat -c %s "$db" 2>/dev/null || echo "")"
                rm -f "$db" "$db"-*
            done
        done
        sandbox_stop
    done
}

say "output in $OUT"
for part in $PARTS; do
    case "$part" in
        a) part_a ;;
        b) part_b ;;
        c) part_c ;;
        s) part_s ;;
        d) part_d ;;
        m) part_m ;;
        f) part_f ;;
        r) part_r ;;
    esac
done
case " $PARTS " in *" m "*|*" f "*) fleet_report ;; esac
OUT=$OUT BENCH_TMP=$BENCH_TMP BIN=$BIN HERE=$HERE python3 "$HERE/lib/report.py" "$RESULTS" "$COMMANDS" | tee "$OUT/report.md"
