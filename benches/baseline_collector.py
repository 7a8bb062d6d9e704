#!/usr/bin/env python3
"""The collector a user would otherwise write: the baseline of `cargo bench --bench ingest`.

One request at a time (`requests`, or urllib when it is not installed), `sqlite3`, row-by-row
inserts and a commit per response. It lists the workers through the `/worker` pages, then
fetches the account's and each worker's `share-history` for 1h and 1d (with `real_point=1`, as
poolhist does), paging from the pool's retention horizon to now with the same start_ts/count rule
as poolhist, and stores the same rows:
hashrate in H/s (unit letters resolved), reject rate as a fraction, the live slot marked
provisional. It copes with the pool's quirks: numbers as strings, unit letters that vary per
response, null tickers, rows under `data` or `list`, ids as strings or numbers.

Prints one JSON line at the end: {"requests": .., "rows": .., "workers": .., "seconds": .., "http": ..}.
"""

import argparse
import json
import os
import sqlite3
import sys
import time

try:
    import requests

    HTTP = "requests"
except ImportError:  # the bench prefers requests; urllib keeps the baseline runnable without it
    import urllib.parse
    import urllib.request

    requests = None
    HTTP = "urllib"

# The most points one request asks for; the pool may serve fewer (it caps count silently).
MAX_COUNT = 720
# Until a page shows how many slots one request covers, assume this many.
MIN_ASSUMED_SLOTS = 30
UNITS = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
STEP = {"1h": 3600, "1d": 86400}
# The account's rows are stored under worker_id 0 (no worker has id 0).
ACCOUNT = 0


class Pool:
    def __init__(self, base_url, access_key, puid):
        self.base_url = base_url.rstrip("/")
        self.access_key = access_key
        self.puid = puid
        self.requests = 0
        self.session = requests.Session() if requests else None

    def get(self, path, **params):
        params.update(access_key=self.access_key, puid=self.puid)
        url = self.base_url + path
        self.requests += 1
        if self.session is not None:
            response = self.session.get(url, params=params, timeout=30)
            response.raise_for_status()
            body = response.json()
        else:
            with urllib.request.urlopen(url + "?" + urllib.parse.urlencode(params), timeout=30) as r:
                body = json.load(r)
        if str(body.get("err_no", 0)) != "0":
            raise RuntimeError(f"{path}: err_no {body.get('err_no')}: {body.get('err_msg')}")
        return body["data"]


def number(value):
    """A number sent as a JSON number or a string; None for null or empty."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    return float(text) if text else None


def unit_multiplier(unit):
    letter = str(unit or "").strip().upper()
    for suffix in ("H/S", "H"):
        if letter.endswith(suffix):
            letter = letter[: -len(suffix)]
            break
    return UNITS[letter]


def list_workers(pool):
    workers = {}
    page = 1
    while True:
        data = pool.get("/worker", status="all", page=page, page_size=MAX_COUNT)
        rows = data.get("data") or data.get("list") or []
        if not rows:
            break
        for row in rows:
            worker_id = int(row["worker_id"])
            workers[worker_id] = row.get("worker_name") or ""
        total = number(data.get("total_count"))
        page_count = number(data.get("page_count"))
        if (total is not None and len(workers) >= total) or (
            page_count is not None and page >= page_count
        ):
            break
        page += 1
    return workers


def fetch_series(pool, db, path, worker_id, dimension, retention, now, slots_seen):
    """Pages one series forward from the retention horizon to now; returns rows stored."""
    step = STEP[dimension]
    current = now // step * step
    cursor = current - (retention - 1) * step
    stored = 0
    while cursor <= now:
        count = max(1, min(MAX_COUNT, (now - cursor) // step + 1))
        # real_point=1: the live slot's current value, not the statistic that reads low.
        data = pool.get(path, dimension=dimension, start_ts=cursor, count=count, real_point=1)
        multiplier = unit_multiplier(data.get("shares_unit"))
        newest = None
        for ticker in data.get("tickers") or []:
            if not isinstance(ticker, list) or len(ticker) < 2:
                continue  # null: no data for that slot
            ts, accept = number(ticker[0]), number(ticker[1])
            reject_percent = number(ticker[2]) if len(ticker) > 2 else None
            if ts is None or accept is None:
                continue
            ts = int(ts)
            if reject_percent is None:
                if accept != 0:
                    continue
                reject_percent = 0.0
            if ts % 3600 or ts > now or accept < 0 or not 0 <= reject_percent <= 100:
                continue
            db.execute(
                "INSERT OR REPLACE INTO tickers VALUES (?, ?, ?, ?, ?, ?)",
                (
                    worker_id,
                    dimension,
                    ts,
                    accept * multiplier,
                    reject_percent / 100.0,
                    1 if ts + step > now else 0,
                ),
            )
            stored += 1
            if ts >= cursor and (newest is None or ts > newest):
                newest = ts
        db.commit()
        if newest is not None:
            slots_seen[dimension] = max(
                slots_seen[dimension], min((newest - cursor) // step + 1, count)
            )
            cursor = newest + step
        else:
            known = slots_seen[dimension] or MIN_ASSUMED_SLOTS
            cursor += max(1, min(known, count)) * step
    return stored


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--puid", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--now", type=int, default=None, help="the clock (Unix seconds)")
    parser.add_argument("--worker-hours", type=int, default=72)
    parser.add_argument("--worker-days", type=int, default=90)
    parser.add_argument("--account-hours", type=int, default=720)
    parser.add_argument("--account-days", type=int, default=365)
    args = parser.parse_args()
    access_key = os.environ.get("POOLHIST_ACCESS_KEY")
    if not access_key:
        sys.exit("set POOLHIST_ACCESS_KEY")
    now = args.now if args.now is not None else int(time.time())

    started = time.monotonic()
    db = sqlite3.connect(args.db)
    db.execute(
        "CREATE TABLE IF NOT EXISTS workers (worker_id INTEGER PRIMARY KEY, worker_name TEXT)"
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS tickers (
               worker_id INTEGER NOT NULL, dimension TEXT NOT NULL, ts INTEGER NOT NULL,
               hashrate_hs REAL NOT NULL, reject_rate REAL NOT NULL, provisional INTEGER NOT NULL,
               PRIMARY KEY (worker_id, dimension, ts))"""
    )
    pool = Pool(args.api_url, access_key, args.puid)
    workers = list_workers(pool)
    for worker_id, name in workers.items():
        db.execute("INSERT OR REPLACE INTO workers VALUES (?, ?)", (worker_id, name))
    db.commit()

    slots_seen = {"1h": 0, "1d": 0}
    rows = 0
    for dimension, retention in (("1h", args.account_hours), ("1d", args.account_days)):
        rows += fetch_series(
            pool, db, "/worker/share-history", ACCOUNT, dimension, retention, now, slots_seen
        )
    for worker_id in workers:
        for dimension, retention in (("1h", args.worker_hours), ("1d", args.worker_days)):
            rows += fetch_series(
                pool,
                db,
                f"/worker/{worker_id}/share-history",
                worker_id,
                dimension,
                retention,
                now,
                slots_seen,
            )
    stored = db.execute("SELECT count(*) FROM tickers").fetchone()[0]
    db.close()
    print(
        json.dumps(
            {
                "requests": pool.requests,
                "rows": stored,
                "rows_sent": rows,
                "workers": len(workers),
                "seconds": round(time.monotonic() - started, 3),
                "http": HTTP,
            }
        )
    )


if __name__ == "__main__":
    main()
