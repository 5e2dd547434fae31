//! The AMD GPU target lists Debian's ROCm team writes on binary packages:
//! `X-ROCm-GPU-Architecture` (read by pkg-rocm-tools' `rocm-target-arch --reduce`) and
//! `X-ROCm-Built-For` (proposed on debian-ai in 2025), each a list such as
//! `gfx900 gfx1030 gfx11-generic`. A package whose device code was built for those targets
//! runs on a GPU of one of them; hwspec turns the list into that requirement.
//!
//! The fields are read as written in a `.deb`'s control file and in the installed status
//! (`X-ROCm-…`), and in `debian/control` or a `.dsc` also behind dpkg's copy prefixes
//! (`XB-X-ROCm-…`). Names match case-insensitively, as dpkg matches them.

use std::path::Path;

use serde::Serialize;

use super::{armour, control_text, stanza_name, ControlError, ControlErrorKind, Document, Kind};

/// The fields, in the spelling of Debian's ROCm team.
pub const ROCM_FIELDS: [&str; 2] = ["X-ROCm-GPU-Architecture", "X-ROCm-Built-For"];

/// One stanza's ROCm target list.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct RocmField {
    /// The binary package it belongs to; `None` for a source stanza or a `.dsc`.
    pub package: Option<String>,
    /// Where it was read, for messages: `debian/control, binary stanza librocrand1`.
    pub origin: String,
    /// The field's name as spelled in the file.
    pub field: String,
    /// The list, whitespace-normalised.
    pub value: String,
}

/// Every ROCm target list in the file at `path`. For a `debian/control`, `package` narrows
/// the binary stanzas to one, as for [`super::from_path`]; the source stanza is always read.
pub fn rocm_fields(
    path: &Path,
    kind: Kind,
    package: Option<&str>,
) -> Result<Vec<RocmField>, ControlError> {
    let origin = crate::text::printable_path(path);
    let text = control_text(path, kind, &origin)?;
    let lines = match kind {
        Kind::Dsc => armour::dsc_lines(&text, &origin)?,
        Kind::Control | Kind::Deb => armour::plain_lines(&text),
    };
    let doc = Document::parse(lines, &origin)?;
    let mut found = Vec::new();
    for (index, stanza) in doc.deb822.paragraphs().enumerate() {
        let name = stanza_name(&stanza);
        let label = match (kind, &name) {
            (Kind::Control, Some(name)) => Some(format!("binary stanza {name}")),
            (Kind::Control, None) if index == 0 => Some("source stanza".to_owned()),
            (Kind::Control, None) => Some(format!("stanza {}", index + 1)),
            _ => None,
        };
        if kind == Kind::Control
            && name.is_some()
            && package.is_some_and(|p| name.as_deref() != Some(p))
        {
            continue;
        }
        let mut seen: Vec<String> = Vec::new();
        for entry in stanza.entries() {
            let Some(field) = entry.key() else { continue };
            let Some(canonical) = rocm_field(&field) else {
                continue;
            };
            if seen.iter().any(|s| s == canonical) {
                let err = ControlError::new(
                    ControlErrorKind::DuplicateField,
                    &origin,
                    format!("{canonical} is given twice; keep one"),
                )
                .at_line(doc.line_of_entry(&entry));
                return Err(match &label {
                    Some(label) => err.in_stanza(label.clone()),
                    None => err,
                });
            }
            seen.push(canonical.to_owned());
            found.push(RocmField {
                package: if kind == Kind::Dsc {
                    None
                } else {
                    name.clone()
                },
                origin: match &label {
                    Some(label) => format!("{origin}, {label}"),
                    None => origin.clone(),
                },
                field,
                value: super::normalise(&entry.value()),
            });
        }
    }
    Ok(found)
}

/// The canonical name of a ROCm field spelled `name`, with or without dpkg's `X[SBC]*-` copy
/// prefix, in any case.
fn rocm_field(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    ROCM_FIELDS.into_iter().find(|field| {
        let field = field.to_ascii_lowercase();
        lower == field
            || lower.strip_suffix(&field).is_some_and(|prefix| {
                prefix
                    .strip_prefix('x')
                    .and_then(|p| p.strip_suffix('-'))
                    .is_some_and(|letters| {
                        !letters.is_empty() && letters.chars().all(|c| matches!(c, 's' | 'b' | 'c'))
                    })
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("hwspec-rocm-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn binary_stanzas_carry_the_lists() {
        let path = write(
            "control",
            "Source: rocrand\n\nPackage: librocrand1\nX-ROCm-Built-For: gfx900\n  gfx1030\n\n\
             Package: librocrand-dev\n\nPackage: librocrand-tools\nXB-X-ROCm-GPU-Architecture: gfx90a\n",
        );
        let fields = rocm_fields(&path, Kind::Control, None).unwrap();
        assert_eq!(fields.len(), 2, "{fields:?}");
        assert_eq!(fields[0].package.as_deref(), Some("librocrand1"));
        assert_eq!(fields[0].value, "gfx900 gfx1030");
        assert!(fields[0].origin.ends_with("binary stanza librocrand1"));
        assert_eq!(fields[1].field, "XB-X-ROCm-GPU-Architecture");
        let only = rocm_fields(&path, Kind::Control, Some("librocrand-dev")).unwrap();
        assert!(only.is_empty(), "{only:?}");
    }

    #[test]
    fn a_repeated_field_is_an_error() {
        let path = write(
            "dup",
            "Source: s\n\nPackage: p\nX-ROCm-Built-For: gfx900\nx-rocm-built-for: gfx906\n",
        );
        let err = rocm_fields(&path, Kind::Control, None).unwrap_err();
        assert_eq!(err.kind(), ControlErrorKind::DuplicateField);
        assert_eq!(err.line(), Some(5));
    }

    #[test]
    fn field_names_follow_dpkg_prefixes() {
        assert_eq!(rocm_field("x-rocm-built-for"), Some("X-ROCm-Built-For"));
        assert_eq!(rocm_field("XBS-X-ROCm-Built-For"), Some("X-ROCm-Built-For"));
        assert_eq!(rocm_field("ROCm-Built-For"), None);
        assert_eq!(rocm_field("XZ-X-ROCm-Built-For"), None);
        assert_eq!(rocm_field("X-ROCm-Built-Forever"), None);
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let path = std::env::temp_dir().join(format!("hwspec-rocm-{}-fifo", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(made.success());
        for kind in [Kind::Control, Kind::Deb] {
            let err = rocm_fields(&path, kind, None).unwrap_err();
            assert_eq!(err.kind(), ControlErrorKind::Io, "{err}");
        }
        std::fs::remove_file(&path).unwrap();
    }
}
