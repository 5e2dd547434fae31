//! Reading the `X-Requires-Hwspec` field from Debian packaging files (design §1, issue 5 item 3).
//!
//! Three places carry the field:
//!
//! - `debian/control`, where the maintainer writes it: in the source stanza, in binary stanzas, or
//!   both. dpkg only copies user-defined fields onward when their name says where to
//!   (deb-src-control(5)): `XS-Requires-Hwspec` reaches the `.dsc`, `XB-Requires-Hwspec` the
//!   `.deb`, both with the prefix stripped; a plain `X-Requires-Hwspec` stays in the source tree.
//! - a `.dsc`, as `Requires-Hwspec` (or, hand-written, an `X…-` spelling).
//! - a `.deb`'s `control` member, as `Requires-Hwspec` (or an `X…-` spelling).
//!
//! This module returns the field's text with continuation lines joined and runs of whitespace
//! collapsed; the requirement expression itself is parsed by the `spec` module. A missing field
//! means `cpu`. Field names are matched case-insensitively, as dpkg does.

mod armour;
mod deb;
mod error;
mod rocm;
mod spelling;

#[cfg(test)]
mod tests;

use std::io::BufReader;
use std::path::Path;

use deb822_lossless::{Deb822, Paragraph};
use serde::Serialize;

pub use error::{ControlError, ControlErrorKind};
pub use rocm::{rocm_fields, RocmField, ROCM_FIELDS};
pub use spelling::{spelling_warning, SpellingWarning};

use crate::sys::{self, BoundedReadError};

/// The field name a maintainer writes in `debian/control`.
pub const FIELD: &str = "X-Requires-Hwspec";

/// The field's name once dpkg has stripped the `XS-`/`XB-` prefix (in a `.dsc` or a `.deb`).
const COPIED_FIELD: &str = "Requires-Hwspec";

/// A `debian/control`, a `.dsc`, or a `.deb`'s `control` file larger than this is refused before
/// it is parsed: real ones are a few KiB (a few hundred for the largest source packages), and
/// the bound keeps what a hostile file can make hwspec allocate small. Parsing is linear in the
/// size.
pub const MAX_CONTROL_SIZE: usize = 4 * 1024 * 1024;

/// A `.deb`'s `control.tar` member larger than this, as stored or once decompressed, is refused:
/// it also holds `md5sums`, a few MiB for the packages with the most files, and the bound stops
/// a decompression bomb. The member is decompressed as a stream, so memory does not grow with
/// it.
pub const MAX_CONTROL_ARCHIVE: u64 = 64 * 1024 * 1024;

/// One stanza's requirement.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct FieldValue {
    /// The binary package the value applies to; `None` for a source stanza or a `.dsc`.
    pub package: Option<String>,
    /// Where it was read, for messages: e.g. `debian/control, binary stanza hwspec-demo`.
    pub origin: String,
    /// The field's name as spelled in the file, or [`FIELD`] when the field is absent.
    pub field: String,
    /// The field's text, whitespace-normalised; `None` when absent, which means `cpu`. An empty
    /// field gives `Some("")`, which the requirement language also reads as `cpu`.
    pub value: Option<String>,
    /// The 1-based line of the field in the file (for a `.deb`, in its `control` file);
    /// `None` when the field is absent.
    pub line: Option<usize>,
}

/// Which kind of file [`from_path`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A source tree's `debian/control`.
    Control,
    /// A source package's `.dsc`.
    Dsc,
    /// A binary package.
    Deb,
}

/// Reads the requirement from a `debian/control`.
///
/// The first stanza is the source stanza and must have `Source:`; every other stanza is a binary
/// stanza and must have `Package:`. Without `package` the result has the source stanza's entry
/// first, then one entry per binary stanza in file order; with `package` it has the source entry
/// and that binary's entry. A binary stanza without the field does not inherit the source's: its
/// entry says `None`. The caller ANDs all returned entries: a buildd building the source package
/// must satisfy the source's requirement and every binary's.
///
/// Comment lines (`#` in column 0) are dropped as dpkg drops them, and lines of only whitespace
/// separate stanzas as they do for dpkg.
pub fn from_control(
    text: &str,
    origin: &str,
    package: Option<&str>,
) -> Result<Vec<FieldValue>, ControlError> {
    let doc = Document::parse(armour::plain_lines(text), origin)?;
    let mut stanzas = doc.deb822.paragraphs();
    let source = stanzas.next().ok_or_else(|| {
        ControlError::new(ControlErrorKind::Empty, origin, "the file has no stanza")
    })?;
    if source.get("Source").is_none() {
        return Err(ControlError::new(
            ControlErrorKind::NoSourceStanza,
            origin,
            "the first stanza has no Source: field; debian/control must start with the source stanza",
        )
        .at_line(doc.line_of_paragraph(&source)));
    }
    let mut entries = vec![doc.read_field(
        &source,
        origin,
        Some("source stanza"),
        None,
        Dialect::Control,
    )?];

    let mut binaries = Vec::new();
    for (index, stanza) in stanzas.enumerate() {
        let name = stanza_name(&stanza).ok_or_else(|| {
            ControlError::new(
                ControlErrorKind::MissingPackage,
                origin,
                "this binary stanza has no Package: field",
            )
            .at_line(doc.line_of_paragraph(&stanza))
            .in_stanza(format!("stanza {}", index + 2))
        })?;
        binaries.push((name, stanza));
    }

    let wanted: Vec<_> = match package {
        None => binaries.iter().collect(),
        Some(wanted) => {
            let found: Vec<_> = binaries.iter().filter(|(name, _)| name == wanted).collect();
            if found.is_empty() {
                let known: Vec<&str> = binaries.iter().map(|(name, _)| name.as_str()).collect();
                let known = if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                };
                return Err(ControlError::new(
                    ControlErrorKind::UnknownPackage,
                    origin,
                    format!("no binary package {wanted:?}; the binary packages are: {known}"),
                ));
            }
            found
        }
    };
    for (name, stanza) in wanted {
        let label = format!("binary stanza {name}");
        entries.push(doc.read_field(stanza, origin, Some(&label), Some(name), Dialect::Control)?);
    }
    Ok(entries)
}

/// Reads the requirement from a `.dsc` (the `Requires-Hwspec` that dpkg-source copied from
/// `XS-Requires-Hwspec`).
///
/// A PGP clear-signed `.dsc` has its armour removed and dash-escaping undone; the signature is
/// NOT verified: callers that need to trust the file must check it with a verifier such as
/// `dscverify` or `gpgv` first.
pub fn from_dsc(text: &str, origin: &str) -> Result<FieldValue, ControlError> {
    let doc = Document::parse(armour::dsc_lines(text, origin)?, origin)?;
    let stanza = doc.single_stanza(origin)?;
    if stanza.get("Source").is_none() {
        return Err(ControlError::new(
            ControlErrorKind::NoSourceStanza,
            origin,
            "the stanza has no Source: field; is this a .dsc?",
        )
        .at_line(doc.line_of_paragraph(&stanza)));
    }
    doc.read_field(&stanza, origin, None, None, Dialect::Copied)
}

/// Reads the requirement from a binary package (`.deb`): its `control` member's `Requires-Hwspec`
/// (which dpkg-gencontrol copied from `XB-Requires-Hwspec`).
///
/// Control members compressed with gzip, xz (any check type and filter) or zstd, or not
/// compressed, are understood, as dpkg-deb reads them; when the archive holds `control` twice,
/// the last one counts, as for dpkg. A member larger than [`MAX_CONTROL_ARCHIVE`], stored or
/// decompressed, or a `control` file larger than [`MAX_CONTROL_SIZE`], is refused; memory stays
/// bounded whatever the member holds.
pub fn from_deb(bytes: &[u8], origin: &str) -> Result<FieldValue, ControlError> {
    from_deb_reader(bytes, origin)
}

fn from_deb_reader(reader: impl std::io::Read, origin: &str) -> Result<FieldValue, ControlError> {
    let text = deb_control_text(reader, origin)?;
    let doc = Document::parse(armour::plain_lines(&text), origin)?;
    let stanza = doc.single_stanza(origin)?;
    let name = stanza_name(&stanza).ok_or_else(|| {
        ControlError::new(
            ControlErrorKind::MissingPackage,
            origin,
            "the control file has no Package: field",
        )
        .at_line(doc.line_of_paragraph(&stanza))
    })?;
    doc.read_field(&stanza, origin, None, Some(&name), Dialect::Copied)
}

/// The error for a file that could not be read: too large, or not readable at all.
fn read_error(origin: &str, err: BoundedReadError) -> ControlError {
    let message = format!("cannot read: {err}");
    let kind = match err {
        BoundedReadError::TooLarge(_) => ControlErrorKind::TooLarge,
        _ => ControlErrorKind::Io,
    };
    ControlError::new(kind, origin, message).with_source(err)
}

/// The control text of the file at `path`: a `debian/control` or `.dsc` itself, read under
/// [`MAX_CONTROL_SIZE`], or a `.deb`'s control member. Opened without blocking and refused
/// unless a regular file.
fn control_text(path: &Path, kind: Kind, origin: &str) -> Result<String, ControlError> {
    match kind {
        Kind::Control | Kind::Dsc => {
            let bytes = sys::read_regular_file(path, MAX_CONTROL_SIZE as u64)
                .map_err(|e| read_error(origin, e))?;
            String::from_utf8(bytes).map_err(|err| {
                ControlError::new(
                    ControlErrorKind::NotUtf8,
                    origin,
                    format!("not UTF-8 (at byte {})", err.utf8_error().valid_up_to()),
                )
            })
        }
        Kind::Deb => {
            let file = sys::open_regular_file(path).map_err(|e| read_error(origin, e))?;
            deb_control_text(BufReader::new(file), origin)
        }
    }
}

/// The control file of the `.deb` read from `reader`, as text.
fn deb_control_text(reader: impl std::io::Read, origin: &str) -> Result<String, ControlError> {
    let control = deb::control_file(reader, origin)?;
    String::from_utf8(control).map_err(|err| {
        ControlError::new(
            ControlErrorKind::NotUtf8,
            origin,
            format!(
                "the control file is not UTF-8 (at byte {})",
                err.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Reads the file at `path` as `kind`; errors name the path.
///
/// `package` selects a binary stanza of a `debian/control` (see [`from_control`]); for a `.deb`
/// it must be that package's name, and a `.dsc`, which has no per-binary fields, takes none. A
/// `.deb` is read as a stream, so a large package is not loaded into memory: only its first
/// members are read.
pub fn from_path(
    path: &Path,
    kind: Kind,
    package: Option<&str>,
) -> Result<Vec<FieldValue>, ControlError> {
    let origin = crate::text::printable_path(path);
    match kind {
        Kind::Control | Kind::Dsc => {
            let text = control_text(path, kind, &origin)?;
            if kind == Kind::Control {
                return from_control(&text, &origin, package);
            }
            if let Some(package) = package {
                return Err(ControlError::new(
                    ControlErrorKind::UnknownPackage,
                    &origin,
                    format!(
                        "a .dsc describes the source package only; it has no field for binary package {package:?}"
                    ),
                ));
            }
            Ok(vec![from_dsc(&text, &origin)?])
        }
        Kind::Deb => {
            let file = sys::open_regular_file(path).map_err(|e| read_error(&origin, e))?;
            let value = from_deb_reader(BufReader::new(file), &origin)?;
            match package {
                Some(wanted) if value.package.as_deref() != Some(wanted) => Err(ControlError::new(
                    ControlErrorKind::UnknownPackage,
                    &origin,
                    format!(
                        "this is binary package {:?}, not {wanted:?}",
                        value.package.as_deref().unwrap_or_default()
                    ),
                )),
                _ => Ok(vec![value]),
            }
        }
    }
}

/// Which field spellings a file may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// `debian/control`: only `X[SBC]*-` spellings are user-defined fields there.
    Control,
    /// `.dsc` and `.deb`: dpkg wrote the stripped name, a hand-made file may keep the prefix.
    Copied,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spelling {
    Prefixed,
    Bare,
}

/// Recognises `Requires-Hwspec` and `X[SBC]*-Requires-Hwspec`, ignoring case.
fn spelling(name: &str) -> Option<Spelling> {
    if name.eq_ignore_ascii_case(COPIED_FIELD) {
        return Some(Spelling::Bare);
    }
    spelling::prefix_letters(name, COPIED_FIELD).map(|_| Spelling::Prefixed)
}

fn stanza_name(stanza: &Paragraph) -> Option<String> {
    stanza
        .get("Package")
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
}

fn normalise(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A parsed file, with the map from the parsed text's lines back to the file's, since comment
/// lines and PGP armour were removed before parsing.
struct Document {
    deb822: Deb822,
    lines: Vec<usize>,
    /// The byte offset at which each line of the parsed text starts: line numbers are looked
    /// up here by bisection, since asking the tree for a node's line counts from the start of
    /// the file each time, which made files of many stanzas quadratic.
    line_starts: Vec<usize>,
}

impl Document {
    fn parse(lines: Vec<(usize, &str)>, origin: &str) -> Result<Document, ControlError> {
        let mut text = String::new();
        let mut map = Vec::with_capacity(lines.len());
        for (number, line) in &lines {
            text.push_str(line);
            text.push('\n');
            map.push(*number);
        }
        if text.trim().is_empty() {
            return Err(ControlError::new(
                ControlErrorKind::Empty,
                origin,
                "the file is empty (no fields outside comments)",
            ));
        }
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        let parsed = Deb822::parse(&text);
        let doc = Document {
            deb822: parsed.tree(),
            lines: map,
            line_starts,
        };
        if let Some(first) = parsed.positioned_errors().first() {
            let offset = usize::from(first.range.start()).min(text.len());
            let more = parsed.positioned_errors().len() - 1;
            let suffix = match more {
                0 => String::new(),
                1 => " (and 1 more error)".to_string(),
                n => format!(" (and {n} more errors)"),
            };
            return Err(ControlError::new(
                ControlErrorKind::Syntax,
                origin,
                format!(
                    "syntax error: {}{suffix}",
                    syntax_message(&first.message, &text[offset..])
                ),
            )
            .at_line(doc.line_at(offset)));
        }
        Ok(doc)
    }

    /// The file's line number of a byte offset in the parsed text.
    fn line_at(&self, offset: usize) -> usize {
        let line = self.line_starts.partition_point(|&start| start <= offset);
        self.original_line(line.saturating_sub(1))
    }

    /// The file's 1-based line number of the parsed text's 0-based line `line`.
    fn original_line(&self, line: usize) -> usize {
        self.lines
            .get(line)
            .or(self.lines.last())
            .copied()
            .unwrap_or(1)
    }

    fn line_of_paragraph(&self, paragraph: &Paragraph) -> usize {
        self.line_at(usize::from(paragraph.text_range().start()))
    }

    fn line_of_entry(&self, entry: &deb822_lossless::Entry) -> usize {
        self.line_at(usize::from(entry.text_range().start()))
    }

    fn single_stanza(&self, origin: &str) -> Result<Paragraph, ControlError> {
        let mut stanzas = self.deb822.paragraphs();
        let first = stanzas.next().ok_or_else(|| {
            ControlError::new(ControlErrorKind::Empty, origin, "the file has no stanza")
        })?;
        if let Some(second) = stanzas.next() {
            return Err(ControlError::new(
                ControlErrorKind::StanzaCount,
                origin,
                "expected a single stanza, found a second one",
            )
            .at_line(self.line_of_paragraph(&second)));
        }
        Ok(first)
    }

    fn read_field(
        &self,
        stanza: &Paragraph,
        file: &str,
        label: Option<&str>,
        package: Option<&str>,
        dialect: Dialect,
    ) -> Result<FieldValue, ControlError> {
        let located = |err: ControlError, line: usize| {
            let err = err.at_line(line);
            match label {
                Some(label) => err.in_stanza(label),
                None => err,
            }
        };
        let mut found: Option<(String, String, usize)> = None;
        for entry in stanza.entries() {
            let Some(name) = entry.key() else { continue };
            let Some(spelling) = spelling(&name) else {
                continue;
            };
            let line = self.line_at(usize::from(entry.text_range().start()));
            if dialect == Dialect::Control && spelling == Spelling::Bare {
                return Err(located(
                    ControlError::new(
                        ControlErrorKind::InvalidFieldName,
                        file,
                        format!(
                            "{name} is not a user-defined field in debian/control and dpkg ignores it; write {FIELD} (or XS-/XB-{COPIED_FIELD} to copy it into the .dsc/.deb)"
                        ),
                    ),
                    line,
                ));
            }
            if let Some((first, _, first_line)) = &found {
                return Err(located(
                    ControlError::new(
                        ControlErrorKind::DuplicateField,
                        file,
                        format!(
                            "the requirement is given twice: {first} (line {first_line}) and {name}; keep one",
                        ),
                    ),
                    line,
                ));
            }
            found = Some((name, normalise(&entry.value()), line));
        }
        let (field, value, line) = match found {
            Some((field, value, line)) => (field, Some(value), Some(line)),
            None => (FIELD.to_string(), None, None),
        };
        Ok(FieldValue {
            package: package.map(str::to_string),
            origin: label.map_or_else(|| file.to_string(), |label| format!("{file}, {label}")),
            field,
            value,
            line,
        })
    }
}

/// The deb822 parser's message for a syntax error, made readable: it names a token kind where
/// a reader wants the character (a byte order mark, a leading `-`), which `rest` (the text from
/// the error on) shows.
fn syntax_message(message: &str, rest: &str) -> String {
    if !message.starts_with("unexpected token") {
        return message.to_string();
    }
    match rest.chars().next() {
        Some('\u{feff}') => "the file starts with a byte order mark (U+FEFF), which dpkg does not \
             accept; save it as UTF-8 without one"
            .to_string(),
        Some(_) => {
            let line = rest.split('\n').next().unwrap_or_default();
            format!(
                "expected a field (Name: value) or a continuation line (starting with a space), found {}",
                crate::text::quoted(line)
            )
        }
        None => "unexpected end of file".to_string(),
    }
}
