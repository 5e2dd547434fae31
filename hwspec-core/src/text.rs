//! Text that came from untrusted input (package fields, file names, driver strings), made safe
//! to show on a terminal.
//!
//! A control character in a package's field or a device name would otherwise reach the
//! terminal of whoever runs `hwspec` (as root, from apt): an escape sequence can recolour,
//! retitle, hide or rewrite what was printed before it, and bidirectional overrides can make
//! text read differently from what it is. Such characters are shown as visible escapes instead
//! (`\x1b`, `\u{202e}`), so nothing is lost and nothing is interpreted.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;

/// `text` with every character that a terminal would interpret shown as an escape: C0 and C1
/// control characters and DEL (except newline and tab, which structure hwspec's own output),
/// and the Unicode bidirectional formatting characters.
pub fn printable(text: &str) -> Cow<'_, str> {
    escape(text, |c| matches!(c, '\n' | '\t'))
}

/// [`printable`] for text that must stay on one line (a message, a file name): newlines and
/// tabs are escaped too.
pub fn printable_line(text: &str) -> Cow<'_, str> {
    escape(text, |_| false)
}

/// A JSON document with every character a terminal would interpret written as a `\uXXXX`
/// escape. serde_json escapes the C0 controls itself but leaves DEL, the C1 controls and the
/// bidirectional formatting characters raw; they can only occur inside strings, where the
/// escape means the same character.
pub fn printable_json(json: &str) -> Cow<'_, str> {
    // Whitespace between tokens is JSON's own layout; inside strings serde escaped it.
    let needs_escape = |c: char| is_interpreted(c) && !matches!(c, '\n' | '\t' | '\r');
    if !json.chars().any(needs_escape) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if needs_escape(c) {
            // Every such character is in the Basic Multilingual Plane: one UTF-16 unit.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The most characters of untrusted text [`quoted`] repeats.
const QUOTED_CHARS: usize = 64;

/// `text` in double quotes for a message, cut after 64 characters (and the length given), so
/// that a huge token is not repeated back whole. Escaping is left to whoever prints it.
pub fn quoted(text: &str) -> String {
    match text.char_indices().nth(QUOTED_CHARS) {
        None => format!("\"{text}\""),
        Some((cut, _)) => format!(
            "\"{}…\" ({} characters)",
            &text[..cut],
            text.chars().count()
        ),
    }
}

/// A path for a message: its text where it is UTF-8, each other byte as `\xNN`, and
/// [`printable_line`]'s escapes, so that any file name apt or a user passes can be named.
pub fn printable_path(path: &Path) -> String {
    printable_bytes(path.as_os_str().as_encoded_bytes())
}

/// Bytes that should be text (a file name, an environment variable) for a message, as
/// [`printable_path`] shows them.
pub fn printable_bytes(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.push_str(&printable_line(chunk.valid()));
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out
}

fn escape(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    let needs_escape = |c: char| is_interpreted(c) && !keep(c);
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if !needs_escape(c) {
            out.push(c);
        } else if c == '\n' {
            out.push_str("\\n");
        } else if c == '\t' {
            out.push_str("\\t");
        } else if c.is_ascii() {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
    Cow::Owned(out)
}

/// Whether a terminal acts on `c` rather than showing it.
fn is_interpreted(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        let text = "cuda (>= 12.0) | opencl, gpü\n\tnext line";
        assert!(matches!(printable(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn escape_sequences_and_bidi_overrides_become_visible() {
        assert_eq!(printable("a\x1b[31mred\x07\r"), "a\\x1b[31mred\\x07\\x0d");
        assert_eq!(printable("\u{9b}2J\u{7f}"), "\\u{9b}2J\\x7f");
        assert_eq!(printable("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(printable("keeps\n\tlayout"), "keeps\n\tlayout");
        assert_eq!(printable_line("one\nline\t"), "one\\nline\\t");
    }

    #[test]
    fn json_keeps_its_meaning_without_raw_controls() {
        let value = serde_json::json!({"name": "a\u{1b}[2J\u{9b}b\u{202e}c\u{7f}", "n": 1});
        let text = serde_json::to_string_pretty(&value).unwrap();
        let safe = printable_json(&text);
        assert!(
            !safe.chars().any(|c| is_interpreted(c) && c != '\n'),
            "{safe}"
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&safe).unwrap(),
            value
        );
    }

    #[test]
    fn paths_that_are_not_utf8_are_named_byte_by_byte() {
        use std::os::unix::ffi::OsStrExt;
        let path = Path::new(std::ffi::OsStr::from_bytes(b"/tmp/a\xff\x1b[2Jb.deb"));
        assert_eq!(printable_path(path), "/tmp/a\\xff\\x1b[2Jb.deb");
    }

    #[test]
    fn long_tokens_are_quoted_cut() {
        assert_eq!(quoted("cuda"), "\"cuda\"");
        let long = "x".repeat(1000);
        assert_eq!(
            quoted(&long),
            format!("\"{}…\" (1000 characters)", "x".repeat(64))
        );
    }
}
