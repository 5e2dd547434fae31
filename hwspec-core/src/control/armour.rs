//! Turning a file's text into the lines the deb822 parser sees, remembering each one's line
//! number in the file.

use super::{ControlError, ControlErrorKind};

const BEGIN_SIGNED: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
const BEGIN_SIGNATURE: &str = "-----BEGIN PGP SIGNATURE-----";
const END_SIGNATURE: &str = "-----END PGP SIGNATURE-----";

/// The file's lines (numbered from 1) without comment lines, which dpkg drops wherever they
/// appear, and with whitespace-only lines emptied, since dpkg ends a stanza at them too.
pub(super) fn plain_lines(text: &str) -> Vec<(usize, &str)> {
    numbered(text).filter_map(normalise_line).collect()
}

fn numbered(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line))
}

fn normalise_line((number, line): (usize, &str)) -> Option<(usize, &str)> {
    if line.starts_with('#') {
        None
    } else if line.trim().is_empty() {
        Some((number, ""))
    } else {
        Some((number, line))
    }
}

/// A `.dsc`'s lines: the signed text of a clear-signed file with dash-escaping undone (RFC 4880
/// §7.1), or the whole file when it is not signed. The signature is not checked.
pub(super) fn dsc_lines<'a>(
    text: &'a str,
    origin: &str,
) -> Result<Vec<(usize, &'a str)>, ControlError> {
    let armour_error = |line: usize, message: &str| {
        ControlError::new(ControlErrorKind::Armour, origin, message).at_line(line)
    };
    let mut lines = numbered(text).skip_while(|(_, line)| line.trim().is_empty());
    let Some((begin_line, first)) = lines.next() else {
        return Ok(Vec::new());
    };
    if first.trim_end() != BEGIN_SIGNED {
        if let Some((number, _)) =
            numbered(text).find(|(_, line)| line.starts_with("-----BEGIN PGP"))
        {
            return Err(armour_error(
                number,
                "PGP armour in a file that does not start with -----BEGIN PGP SIGNED MESSAGE-----",
            ));
        }
        return Ok(plain_lines(text));
    }

    let mut last_line = begin_line;
    let mut headers_ended = false;
    for (number, line) in lines.by_ref() {
        last_line = number;
        if line.trim().is_empty() {
            headers_ended = true;
            break;
        }
        if !line.contains(':') {
            return Err(armour_error(
                number,
                "expected an armour header such as \"Hash: SHA256\" or a blank line after -----BEGIN PGP SIGNED MESSAGE-----",
            ));
        }
    }
    if !headers_ended {
        return Err(armour_error(
            last_line,
            "the armour headers are not followed by a blank line and the signed text (truncated file?)",
        ));
    }

    let mut body = Vec::new();
    let mut signature_line = None;
    for (number, line) in lines.by_ref() {
        last_line = number;
        if line.trim_end() == BEGIN_SIGNATURE {
            signature_line = Some(number);
            break;
        }
        body.extend(normalise_line((
            number,
            line.strip_prefix("- ").unwrap_or(line),
        )));
    }
    let Some(signature_line) = signature_line else {
        return Err(armour_error(
            last_line,
            "the signed text is not followed by -----BEGIN PGP SIGNATURE----- (truncated file?)",
        ));
    };
    if !lines
        .by_ref()
        .any(|(_, line)| line.trim_end() == END_SIGNATURE)
    {
        return Err(armour_error(
            signature_line,
            "the signature is not ended by -----END PGP SIGNATURE----- (truncated file?)",
        ));
    }
    if let Some((number, _)) = lines.find(|(_, line)| !line.trim().is_empty()) {
        return Err(armour_error(number, "text after the PGP signature"));
    }
    Ok(body)
}
