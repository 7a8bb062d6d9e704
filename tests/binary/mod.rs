//! Running the real binary as a user would, with nothing inherited from the environment that
//! could point it elsewhere.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::Path;
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_poolhist");

/// `poolhist --db DB` with `key` as the access key and no other POOLHIST_* variable.
pub fn poolhist_with_key(db: &Path, key: &str) -> Command {
    let mut command = Command::new(BIN);
    command
        .arg("--db")
        .arg(db)
        .env("POOLHIST_ACCESS_KEY", key)
        .env_remove("POOLHIST_DB")
        .env_remove("POOLHIST_PUID")
        .env_remove("POOLHIST_API_URL")
        .env_remove("POOLHIST_ACCESS_KEY_FILE")
        .env_remove("POOLHIST_POOL")
        .env_remove("POOLHIST_ACCOUNT")
        .env_remove("POOLHIST_CONFIG")
        .env_remove("POOLHIST_LOG")
        .env_remove("POOLHIST_WEBHOOK")
        .stdin(Stdio::null());
    command
}

/// An ingest that cannot reach anything (port 1) and gives up at the first failure.
pub const INGEST_NOWHERE: [&str; 9] = [
    "ingest",
    "--puid",
    "1",
    "--api-url",
    "http://127.0.0.1:1/v1",
    "--max-attempts",
    "1",
    "--timeout",
    "1",
];

pub fn run(command: &mut Command) -> Output {
    command.output().expect("poolhist runs")
}

pub fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
