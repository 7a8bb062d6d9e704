//! The access key: kept out of Debug output, logs and error texts.

use std::fmt;
use std::path::Path;

/// The pool access key. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey(String);

impl AccessKey {
    pub fn new(key: impl Into<String>) -> Result<AccessKey, String> {
        let key: String = key.into().trim().to_owned();
        if key.is_empty() {
            return Err("the access key is empty".to_owned());
        }
        if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("the access key contains whitespace".to_owned());
        }
        Ok(AccessKey(key))
    }

    /// Reads the key from a file (first line), warning-free only when the file is private.
    pub fn from_file(path: &Path) -> Result<AccessKey, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read access key file {}: {e}", path.display()))?;
        let first_line = text.lines().next().unwrap_or_default();
        AccessKey::new(first_line).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The key itself, for the request query string only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessKey(***)")
    }
}

impl fmt::Display for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Replaces every occurrence of `secret` in `text` with `***`.
pub fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_owned();
    }
    let mut clean = text.replace(secret, "***");
    // As it appears in a query string, too.
    let encoded: String = secret
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    if encoded != secret {
        clean = clean.replace(&encoded, "***");
    }
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_key() {
        let key = AccessKey::new("r_secret123").unwrap();
        assert!(!format!("{key:?} {key}").contains("secret123"));
    }

    #[test]
    fn redact_removes_every_occurrence() {
        assert_eq!(redact("a k1 b k1", "k1"), "a *** b ***");
    }

    #[test]
    fn redact_removes_the_url_encoded_form_too() {
        assert_eq!(
            redact("?access_key=a%2Bb%2F&x", "a+b/"),
            "?access_key=***&x"
        );
    }

    #[test]
    fn empty_key_is_refused() {
        assert!(AccessKey::new("  \n").is_err());
    }
}
