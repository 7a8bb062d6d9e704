-- poolhist schema v5: watching the farm. Alert rules are evaluated over the stored history; what
-- fires lives here, so a problem is told once when it opens and once when it resolves, and a
-- webhook delivery that failed is tried again at the next evaluation.
--
-- Nothing here changes a public view; v_alerts and v_alert_events are new.

-- The listing before the last one, of the account and of each worker: workers_changed tells a
-- worker in the account's last listing but not in the one before (new, or back), and the reverse.
ALTER TABLE accounts ADD COLUMN previous_seen INTEGER;
ALTER TABLE workers ADD COLUMN previous_seen INTEGER;

-- One row per alert: a rule holding for one subject from the evaluation that opened it to the
-- one that saw it stop. A subject is stable across evaluations:
--   'worker:<account_id>:<worker_id>', 'group:<account_id>:<gid>', 'account:<account_id>',
--   'series:<series_id>'.
CREATE TABLE alerts (
    alert_id          INTEGER PRIMARY KEY,
    rule              TEXT    NOT NULL,
    subject           TEXT    NOT NULL,
    account_id        INTEGER REFERENCES accounts(account_id),
    worker_id         INTEGER,            -- NULL for account- and group-level alerts
    group_id          INTEGER,            -- the group of a group-level alert
    -- pending: the rule holds but not yet for the evaluations it must (flapping damped); never
    -- told. open: told once. resolved: told once as recovered.
    state             TEXT    NOT NULL CHECK (state IN ('pending', 'open', 'resolved')),
    held              INTEGER NOT NULL,   -- consecutive evaluations the rule held
    since             INTEGER NOT NULL,   -- when the condition began, as the data shows
    opened_at         INTEGER,            -- the evaluation time that opened it
    resolved_at       INTEGER,
    message           TEXT    NOT NULL,   -- the latest evaluation's words
    value             REAL,               -- the measured figure, in the rule's unit
    threshold         REAL,
    last_evaluated_at INTEGER NOT NULL
);
-- One live (pending or open) alert per rule and subject.
CREATE UNIQUE INDEX alerts_live ON alerts (rule, subject) WHERE state <> 'resolved';

-- What was told: an alert opening or resolving. Webhooks deliver these.
CREATE TABLE alert_events (
    event_id   INTEGER PRIMARY KEY,
    alert_id   INTEGER NOT NULL REFERENCES alerts(alert_id),
    kind       TEXT    NOT NULL CHECK (kind IN ('open', 'resolved')),
    at         INTEGER NOT NULL,          -- the evaluation time
    message    TEXT    NOT NULL
);
CREATE INDEX alert_events_by_time ON alert_events (at);

-- Each evaluation, for damping, replays and the metrics.
CREATE TABLE alert_evaluations (
    evaluation_id INTEGER PRIMARY KEY,
    evaluated_at  INTEGER NOT NULL,       -- the time evaluated as of (`--now`)
    ran_at        INTEGER NOT NULL,       -- the wall clock
    firing        INTEGER NOT NULL,
    opened        INTEGER NOT NULL,
    resolved      INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL
);

-- Webhook URLs hold tokens: only a SHA-256 fingerprint and scheme://host are kept.
CREATE TABLE webhook_targets (
    target_id   INTEGER PRIMARY KEY,
    fingerprint TEXT    NOT NULL UNIQUE,
    label       TEXT    NOT NULL,
    first_seen  INTEGER NOT NULL          -- events before it are not sent, but alerts still open
);

-- An event accepted by a target (2xx) is never sent to it again; one that failed is retried.
CREATE TABLE webhook_deliveries (
    event_id     INTEGER NOT NULL REFERENCES alert_events(event_id),
    target_id    INTEGER NOT NULL REFERENCES webhook_targets(target_id),
    attempts     INTEGER NOT NULL DEFAULT 0,
    delivered_at INTEGER,
    last_error   TEXT,
    PRIMARY KEY (event_id, target_id)
) WITHOUT ROWID;

-- Alerts that were told (pending ones are not), with names.
CREATE VIEW v_alerts AS
SELECT al.alert_id,
       al.rule,
       al.state,
       a.pool,
       a.account,
       al.worker_id,
       w.worker_name,
       g.name AS group_name,
       al.since,
       strftime('%Y-%m-%dT%H:%M:%SZ', al.since, 'unixepoch') AS since_utc,
       al.opened_at,
       al.resolved_at,
       al.message,
       al.value,
       al.threshold,
       al.account_id,
       COALESCE(al.group_id, w.gid) AS group_id
FROM alerts al
LEFT JOIN accounts a ON a.account_id = al.account_id
LEFT JOIN workers w ON w.account_id = al.account_id AND w.worker_id = al.worker_id
LEFT JOIN groups g ON g.account_id = al.account_id AND g.gid = COALESCE(al.group_id, w.gid)
WHERE al.state <> 'pending';

-- Every opening and resolution told, as webhooks send them.
CREATE VIEW v_alert_events AS
SELECT e.event_id,
       e.kind,
       e.at,
       strftime('%Y-%m-%dT%H:%M:%SZ', e.at, 'unixepoch') AS at_utc,
       v.alert_id,
       v.rule,
       CASE e.kind WHEN 'open' THEN 'open' ELSE 'resolved' END AS state,
       v.pool,
       v.account,
       v.worker_id,
       v.worker_name,
       v.group_name,
       v.since,
       v.since_utc,
       e.message
FROM alert_events e
JOIN v_alerts v ON v.alert_id = e.alert_id;
