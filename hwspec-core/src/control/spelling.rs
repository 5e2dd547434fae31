//! Where dpkg copies a requirement written in `debian/control`, and what to write instead when
//! it would not reach the file its consumer reads.
//!
//! deb-src-control(5): a user-defined field is `X`, zero or more of the letters `S`, `B`, `C`,
//! a hyphen and the name; `S` copies it into the `.dsc`, `B` into the binary package, `C` into
//! the `.changes`. What dpkg-source and dpkg-gencontrol really do, checked by
//! `tests/debian.rs` with the real tools:
//!
//! | written in        | `S`                                   | `B`                 |
//! |-------------------|---------------------------------------|---------------------|
//! | the source stanza | the `.dsc`                            | every `.deb`        |
//! | a binary stanza   | the `.dsc`, replacing the source's    | that package's `.deb` |
//!
//! A buildd reads the source's requirement from the `.dsc` and apt's hook reads a package's from
//! its `.deb`, so the source stanza needs `S` and a binary stanza needs `B` without `S`.

use super::FieldValue;

/// The `SBC` letters of a user-defined spelling of `field` (`XSB-Requires-Hwspec` → `sb`),
/// lower-cased; `None` when `name` is not `X[SBC]*-` followed by `field`, ignoring case.
pub(super) fn prefix_letters(name: &str, field: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let (prefix, rest) = lower.split_once('-')?;
    let letters = prefix.strip_prefix('x')?;
    (rest == field.to_ascii_lowercase() && letters.chars().all(|c| matches!(c, 's' | 'b' | 'c')))
        .then(|| letters.to_owned())
}

/// A requirement in `debian/control` spelled so that dpkg will not copy it where it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpellingWarning {
    /// The 1-based line of the field in the file.
    pub line: Option<usize>,
    /// The field name as written, e.g. `X-Requires-Hwspec`.
    pub written: String,
    /// The spelling to write instead, e.g. `XB-Requires-Hwspec`.
    pub fix: String,
    /// What goes wrong, in a sentence that ends with the fix.
    pub message: String,
}

/// The warning for a requirement read from `debian/control` by [`super::from_control`] (a
/// value without `package` comes from the source stanza), or `None` when dpkg copies it where
/// it belongs, or when the stanza has no requirement.
pub fn spelling_warning(value: &FieldValue) -> Option<SpellingWarning> {
    let letters = prefix_letters(&value.field, super::COPIED_FIELD)?;
    value.value.as_ref()?;
    let (to_dsc, to_deb) = (letters.contains('s'), letters.contains('b'));
    let written = value.field.clone();
    let (fix, what) = match &value.package {
        None if to_dsc => return None,
        None => {
            let fix = if to_deb { "XSB" } else { "XS" };
            let copied = if to_deb {
                "is copied into every .deb but not into the .dsc"
            } else {
                "is not copied into the .dsc"
            };
            (
                fix,
                format!(
                    "{written} in the source stanza {copied}, so a buildd deciding from the .dsc (hwspec check --dsc) does not see it"
                ),
            )
        }
        Some(package) if to_deb && to_dsc => (
            "XB",
            format!(
                "{written} in binary stanza {package} is also copied into the .dsc, where it replaces the source stanza's requirement (dpkg-source keeps the last one)"
            ),
        ),
        Some(_) if to_deb => return None,
        Some(package) => {
            let instead = if to_dsc { ", only into the .dsc" } else { "" };
            (
                "XB",
                format!(
                    "{written} in binary stanza {package} is not copied into {package}'s .deb{instead}, so apt's hook and hwspec check --deb do not see it"
                ),
            )
        }
    };
    let fix = format!("{fix}-{}", super::COPIED_FIELD);
    Some(SpellingWarning {
        line: value.line,
        message: format!("{what}; write {fix}"),
        written,
        fix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(package: Option<&str>, field: &str) -> FieldValue {
        FieldValue {
            package: package.map(str::to_owned),
            origin: "debian/control".to_owned(),
            field: field.to_owned(),
            value: Some("opencl".to_owned()),
            line: Some(7),
        }
    }

    fn fix(package: Option<&str>, field: &str) -> Option<String> {
        spelling_warning(&value(package, field)).map(|w| w.fix)
    }

    #[test]
    fn the_source_stanza_needs_s() {
        for good in [
            "XS-Requires-Hwspec",
            "XSB-Requires-Hwspec",
            "xbs-requires-hwspec",
        ] {
            assert_eq!(fix(None, good), None, "{good}");
        }
        assert_eq!(
            fix(None, "X-Requires-Hwspec").unwrap(),
            "XS-Requires-Hwspec"
        );
        assert_eq!(
            fix(None, "XC-Requires-Hwspec").unwrap(),
            "XS-Requires-Hwspec"
        );
        assert_eq!(
            fix(None, "XB-Requires-Hwspec").unwrap(),
            "XSB-Requires-Hwspec"
        );
    }

    #[test]
    fn a_binary_stanza_needs_b_without_s() {
        let demo = Some("demo");
        assert_eq!(fix(demo, "XB-Requires-Hwspec"), None);
        assert_eq!(fix(demo, "XBC-Requires-Hwspec"), None);
        for bad in [
            "X-Requires-Hwspec",
            "XS-Requires-Hwspec",
            "XSB-Requires-Hwspec",
            "XC-Requires-Hwspec",
        ] {
            assert_eq!(fix(demo, bad).unwrap(), "XB-Requires-Hwspec", "{bad}");
        }
    }

    #[test]
    fn the_warning_names_the_line_the_stanza_and_the_fix() {
        let warning = spelling_warning(&value(Some("demo-gpu"), "X-Requires-Hwspec")).unwrap();
        assert_eq!(warning.line, Some(7));
        assert_eq!(warning.written, "X-Requires-Hwspec");
        assert!(
            warning.message.starts_with(
                "X-Requires-Hwspec in binary stanza demo-gpu is not copied into demo-gpu's .deb"
            ),
            "{}",
            warning.message
        );
        assert!(warning.message.ends_with("; write XB-Requires-Hwspec"));
        let leak = spelling_warning(&value(Some("demo-gpu"), "XSB-Requires-Hwspec")).unwrap();
        assert!(leak
            .message
            .contains("replaces the source stanza's requirement"));
    }

    #[test]
    fn absent_fields_and_copied_spellings_are_not_warned_about() {
        let mut absent = value(Some("demo"), super::super::FIELD);
        absent.value = None;
        absent.line = None;
        assert_eq!(spelling_warning(&absent), None);
        // A .dsc or .deb carries the stripped name, which has no letters to judge.
        assert_eq!(fix(None, "Requires-Hwspec"), None);
    }
}
