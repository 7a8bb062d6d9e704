//! Reading a Parquet export back, for the export tests: every row of a table as exact values
//! (partition values from the path, doubles by their bits), and the same from SQLite.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use rusqlite::Connection;

/// One value of a row, comparable exactly (doubles by their bits).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Value {
    Null,
    Int(i64),
    Bits(u64),
    Bool(bool),
    Text(String),
}

pub fn value_of(field: &Field) -> Value {
    match field {
        Field::Null => Value::Null,
        Field::Int(v) => Value::Int(i64::from(*v)),
        Field::Long(v) => Value::Int(*v),
        // Back to the database's Unix seconds.
        Field::TimestampMicros(v) => {
            assert_eq!(v % 1_000_000, 0, "whole seconds");
            Value::Int(v / 1_000_000)
        }
        Field::Double(v) => Value::Bits(v.to_bits()),
        Field::Bool(v) => Value::Bool(*v),
        Field::Str(v) => Value::Text(v.clone()),
        other => panic!("a type the export does not write: {other:?}"),
    }
}

pub fn sql_value(value: rusqlite::types::ValueRef) -> Value {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(v) => Value::Int(v),
        ValueRef::Real(v) => Value::Bits(v.to_bits()),
        ValueRef::Text(v) => Value::Text(String::from_utf8(v.to_vec()).unwrap()),
        ValueRef::Blob(_) => panic!("no blob is exported"),
    }
}

/// A Hive partition value back to its text.
pub fn unescape(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&value[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Every file under `out`, however deep.
pub fn files_under(out: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![out.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// Every Parquet file under `out`: relative path -> its bytes.
pub fn parquet_files(out: &Path) -> BTreeMap<String, Vec<u8>> {
    files_under(out)
        .into_iter()
        .filter(|path| path.extension().is_some_and(|e| e == "parquet"))
        .map(|path| {
            let relative = path
                .strip_prefix(out)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (relative, fs::read(&path).unwrap())
        })
        .collect()
}

/// Temporary files left anywhere under `out`.
pub fn temporary_files(out: &Path) -> Vec<PathBuf> {
    files_under(out)
        .into_iter()
        .filter(|path| path.to_string_lossy().ends_with(".tmp"))
        .collect()
}

/// Every row of one table in the tree: partition values from the path, then the columns.
pub fn rows_of(out: &Path, table: &str) -> BTreeSet<Vec<Value>> {
    let mut rows = BTreeSet::new();
    for (path, bytes) in parquet_files(out) {
        let mut parts = path.split('/');
        if parts.next() != Some(table) {
            continue;
        }
        let partition: Vec<(String, String)> = parts
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_owned(), unescape(v)))
            .collect();
        let reader = SerializedFileReader::new(bytes::Bytes::from(bytes)).unwrap();
        let month = partition
            .iter()
            .find(|(k, _)| k == "month")
            .map(|(_, v)| v.clone());
        for row in reader.get_row_iter(None).unwrap() {
            let row = row.unwrap();
            let mut values: Vec<Value> = partition
                .iter()
                .filter(|(k, _)| k != "month")
                .map(|(_, v)| Value::Text(v.clone()))
                .collect();
            for (name, field) in row.get_column_iter() {
                let value = value_of(field);
                // Each row is in the partition of its UTC month.
                if let (Some(month), "ts" | "day", Value::Int(ts)) = (&month, name.as_str(), &value)
                {
                    let row_month = chrono::DateTime::from_timestamp(*ts, 0)
                        .unwrap()
                        .format("%Y-%m")
                        .to_string();
                    assert_eq!(&row_month, month, "{path}: a row of another month");
                }
                values.push(value);
            }
            assert!(rows.insert(values), "{path}: a row twice");
        }
    }
    rows
}

pub fn sql_rows(db: &Path, sql: &str) -> BTreeSet<Vec<Value>> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let columns = stmt.column_count();
    let mut rows = stmt.query([]).unwrap();
    let mut all = BTreeSet::new();
    while let Some(row) = rows.next().unwrap() {
        let values = (0..columns)
            .map(|i| sql_value(row.get_ref(i).unwrap()))
            .collect();
        all.insert(values);
    }
    all
}

pub const TICKERS_SQL: &str =
    "SELECT a.pool, a.account, s.dimension, s.worker_id, t.ts, t.hashrate_hs, \
       t.reject_rate, t.provisional = 1 FROM tickers t JOIN series s USING (series_id) \
       JOIN accounts a ON a.account_id = s.account_id";
pub const SUMMARY_SQL: &str = "SELECT a.pool, a.account, s.worker_id, h.day_ts, h.hours_final, h.hours_up, \
       h.up_mask, h.hashrate_sum, h.reject_weight_sum FROM hourly_by_day h JOIN series s USING (series_id) \
       JOIN accounts a ON a.account_id = s.account_id";
pub const WORKERS_SQL: &str =
    "SELECT a.pool, a.account, w.worker_id, w.worker_name, w.gid, g.name, w.status, \
       w.last_share_time, w.first_seen, w.last_seen FROM workers w \
       JOIN accounts a ON a.account_id = w.account_id \
       LEFT JOIN groups g ON g.account_id = w.account_id AND g.gid = w.gid";
