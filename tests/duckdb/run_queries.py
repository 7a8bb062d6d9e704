#!/usr/bin/env python3
"""Run a DuckDB query of queries/duckdb/ over a poolhist Parquet export and print JSON.

    python3 tests/duckdb/run_queries.py --dir OUT --from UNIX --to UNIX \
        [--pool P] [--account A] [--group G] [--worker GLOB] \
        --query uptime|reject_rate|reject_rate_by_day|rows

Prints one JSON list of objects (keys = the query's output column names, in order; timestamps
as Unix seconds; NULL as null). The SQL is read from queries/duckdb/<query>.sql next to this
file's repository root; its parameters are set as DuckDB variables (poolhist_dir, from_ts,
to_ts, pool, account, group_name, worker_glob; unset = NULL = all).
`rows` prints every tickers row of the selected accounts (no period: --from/--to may be left
out and are ignored), sorted, for a round-trip comparison with the SQLite database.

Exit codes: 0 ok, 2 bad arguments, 1 query failed, 77 the duckdb module is not installed
(tests/duckdb/requirements.txt pins the version; 77 = "skipped" for test harnesses).
"""
import argparse
import datetime
import decimal
import json
import math
import os
import sys

QUERIES = ("uptime", "reject_rate", "reject_rate_by_day", "rows")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SQL_DIR = os.path.join(ROOT, "queries", "duckdb")


def to_json_value(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:  # a naive TIMESTAMP is UTC in this export
            value = value.replace(tzinfo=datetime.timezone.utc)
        return int(value.timestamp())
    if isinstance(value, datetime.date):
        return int(datetime.datetime(value.year, value.month, value.day,
                                     tzinfo=datetime.timezone.utc).timestamp())
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True,
                    help="the export directory (holds tickers/, workers/)")
    ap.add_argument("--from", dest="from_ts", type=int,
                    help="period start, Unix seconds (inclusive)")
    ap.add_argument("--to", dest="to_ts", type=int, help="period end, Unix seconds (exclusive)")
    ap.add_argument("--pool", help="cloverpool / foundry (default: every pool)")
    ap.add_argument("--account", help="account as its pool names it (default: every account)")
    ap.add_argument("--group", help="group name or numeric id (default: every group)")
    ap.add_argument("--worker", help="worker name GLOB pattern (default: every worker)")
    ap.add_argument("--query", required=True, choices=QUERIES)
    args = ap.parse_args(argv)
    if args.query != "rows" and (args.from_ts is None or args.to_ts is None):
        ap.error(f"--query {args.query} needs --from and --to")
    if not os.path.isdir(args.dir):
        ap.error(f"--dir {args.dir}: not a directory")

    try:
        import duckdb
    except ImportError as e:
        print(f"run_queries.py: skipped: cannot import duckdb ({e}); "
              f"pip install -r tests/duckdb/requirements.txt", file=sys.stderr)
        return 77

    with open(os.path.join(SQL_DIR, args.query + ".sql"), encoding="utf-8") as f:
        sql = f.read()

    variables = {
        "poolhist_dir": os.path.abspath(args.dir),
        "from_ts": args.from_ts,
        "to_ts": args.to_ts,
        "pool": args.pool,
        "account": args.account,
        "group_name": args.group,
        "worker_glob": args.worker,
    }
    try:
        con = duckdb.connect(":memory:")
        # The queries do not depend on it (Unix-second arithmetic only); set anyway so any
        # TIMESTAMPTZ that reaches Python is rendered in UTC.
        con.execute("SET TimeZone = 'UTC'")
        for name, value in variables.items():
            if value is None:
                con.execute(f"SET VARIABLE {name} = NULL")
            elif isinstance(value, int):
                con.execute(f"SET VARIABLE {name} = CAST(? AS BIGINT)", [value])
            else:
                con.execute(f"SET VARIABLE {name} = CAST(? AS VARCHAR)", [value])
        cur = con.execute(sql)
        columns = [d[0] for d in cur.description]
        rows = cur.fetchall()
    except duckdb.Error as e:
        print(f"run_queries.py: {args.query}: {e}", file=sys.stderr)
        return 1

    out = [{c: to_json_value(v) for c, v in zip(columns, row)} for row in rows]
    json.dump(out, sys.stdout, allow_nan=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
