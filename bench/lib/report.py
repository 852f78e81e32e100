#!/usr/bin/env python3
"""Print the benchmark's tables (Markdown) from results.jsonl.

    report.py RESULTS.jsonl [COMMANDS.txt]
"""
import json
import os
import sys

A_GOAL = 1.10
B_GOAL = 10.0
C_SPREAD_GOAL = 0.10
C_MAX_MB = 50.0
M_SPREAD_GOAL = 0.10
M_MAX_MB = 30.0
D_WALL_GOAL = 1.02
D_EXPORT_GOAL = 200_000


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def fmt(v, nd=2):
    if v is None or v == "":
        return "–"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def first_line(s):
    if not s:
        return ""
    lines = [l for l in str(s).splitlines() if l.strip()]
    text = lines[-1] if lines else ""
    return text.replace("|", "\\|")[:160]


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(fmt(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def num(v):
    return v if isinstance(v, (int, float)) else None


def part_a(recs, probes, env):
    rows, notes = [], []
    for r in recs:
        p, s = r["platform"], r.get("summary") or {}
        rate = num(r.get("rate"))
        req = s.get("requests")
        wall = num(r.get("wall_s"))
        ideal = req / rate if req and rate else None
        ratio = wall / ideal if wall and ideal else None
        pr = probes.get(p) or {}
        ps = pr.get("summary") or {}
        svc_ms = ps["elapsed_ms"] / ps["requests"] if ps.get("requests") else None
        per_req_ms = wall * 1000 / req if wall and req else None
        if r.get("rc") != 0:
            verdict = f"ERROR (exit {r.get('rc')})"
            notes.append(f"- **{p}** (a) failed, exit {r.get('rc')}: `{first_line(r.get('stderr'))}`")
        else:
            verdict = "ok" if ratio is not None and ratio <= A_GOAL else "MISSED"
        if r.get("rc") == 0 and svc_ms is not None and rate:
            budget = 1000 / rate
            seq = svc_ms + (num(r.get("latency_ms")) or 0)
            if seq > budget:
                notes.append(
                    f"- **{p}**: one request takes about {seq:.0f} ms (latency {r.get('latency_ms')} ms"
                    f" + sandbox {svc_ms:.0f} ms) but the rate limit allows one every {budget:.0f} ms:"
                    f" a client with one request in flight cannot reach the limit"
                    f" (floor ≈ requests × {seq:.0f} ms = {req * seq / 1000:.0f} s)."
                )
        rows.append([
            p, s.get("orders_emitted"), r.get("orders"), req, s.get("pages"), s.get("windows"),
            s.get("retries"), rate, wall, ideal, ratio, verdict, per_req_ms, svc_ms,
        ])
    head = ["platform", "orders out", "of", "requests", "pages", "windows", "retries",
            "rate/s", "wall s", "ideal s", "ratio", f"≤ {A_GOAL}", "ms/request", "sandbox ms/req*"]
    text = table(head, rows)
    text += ("\n\n\\* `sandbox ms/req`: the same sandbox data served without latency or throttling,"
             f" pulled with one request in flight (`--limit {env.get('probe_limit', 300)}`"
             " `--rate-limit 100000`), second of two such pulls (the first warms the sandbox's"
             " render cache): the sandbox's own time per request.")
    return text, notes


def part_b(recs):
    rows, notes = [], []
    # jq's orders/s per platform where it ran: sizes above B_JQ_MAX are compared with it.
    jq_rate_of = {}
    for r in recs:
        n, jq_s = num(r.get("orders")), num(r.get("jq_s"))
        if n and jq_s:
            jq_rate_of[r["platform"]] = n / jq_s
    for r in recs:
        p = r["platform"]
        n = num(r.get("orders"))
        os_s, jq_s, floor_s = num(r.get("ordersync_s")), num(r.get("jq_s")), num(r.get("floor_s"))
        os_rate = n / os_s if n and os_s else None
        jq_rate = n / jq_s if n and jq_s else None
        jq_note = ""
        if jq_rate is None and p in jq_rate_of:
            jq_rate, jq_note = jq_rate_of[p], "*"
        speed = os_rate / jq_rate if os_rate and jq_rate else None
        over_floor = os_s / floor_s if os_s and floor_s else None
        if r.get("error"):
            verdict = "ERROR"
            notes.append(f"- **{p}** (b): {r['error']}")
        elif r.get("ordersync_rc") != 0:
            verdict = f"ERROR (exit {r.get('ordersync_rc')})"
            notes.append(f"- **{p}** (b) `ordersync normalize` failed, exit {r.get('ordersync_rc')}:"
                         f" `{first_line(r.get('ordersync_stderr'))}`")
        else:
            verdict = "ok" if speed is not None and speed >= B_GOAL else "MISSED"
        for who, lines in (("ordersync", r.get("ordersync_lines")), ("jq", r.get("jq_lines"))):
            if who == "ordersync" and r.get("ordersync_rc") != 0:
                continue
            if who == "jq" and not jq_s:
                continue
            if lines != n:
                notes.append(f"- **{p}** (b): {who} wrote {lines} records for {n} orders")
        rss = num(r.get("ordersync_rss_kb"))
        frss = num(r.get("floor_rss_kb"))
        rows.append([
            p, n, (r.get("bytes") or 0) / 1e6, os_s, os_rate, rss / 1024 if rss else None,
            floor_s, frss / 1024 if frss else None, over_floor,
            jq_s, (fmt(jq_rate) + jq_note) if jq_rate else None,
            (fmt(speed) + jq_note) if speed else None, verdict,
        ])
    head = ["platform", "orders", "file MB", "ordersync s", "ordersync orders/s",
            "ordersync peak RSS MB", "floor s", "floor RSS MB", "× floor", "jq s",
            "jq orders/s", "speed-up", f"≥ {B_GOAL:.0f}×"]
    if any(row[10] and str(row[10]).endswith("*") for row in rows):
        notes.append("- (b) `*`: jq not run at this size (B_JQ_MAX); its orders/s at the size"
                     " it ran is used")
    return table(head, rows), notes


def part_c(recs):
    cells = {}
    order = []
    for r in recs:
        key = (r["platform"], r["orders"])
        if key not in cells:
            cells[key] = {}
            order.append(key)
        cells[key][r["format"]] = r
    rows, notes = [], []
    per_platform = {}
    for p, n in order:
        row = [p, n]
        emitted, walls = [], []
        for f in ("ndjson", "json", "csv"):
            r = cells[(p, n)].get(f) or {}
            if r.get("skipped"):
                row.append(f"skipped (~{r.get('predicted_s')} s)")
                continue
            if r.get("rc") != 0:
                row.append(f"ERROR ({r.get('rc')})")
                notes.append(f"- **{p}** (c) {n} {f} failed, exit {r.get('rc')}:"
                             f" `{first_line(r.get('stderr'))}`")
                continue
            kb = num(r.get("peak_rss_kb"))
            row.append(kb / 1024 if kb else None)
            if kb:
                per_platform.setdefault(p, []).append(kb / 1024)
            s = r.get("summary") or {}
            emitted.append(s.get("orders_emitted"))
            walls.append(num(r.get("wall_s")) or 0)
        row.append(", ".join(fmt(e) for e in sorted(set(e for e in emitted if e is not None))) or "–")
        row.append(max(walls) if walls else None)
        rows.append(row)
        skipped = [f for f in ("ndjson", "json", "csv") if (cells[(p, n)].get(f) or {}).get("skipped")]
        if skipped:
            pred = cells[(p, n)][skipped[0]].get("predicted_s")
            notes.append(f"- **{p}** (c) {n:,} orders not run: predicted ~{pred} s per format"
                         " (sandbox time per request × requests; see the probe), over C_MAX_SECONDS.")
    head = ["platform", "orders", "NDJSON MB", "JSON MB", "CSV MB", "orders out", "max wall s"]
    text = table(head, rows)
    vrows = []
    for p, mbs in per_platform.items():
        lo, hi = min(mbs), max(mbs)
        spread = (hi - lo) / lo if lo else None
        ok = spread is not None and spread <= C_SPREAD_GOAL and hi < C_MAX_MB
        sizes = sorted({n for (q, n) in order if q == p})
        ran = sorted({n for (q, n) in order if q == p
                      and any((cells[(q, n)].get(f) or {}).get("peak_rss_kb") for f in cells[(q, n)])})
        partial = "" if ran == sizes else f" (only {', '.join(f'{x:,}' for x in ran)} ran)"
        vrows.append([p, lo, hi, spread * 100 if spread is not None else None,
                      ("ok" if ok else "MISSED") + partial])
    text += "\n\n" + table(["platform", "min MB", "max MB", "spread %",
                            f"≤ {C_SPREAD_GOAL:.0%} and < {C_MAX_MB:.0f} MB"], vrows)
    return text, notes


def part_r(recs):
    """Peak RSS per platform and output at each size. The goal (issue 18) compares each
    output with itself: its peak at the largest size within 10% of its peak at the smallest,
    and every peak under 30 MB."""
    outputs = ["ndjson", "json", "csv", "db"]
    sizes = sorted({r["orders"] for r in recs})
    cells = {(r["platform"], r["orders"], r["output"]): r for r in recs}
    platforms = list(dict.fromkeys(r["platform"] for r in recs))
    peak = {}
    rows, vrows, notes = [], [], []
    for p in platforms:
        for n in sizes:
            row = [p, n]
            walls = []
            for o in outputs:
                r = cells.get((p, n, o))
                if r is None:
                    row.append("–")
                    continue
                kb = num(r.get("peak_rss_kb"))
                if r.get("rc") != 0:
                    # The peak until it stopped is still a lower bound of the whole run's.
                    row.append(f"≥ {kb / 1024:.2f} (exit {r.get('rc')})" if kb
                               else f"ERROR ({r.get('rc')})")
                    notes.append(f"- **{p}** (r) {n} {o} failed, exit {r.get('rc')}:"
                                 f" `{first_line(r.get('stderr'))}`")
                    continue
                row.append(kb / 1024 if kb else None)
                if kb:
                    peak[(p, n, o)] = kb / 1024
                walls.append(num(r.get("wall_s")) or 0)
            emitted = sorted({(cells[(p, n, o)].get("summary") or {}).get("orders_emitted")
                              for o in outputs if (p, n, o) in cells} - {None})
            requests = sorted({(cells[(p, n, o)].get("summary") or {}).get("requests")
                               for o in outputs if (p, n, o) in cells} - {None})
            row.append(", ".join(fmt(e) for e in emitted) or "–")
            row.append(", ".join(fmt(e) for e in requests) or "–")
            row.append(max(walls) if walls else None)
            rows.append(row)
        lo_n, hi_n = sizes[0], sizes[-1]
        for o in outputs:
            a, b = peak.get((p, lo_n, o)), peak.get((p, hi_n, o))
            if a is None or b is None:
                continue
            growth = (b - a) / a
            ok = growth <= M_SPREAD_GOAL and max(a, b) < M_MAX_MB
            vrows.append([p, o, a, b, growth * 100, "ok" if ok else "MISSED"])
    text = table(["platform", "orders", "NDJSON MB", "JSON MB", "CSV MB", "--db MB",
                  "orders out", "requests", "max wall s"], rows)
    text += "\n\n" + table(["platform", "output", f"{sizes[0]:,} MB", f"{sizes[-1]:,} MB",
                            "growth %", f"≤ {M_SPREAD_GOAL:.0%} and < {M_MAX_MB:.0f} MB"], vrows)
    return text, notes


def part_d(recs, exports):
    by = {}
    for r in recs:
        by.setdefault(r["platform"], {})[r["kind"]] = r
    rows = []
    for p, k in by.items():
        nd, db = k.get("ndjson", {}), k.get("db", {})
        w0, w1 = num(nd.get("wall_s")), num(db.get("wall_s"))
        n = (db.get("summary") or {}).get("orders_emitted")
        size = num(db.get("db_bytes"))
        ratio = w1 / w0 if w0 and w1 else None
        rows.append([p, n, w0, w1, ratio, size / n if size and n else None,
                     "ok" if ratio and ratio <= D_WALL_GOAL else "MISSED"])
    text = table(["platform", "orders", "ndjson wall s", "--db wall s", "ratio",
                  "bytes/order", f"≤ {D_WALL_GOAL:.2f}"], rows)
    erows = []
    for r in exports:
        wall, n = num(r.get("wall_s")), num(r.get("orders"))
        rate = n / wall if wall and n else None
        erows.append([r["format"], n, wall, rate,
                      (num(r.get("db_bytes")) or 0) / n if n else None,
                      "ok" if rate and rate >= D_EXPORT_GOAL else "MISSED"])
    if erows:
        text += "\n\n" + table(["export to", "orders", "wall s (best of 3)", "orders/s",
                                 "bytes/order", f"≥ {D_EXPORT_GOAL:,}/s"], erows)
    return text, []


def main():
    recs = load(sys.argv[1])
    env = next((r for r in recs if r.get("part") == "env"), {})
    out = ["# ordersync benchmark", ""]
    out.append(f"- date: {env.get('date')}; machine: {env.get('nproc')} CPUs ({env.get('cpu')}),"
               f" {env.get('mem_gb')} GB RAM; load average at start: {env.get('load')}")
    out.append(f"- commit: {env.get('commit')} ({env.get('dirty_src_files')} uncommitted files under"
               f" src/ or Cargo.*); {env.get('version')}; {env.get('jq')}")
    out.append(f"- mode: {'QUICK' if env.get('quick') == 1 else 'full'}; parts: {env.get('parts')};"
               f" platforms: {env.get('platforms')}")
    out.append(f"- (a) {env.get('a_orders')} orders per platform, --latency-ms {env.get('latency_ms')};"
               f" (b) {env.get('b_orders')} orders, best of {env.get('b_reps')};"
               f" (c) {env.get('c_sizes')} orders; --seed {env.get('seed')}")
    notes = []
    a = [r for r in recs if r.get("part") == "a"]
    # The warm probe (the second); older results have a single probe without "pass".
    probes = {}
    for r in recs:
        if r.get("part") == "probe" and r.get("for") == "a" and r.get("pass", "warm") == "warm":
            probes[r["platform"]] = r
    if a:
        t, n = part_a(a, probes, env)
        out += ["", "## (a) Wall time of a pull vs requests / rate limit", "", t]
        notes += n
    b = [r for r in recs if r.get("part") == "b"]
    if b:
        t, n = part_b(b)
        out += ["", "## (b) `ordersync normalize` vs jq on one large response", "", t]
        notes += n
    c = [r for r in recs if r.get("part") == "c"]
    if c:
        t, n = part_c(c)
        out += ["", "## (c) Peak RSS of the pull process (MB)", "", t]
        notes += n
    rr = [r for r in recs if r.get("part") == "r"]
    if rr:
        t, n = part_r(rr)
        out += ["", "## (r) Peak RSS of the pull process, flat to a million (MB)", "", t]
        notes += n
    d = [r for r in recs if r.get("part") == "d"]
    if d:
        t, n = part_d(d, [r for r in recs if r.get("part") == "d_export"])
        out += ["", "## (d) The SQLite mirror: pull --db vs ndjson, export", "", t]
        notes += n
    sb = [r for r in recs if r.get("part") in ("sandbox", "sandbox_start")]
    if sb:
        starts = {r["name"]: r for r in sb if r["part"] == "sandbox_start"}
        peaks = {r["name"]: r for r in sb if r["part"] == "sandbox"}
        rows = [[name, s.get("orders"), s.get("latency_ms"), s.get("startup_s"),
                 (peaks.get(name, {}).get("peak_rss_kb") or 0) / 1024 or None]
                for name, s in starts.items()]
        out += ["", "## Sandbox processes (not measured above)", "",
                table(["sandbox", "orders/platform", "latency ms", "startup s", "peak RSS MB"], rows)]
    if notes:
        out += ["", "## Notes", ""] + notes
    if len(sys.argv) > 2:
        # Paths shortened: $BIN the binary, $OUT the run's folder, $TMP the scratch folder.
        subst = [(os.environ.get(k), "$" + k) for k in ("OUT", "BENCH_TMP", "BIN", "HERE")]
        subst = sorted([(a, b.replace("BENCH_TMP", "TMP").replace("HERE", "BENCH"))
                        for a, b in subst if a], key=lambda x: -len(x[0]))
        with open(sys.argv[2], encoding="utf-8") as f:
            cmds = []
            for l in f:
                if not l.strip():
                    continue
                for a, b in subst:
                    l = l.replace(a, b)
                cmds.append(l.rstrip())
        out += ["", "## Commands", "",
                "`$BIN` = " + (os.environ.get("BIN") or "ordersync") + ", `$OUT` = "
                + (os.environ.get("OUT") or "the output folder") + ", `$TMP` = scratch folder,"
                " `$BENCH` = bench/", "", "```"] + cmds + ["```"]
    print("\n".join(out))


if __name__ == "__main__":
    main()
