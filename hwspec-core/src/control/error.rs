use std::error::Error;
use std::fmt;

/// What went wrong, for callers that react differently (a CLI maps all of them to exit code 2).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlErrorKind {
    /// The file could not be read.
    Io,
    /// The text is not UTF-8.
    NotUtf8,
    /// The file has no stanza.
    Empty,
    /// deb822 syntax error.
    Syntax,
    /// A `debian/control` whose first stanza lacks `Source:`, or a `.dsc` without it.
    NoSourceStanza,
    /// A binary stanza, or a `.deb`'s control file, without `Package:`.
    MissingPackage,
    /// The package asked for is not described by the file.
    UnknownPackage,
    /// The field is given twice in one stanza.
    DuplicateField,
    /// A spelling of the field that dpkg would ignore where it was written.
    InvalidFieldName,
    /// A file that should hold one stanza holds more.
    StanzaCount,
    /// Broken PGP armour around a `.dsc`.
    Armour,
    /// A `.deb` that is not an ar archive, or whose members are out of order.
    NotADeb,
    /// A `.deb` format version other than 2.x.
    UnsupportedFormat,
    /// A `.deb` without a control member.
    MissingMember,
    /// A control member compressed in a way dpkg-deb does not write.
    UnsupportedCompression,
    /// Truncated or corrupt compressed data or tar archive.
    Corrupt,
    /// A file or member over its limit: [`super::MAX_CONTROL_SIZE`] for a control file or
    /// `.dsc`, [`super::MAX_CONTROL_ARCHIVE`] for a `.deb`'s control member.
    TooLarge,
    /// A control archive without a `control` file.
    MissingControlFile,
}

/// An error reading a packaging file; its `Display` is one line naming the file, the line and the
/// stanza where they apply.
#[derive(Debug)]
pub struct ControlError {
    kind: ControlErrorKind,
    origin: String,
    line: Option<usize>,
    stanza: Option<String>,
    message: String,
    source: Option<Box<dyn Error + Send + Sync>>,
}

impl ControlError {
    pub(super) fn new(kind: ControlErrorKind, origin: &str, message: impl Into<String>) -> Self {
        ControlError {
            kind,
            origin: origin.to_string(),
            line: None,
            stanza: None,
            message: message.into(),
            source: None,
        }
    }

    pub(super) fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    pub(super) fn in_stanza(mut self, stanza: impl Into<String>) -> Self {
        self.stanza = Some(stanza.into());
        self
    }

    pub(super) fn with_source(mut self, source: impl Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ControlErrorKind {
        self.kind
    }

    /// The file, as the caller named it.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The 1-based line in the file, where one applies.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The stanza, e.g. `binary stanza hwspec-demo`, where one applies.
    pub fn stanza(&self) -> Option<&str> {
        self.stanza.as_deref()
    }
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Messages quote file names and package text, which may hold newlines or terminal
        // escapes; the contract is one line, safe to print.
        let one_line = crate::text::printable_line;
        write!(f, "{}", one_line(&self.origin))?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(stanza) = &self.stanza {
            write!(f, " ({})", one_line(stanza))?;
        }
        write!(f, ": {}", one_line(&self.message))
    }
}

impl Error for ControlError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn Error + 'static))
    }
}
