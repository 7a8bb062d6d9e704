//! Log and panic output, with the access keys scrubbed from every line at every level
//! (a dependency's debug log could print a request URL, and URLs carry the key).

use std::io::Write;
use std::sync::RwLock;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Registers an access key (or any secret) so that every later log line and panic message
/// hides it.
pub fn register_secret(secret: &str) {
    if let Ok(mut secrets) = SECRETS.write() {
        if !secret.is_empty() && !secrets.iter().any(|s| s == secret) {
            secrets.push(secret.to_owned());
        }
    }
}

/// Replaces every registered secret in `text`.
pub fn scrub(text: &str) -> String {
    match SECRETS.read() {
        Ok(secrets) => secrets.iter().fold(text.to_owned(), |text, secret| {
            crate::http::secret::redact(&text, secret)
        }),
        Err(_) => text.to_owned(),
    }
}

/// The one line an error prints as: its message, then each cause whose text the line does not
/// already hold (a message that quotes its `source()` would otherwise say it twice).
pub fn error_line(error: &anyhow::Error) -> String {
    let mut line = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

/// Prints `error: ...` on stderr, key scrubbed and control characters shown escaped (pool
/// messages and names end up in errors). Never panics, unlike `eprintln!` on a broken stderr.
pub fn print_error(error: &anyhow::Error) {
    let line = scrub(&error_line(error));
    let line = crate::report::render::escape_controls(&line);
    let _ = writeln!(std::io::stderr(), "error: {line}");
}

/// Prints a warning that must reach the user even with `--quiet` (cron mails stderr): it is
/// about their setup, not about the run.
pub fn print_warning(text: &str) {
    let line = scrub(text);
    let line = crate::report::render::escape_controls(&line);
    let _ = writeln!(std::io::stderr(), "warning: {line}");
}

/// Logs to stderr: `error` only when quiet, else `info`; `POOLHIST_LOG` overrides (e.g. debug).
pub fn init(quiet: bool) {
    let default = if quiet { "error" } else { "info" };
    let filter =
        EnvFilter::try_from_env("POOLHIST_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(ScrubbingStderr)
        // Colour only for a person at a terminal; cron mail and log files get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .compact()
        .try_init();
    std::panic::set_hook(Box::new(|info| {
        let message = scrub(&info.to_string());
        let _ = writeln!(
            std::io::stderr(),
            "poolhist crashed (a bug; please report it): {message}"
        );
    }));
}

#[derive(Clone, Copy)]
struct ScrubbingStderr;

impl<'a> MakeWriter<'a> for ScrubbingStderr {
    type Writer = ScrubbingWriter;
    fn make_writer(&'a self) -> ScrubbingWriter {
        ScrubbingWriter
    }
}

/// Each formatted event arrives in one `write`; it is scrubbed, then written whole.
struct ScrubbingWriter;

impl Write for ScrubbingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = scrub(&String::from_utf8_lossy(buf));
        std::io::stderr().write_all(text.as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Prints a line for people on stderr (secrets scrubbed, controls escaped) where stdout is
/// kept for machines.
pub fn print_note(text: &str) {
    let line = scrub(text);
    let line = crate::report::render::escape_controls(&line);
    let _ = writeln!(std::io::stderr(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("query failed: {0}")]
    struct Quoting(#[source] std::io::Error);

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let quoting = anyhow::Error::new(Quoting(std::io::Error::other("near \"SELEC\"")));
        assert_eq!(error_line(&quoting), "query failed: near \"SELEC\"");
        let wrapped = anyhow::Error::new(std::io::Error::other("disk gone")).context("cannot save");
        assert_eq!(error_line(&wrapped), "cannot save: disk gone");
    }
}
