//! The access key: kept out of Debug output, logs and error texts.

use std::fmt;
use std::path::Path;

const BYTE_ORDER_MARK: char = '\u{feff}';

/// The pool access key. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey(String);

impl AccessKey {
    pub fn new(key: impl Into<String>) -> Result<AccessKey, String> {
        let key: String = key.into();
        // Windows editors save UTF-8 with a byte order mark, which is not whitespace to trim.
        let key = key
            .trim()
            .trim_start_matches(BYTE_ORDER_MARK)
            .trim()
            .to_owned();
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

/// Replaces every occurrence of `secret` in `text` with `***`, in whatever form it travels:
/// raw, or with any of its bytes percent-encoded (upper or lower case hex), and a space as `+`.
/// Matching byte by byte covers every encoder (reqwest's form-urlencoding, RFC 3986, a pool's
/// own) without a table of "unreserved" characters that could disagree with what was sent.
pub fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_owned();
    }
    let mut clean = String::with_capacity(text.len());
    let mut copied_up_to = 0;
    let mut position = 0;
    while position < text.len() {
        let found = text
            .is_char_boundary(position)
            .then(|| encoded_occurrence_len(&text.as_bytes()[position..], secret.as_bytes()))
            .flatten()
            .filter(|len| text.is_char_boundary(position + len));
        match found {
            Some(len) => {
                clean.push_str(&text[copied_up_to..position]);
                clean.push_str("***");
                position += len;
                copied_up_to = position;
            }
            None => position += 1,
        }
    }
    clean.push_str(&text[copied_up_to..]);
    clean
}

/// Length of the occurrence of `secret` at the start of `text`, each byte raw, as `%XX`, or as
/// `%25XX` (a URL encoded once more, as when a pool echoes it inside another query string).
fn encoded_occurrence_len(text: &[u8], secret: &[u8]) -> Option<usize> {
    let Some((&wanted, after)) = secret.split_first() else {
        return Some(0);
    };
    let first = *text.first()?;
    let literal = first == wanted || (wanted == b' ' && first == b'+');
    let encoded = first == b'%' && text.get(1..3).and_then(decode_hex_pair) == Some(wanted);
    let twice = text.get(..3) == Some(b"%25".as_slice())
        && text.get(3..5).and_then(decode_hex_pair) == Some(wanted);
    // A `%` in the key and `%25` in the text may be either: each reading is tried.
    [(literal, 1), (encoded, 3), (twice, 5)]
        .into_iter()
        .filter(|(matches, _)| *matches)
        .find_map(|(_, width)| encoded_occurrence_len(&text[width..], after).map(|len| width + len))
}

fn decode_hex_pair(pair: &[u8]) -> Option<u8> {
    let digit = |b: u8| (b as char).to_digit(16);
    Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
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
    fn redact_removes_rfc3986_form_and_lowercase_hex() {
        let key = "a~b*c/é";
        for sent in [
            "a~b%2Ac%2F%C3%A9",
            "a%7Eb*c%2F%C3%A9",
            "a%7eb%2ac%2f%c3%a9",
            "%61%7E%62%2A%63%2F%c3%A9",
        ] {
            assert_eq!(redact(&format!("k={sent}&x"), key), "k=***&x", "{sent}");
        }
    }

    #[test]
    fn redact_handles_a_percent_sign_in_the_key_raw_or_encoded() {
        assert_eq!(redact("k=a%25b&x", "a%b"), "k=***&x");
        assert_eq!(redact("k=a%b&x", "a%b"), "k=***&x");
        assert_eq!(redact("k=a%2541", "a%41"), "k=***");
    }

    #[test]
    fn redact_keeps_text_around_multibyte_characters() {
        assert_eq!(redact("été k1 été", "k1"), "été *** été");
        assert_eq!(redact("%C3 é", "é"), "%C3 ***");
    }

    #[test]
    fn a_leading_byte_order_mark_is_not_part_of_the_key() {
        let key = AccessKey::new("\u{feff}r_key~1\r\n").unwrap();
        assert_eq!(key.expose(), "r_key~1");
    }

    #[test]
    fn a_key_file_saved_with_a_byte_order_mark_reads_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.txt");
        std::fs::write(&path, "\u{feff}r_key~1\r\nsecond line\r\n").unwrap();
        assert_eq!(AccessKey::from_file(&path).unwrap().expose(), "r_key~1");
    }

    #[test]
    fn empty_key_is_refused() {
        assert!(AccessKey::new("  \n").is_err());
    }
}
