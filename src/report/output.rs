//! What commands print on stdout: every write checked and flushed, since a report cut short by a
//! full disk must not exit 0. `println!` is never used for output: it panics when a write fails.

use std::io::Write as _;

use super::ReportError;

/// Writes `text` to stdout and flushes it.
///
/// A reader that went away (`poolhist sql ... | head -1`, EPIPE) ends the output quietly with
/// success, as ripgrep does: the reader chose to stop reading, which is no failure of ours, and
/// a script under `set -o pipefail` should not fail because it only wanted the first line.
pub fn print(text: &str) -> Result<(), ReportError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(ReportError::Output(io_message(&e))),
    }
}

/// An I/O error as a person reads it: "No space left on device", without "(os error 28)".
pub fn io_message(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(end) if text.ends_with(')') => text[..end].to_owned(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_messages_lose_the_os_error_number() {
        let full = std::io::Error::from_raw_os_error(28);
        assert!(
            !io_message(&full).contains("os error"),
            "{}",
            io_message(&full)
        );
        let custom = std::io::Error::other("disk gone");
        assert_eq!(io_message(&custom), "disk gone");
    }
}
