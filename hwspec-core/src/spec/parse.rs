//! The parser for Debian's relationship syntax, restricted to hwspec's vocabulary.

use std::fmt;

use super::ast::{Alternatives, Op, Relation, Requirement};
use super::lexer::{Lexer, Token, TokenKind};
use super::vocab;
use crate::text::{printable, quoted};
use crate::version::parse_version;

/// What kind of mistake a [`ParseError`] reports; stable, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// A token where another was expected (missing name, comma, parenthesis, version).
    Unexpected,
    /// A name that is not in the capability vocabulary.
    UnknownCapability,
    /// Something in operator position that is not one of `<<`, `<=`, `=`, `>=`, `>>`.
    UnknownOperator,
    /// Debian's obsolete `<` or `>`, whose meaning surprises people.
    ObsoleteOperator,
    /// A version that is not a valid Debian version.
    InvalidVersion,
    /// A version constraint on a capability that has no version.
    VersionOnFlag,
    /// An architecture qualifier such as `[amd64]`.
    ArchitectureQualifier,
    /// A build profile such as `<!nocheck>`.
    BuildProfile,
    /// An expression longer than [`MAX_EXPRESSION_LEN`] bytes.
    TooLong,
    /// An expression with more than [`MAX_RELATIONS`] relations.
    TooManyRelations,
}

/// The longest requirement accepted, in bytes. Real fields are a few hundred bytes; the cap
/// keeps what a hostile package can make hwspec allocate and print small.
pub const MAX_EXPRESSION_LEN: usize = 64 * 1024;

/// The most relations (names, counted over every clause and alternative) a requirement may
/// have. Real fields have a handful; each relation costs a verdict and an explanation.
pub const MAX_RELATIONS: usize = 1024;

/// The most characters of the offending line an error keeps (around the column): enough to
/// see the mistake, without repeating a huge line back to the terminal.
const SOURCE_WINDOW: usize = 120;

/// Why a requirement does not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    // Boxed so that the `Result`s a parser passes around stay one pointer wide on success.
    detail: Box<Detail>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Detail {
    kind: ParseErrorKind,
    offset: usize,
    line: usize,
    column: usize,
    expected: String,
    found: String,
    note: Option<String>,
    suggestion: Option<String>,
    /// The offending line, or the part of it around the column when it is long.
    source_line: String,
    /// The column of the offending token within `source_line`, in characters from 1.
    source_column: usize,
}

impl ParseError {
    fn new(
        input: &str,
        kind: ParseErrorKind,
        offset: usize,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> ParseError {
        let before = &input[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line_end = input[offset..]
            .find('\n')
            .map_or(input.len(), |i| offset + i);
        let column = before[line_start..].chars().count() + 1;
        let (source_line, source_column) = window(&input[line_start..line_end], column);
        ParseError {
            detail: Box::new(Detail {
                kind,
                offset,
                line: before.matches('\n').count() + 1,
                column,
                expected: expected.into(),
                found: found.into(),
                note: None,
                suggestion: None,
                source_line,
                source_column,
            }),
        }
    }

    fn with_note(mut self, note: impl Into<String>) -> ParseError {
        self.detail.note = Some(note.into());
        self
    }

    fn with_kind(mut self, kind: ParseErrorKind) -> ParseError {
        self.detail.kind = kind;
        self
    }

    /// The kind of mistake.
    pub fn kind(&self) -> ParseErrorKind {
        self.detail.kind
    }

    /// Byte offset of the offending token in the input (its length when input ran out).
    pub fn offset(&self) -> usize {
        self.detail.offset
    }

    /// 1-based line of the offending token: fields may span deb822 continuation lines.
    pub fn line(&self) -> usize {
        self.detail.line
    }

    /// 1-based column of the offending token on its line, in characters.
    pub fn column(&self) -> usize {
        self.detail.column
    }

    /// What the parser expected there.
    pub fn expected(&self) -> &str {
        &self.detail.expected
    }

    /// What it found instead (a quoted token, or "end of input").
    pub fn found(&self) -> &str {
        &self.detail.found
    }

    /// Why the token found is wrong, when "expected X, found Y" alone does not say.
    pub fn note(&self) -> Option<&str> {
        self.detail.note.as_deref()
    }

    /// For an unknown name, the closest known one.
    pub fn suggestion(&self) -> Option<&str> {
        self.detail.suggestion.as_deref()
    }

    /// The offending line of the input with a caret under the column, for terminals.
    /// Tabs are repeated in the caret line so that it lines up however tabs are shown; control
    /// characters in the line are shown as escapes, and the caret still lines up under them.
    pub fn render(&self) -> String {
        let mut pad = String::new();
        for c in self
            .detail
            .source_line
            .chars()
            .take(self.detail.source_column - 1)
        {
            match c {
                '\t' => pad.push('\t'),
                c => {
                    let shown = printable(c.encode_utf8(&mut [0; 4])).chars().count();
                    pad.extend(std::iter::repeat_n(' ', shown));
                }
            }
        }
        format!("{}\n{pad}^", printable(&self.detail.source_line))
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.line > 1 {
            write!(f, "line {}, ", self.detail.line)?;
        }
        write!(
            f,
            "column {}: expected {}, found {}",
            self.detail.column, self.detail.expected, self.detail.found
        )?;
        if let Some(note) = &self.detail.note {
            write!(f, "; {note}")?;
        }
        if let Some(name) = &self.detail.suggestion {
            write!(f, "; did you mean `{name}`?")?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseError {}

/// `line` cut to about [`SOURCE_WINDOW`] characters around `column` (1-based), marked with `…`
/// where cut, and the column's place in the result.
fn window(line: &str, column: usize) -> (String, usize) {
    let length = line.chars().count();
    if length <= SOURCE_WINDOW {
        return (line.to_owned(), column);
    }
    let start = column.saturating_sub(SOURCE_WINDOW / 2 + 1);
    let end = (start + SOURCE_WINDOW).min(length);
    let mut text = String::new();
    if start > 0 {
        text.push('…');
    }
    text.extend(line.chars().skip(start).take(end - start));
    if end < length {
        text.push('…');
    }
    (text, column - start + usize::from(start > 0))
}

/// Parses a requirement. An empty or all-whitespace field means `cpu`; a single trailing
/// comma is accepted because `wrap-and-sort -t` writes one.
///
/// The cost is linear in the input, which may be at most [`MAX_EXPRESSION_LEN`] bytes and hold
/// at most [`MAX_RELATIONS`] relations; more is an error of kind
/// [`ParseErrorKind::TooLong`] or [`ParseErrorKind::TooManyRelations`].
pub fn parse(input: &str) -> Result<Requirement, ParseError> {
    if input.len() > MAX_EXPRESSION_LEN {
        return Err(ParseError::new(
            input,
            ParseErrorKind::TooLong,
            0,
            format!("a requirement of at most {MAX_EXPRESSION_LEN} bytes"),
            format!("{} bytes", input.len()),
        ));
    }
    if input.trim().is_empty() {
        return Ok(Requirement::cpu());
    }
    Parser {
        input,
        lexer: Lexer::new(input),
        relations: 0,
    }
    .requirement()
}

struct Parser<'a> {
    input: &'a str,
    lexer: Lexer<'a>,
    /// Relations read so far, against [`MAX_RELATIONS`].
    relations: usize,
}

const OPERATORS: &str = "one of \"<<\", \"<=\", \"=\", \">=\", \">>\"";
const AFTER_RELATION: &str = "\",\", \"|\" or end of input";

impl<'a> Parser<'a> {
    fn error(
        &self,
        kind: ParseErrorKind,
        token: &Token<'_>,
        expected: impl Into<String>,
    ) -> ParseError {
        ParseError::new(self.input, kind, token.offset, expected, token.describe())
    }

    fn requirement(&mut self) -> Result<Requirement, ParseError> {
        let mut clauses = vec![self.alternatives()?];
        loop {
            let token = self.lexer.next_token();
            match token.kind {
                TokenKind::End => return Ok(Requirement { clauses }),
                TokenKind::Comma if self.lexer.peek().kind == TokenKind::End => {
                    return Ok(Requirement { clauses })
                }
                TokenKind::Comma => clauses.push(self.alternatives()?),
                _ => return Err(self.after_relation(&token)),
            }
        }
    }

    fn alternatives(&mut self) -> Result<Alternatives, ParseError> {
        let mut relations = vec![self.relation()?];
        while self.lexer.peek().kind == TokenKind::Pipe {
            self.lexer.next_token();
            relations.push(self.relation()?);
        }
        Ok(Alternatives { relations })
    }

    fn relation(&mut self) -> Result<Relation, ParseError> {
        let token = self.lexer.next_token();
        let TokenKind::Word(name) = token.kind else {
            return Err(self.error(ParseErrorKind::Unexpected, &token, "a capability name"));
        };
        self.relations += 1;
        if self.relations > MAX_RELATIONS {
            return Err(self.error(
                ParseErrorKind::TooManyRelations,
                &token,
                format!(
                    "end of input after {MAX_RELATIONS} relations, the most a requirement may have"
                ),
            ));
        }
        self.check_name(name, &token)?;
        let open = self.lexer.peek();
        if open.kind != TokenKind::Open {
            return Ok(Relation::flag(name));
        }
        if !vocab::is_versioned(name) {
            return Err(self
                .error(ParseErrorKind::VersionOnFlag, &open, AFTER_RELATION)
                .with_note(format!(
                    "`{name}` has no version: it is either present or not"
                )));
        }
        self.lexer.next_token();
        let op = self.operator()?;
        let version = self.version(op)?;
        let close = self.lexer.next_token();
        if close.kind != TokenKind::Close {
            return Err(self.error(
                ParseErrorKind::Unexpected,
                &close,
                format!("\")\" after the version {}", quoted(version)),
            ));
        }
        Ok(Relation {
            name: name.to_owned(),
            constraint: Some((op, version.to_owned())),
        })
    }

    fn check_name(&self, name: &str, token: &Token<'_>) -> Result<(), ParseError> {
        if vocab::is_known(name) {
            return Ok(());
        }
        let mut error = self.error(
            ParseErrorKind::UnknownCapability,
            token,
            "a capability name",
        );
        error.detail.found = format!("unknown name {}", quoted(name));
        error.detail.suggestion = vocab::closest(name);
        if name.starts_with(vocab::ROCM_TARGET_PREFIX) && error.detail.suggestion.is_none() {
            error.detail.note = Some(
                "a ROCm target is \"rocm-gfx\" followed by the target's lowercase hex digits, \
                 as in rocm-gfx90a"
                    .to_owned(),
            );
        }
        Err(error)
    }

    fn operator(&mut self) -> Result<Op, ParseError> {
        let token = self.lexer.next_token();
        let TokenKind::Operator(text) = token.kind else {
            return Err(self.error(
                ParseErrorKind::Unexpected,
                &token,
                format!("an operator ({OPERATORS}) after \"(\""),
            ));
        };
        if let Some(op) = Op::parse(text) {
            return Ok(op);
        }
        let error = self.error(ParseErrorKind::UnknownOperator, &token, OPERATORS);
        let (meaning, strict, direction) = match text {
            "<" => ("<=", "<<", "earlier"),
            ">" => (">=", ">>", "later"),
            _ => return Err(error),
        };
        Err(error
            .with_kind(ParseErrorKind::ObsoleteOperator)
            .with_note(format!(
                "\"{text}\" is obsolete in Debian and means \"{meaning}\": \
                 write \"{strict}\" for strictly {direction} or \"{meaning}\""
            )))
    }

    fn version(&mut self, op: Op) -> Result<&'a str, ParseError> {
        let token = self.lexer.next_token();
        let TokenKind::Word(text) = token.kind else {
            return Err(self.error(
                ParseErrorKind::Unexpected,
                &token,
                format!("a version after \"{op}\""),
            ));
        };
        parse_version(text).map_err(|why| {
            self.error(ParseErrorKind::InvalidVersion, &token, "a Debian version")
                .with_note(why)
        })?;
        Ok(text)
    }

    /// The error for whatever follows a complete relation other than `,`, `|` or the end,
    /// specialised for the Debian syntax this language leaves out.
    fn after_relation(&self, token: &Token<'_>) -> ParseError {
        let error = self.error(ParseErrorKind::Unexpected, token, AFTER_RELATION);
        match token.kind {
            TokenKind::OpenBracket => error
                .with_kind(ParseErrorKind::ArchitectureQualifier)
                .with_note(
                    "architecture qualifiers like [amd64] are not part of hwspec requirements",
                ),
            TokenKind::Operator(text) if text.starts_with('<') => error
                .with_kind(ParseErrorKind::BuildProfile)
                .with_note("build profiles like <!nocheck> are not part of hwspec requirements"),
            TokenKind::Operator(_) => {
                error.with_note("a version constraint goes in parentheses, as in cuda (>= 12.0)")
            }
            TokenKind::Open => error.with_note("a relation takes one version constraint"),
            TokenKind::Word(_) => error.with_note("separate relations with \",\" or \"|\""),
            _ => error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(input: &str) -> ParseError {
        parse(input).expect_err(input)
    }

    fn canonical(input: &str) -> String {
        parse(input)
            .unwrap_or_else(|e| panic!("{input:?}: {e}"))
            .to_string()
    }

    #[test]
    fn and_or_and_constraints_build_the_tree() {
        let r = parse("cuda (>= 12.0), cuda-arch (>= 8.0) | rocm, gpu-memory (>= 16)").unwrap();
        assert_eq!(r.clauses.len(), 3);
        assert_eq!(r.clauses[1].relations.len(), 2);
        assert_eq!(
            r.clauses[0].relations[0],
            Relation {
                name: "cuda".into(),
                constraint: Some((Op::LaterOrEqual, "12.0".into())),
            }
        );
        assert_eq!(r.clauses[1].relations[1], Relation::flag("rocm"));
    }

    #[test]
    fn every_operator_parses_and_prints_back() {
        for op in Op::ALL {
            let text = format!("cuda ({op} 12.0)");
            let r = parse(&text).unwrap();
            assert_eq!(
                r.clauses[0].relations[0].constraint,
                Some((op, "12.0".into()))
            );
            assert_eq!(r.to_string(), text);
        }
    }

    #[test]
    fn whitespace_and_continuation_lines_are_free_between_tokens() {
        let expected = "cuda (>= 12.0), cuda-arch (>= 8.0) | rocm";
        assert_eq!(canonical("cuda(>=12.0),cuda-arch(>=8.0)|rocm"), expected);
        assert_eq!(
            canonical("  cuda\t( >=\t12.0 ) ,\n cuda-arch (>= 8.0)\n  | rocm\n"),
            expected
        );
    }

    #[test]
    fn empty_field_means_cpu_and_a_trailing_comma_is_tolerated() {
        assert_eq!(parse("").unwrap(), Requirement::cpu());
        assert_eq!(parse(" \n\t ").unwrap(), Requirement::cpu());
        assert_eq!(canonical("opencl,\n"), "opencl");
        assert_eq!(err("opencl,,").column(), 8);
        assert_eq!(err(",").expected(), "a capability name");
    }

    #[test]
    fn rocm_targets_and_versions_with_epochs_and_tildes_parse() {
        assert_eq!(
            canonical("rocm (>= 6.0), rocm-gfx90a | rocm-gfx1100"),
            "rocm (>= 6.0), rocm-gfx90a | rocm-gfx1100"
        );
        assert_eq!(
            canonical("cuda (>= 1:12.0~rc1-1)"),
            "cuda (>= 1:12.0~rc1-1)"
        );
    }

    #[test]
    fn a_missing_version_names_the_column_and_the_operator() {
        let e = err("cuda (>=");
        assert_eq!((e.offset(), e.line(), e.column()), (8, 1, 9));
        assert_eq!(e.kind(), ParseErrorKind::Unexpected);
        assert_eq!(e.expected(), "a version after \">=\"");
        assert_eq!(e.found(), "end of input");
        assert_eq!(
            e.to_string(),
            "column 9: expected a version after \">=\", found end of input"
        );
        assert_eq!(e.render(), "cuda (>=\n        ^");
        assert_eq!(err("cuda (>= )").found(), "\")\"");
    }

    #[test]
    fn unknown_names_come_with_the_closest_known_one() {
        let e = err("opencl, cdua (>= 12)");
        assert_eq!(e.kind(), ParseErrorKind::UnknownCapability);
        assert_eq!((e.offset(), e.column()), (8, 9));
        assert_eq!(e.found(), "unknown name \"cdua\"");
        assert_eq!(e.suggestion(), Some("cuda"));
        assert_eq!(
            e.to_string(),
            "column 9: expected a capability name, found unknown name \"cdua\"; \
             did you mean `cuda`?"
        );
        assert_eq!(err("CUDA").suggestion(), Some("cuda"));
        let e = err("tensorflow");
        assert_eq!(e.suggestion(), None);
        assert!(!e.to_string().contains("did you mean"));
        let e = err("rocm-gfx9-generic");
        assert!(e.note().unwrap().contains("hex digits"), "{e}");
    }

    #[test]
    fn operators_other_than_debians_five_are_refused() {
        let e = err("cuda (< 12)");
        assert_eq!(e.kind(), ParseErrorKind::ObsoleteOperator);
        assert_eq!(e.column(), 7);
        assert!(
            e.to_string()
                .contains("write \"<<\" for strictly earlier or \"<=\""),
            "{e}"
        );
        let e = err("cuda (> 12)");
        assert_eq!(e.kind(), ParseErrorKind::ObsoleteOperator);
        assert!(e.note().unwrap().contains("\">>\""), "{e}");
        for bad in ["==", "!=", "=>", "<<=", "=<"] {
            let e = err(&format!("cuda ({bad} 12)"));
            assert_eq!(e.kind(), ParseErrorKind::UnknownOperator, "{bad}");
            assert_eq!(e.found(), format!("\"{bad}\""));
        }
        let e = err("cuda (12.0)");
        assert_eq!(e.kind(), ParseErrorKind::Unexpected);
        assert!(e.expected().starts_with("an operator"), "{e}");
    }

    #[test]
    fn bad_versions_are_errors_with_the_reason() {
        let e = err("cuda (>= twelve)");
        assert_eq!(e.kind(), ParseErrorKind::InvalidVersion);
        assert_eq!(e.column(), 10);
        assert_eq!(e.found(), "\"twelve\"");
        assert_eq!(e.note(), Some("a version must start with a digit"));
        assert_eq!(err("cuda (>= 12_0)").kind(), ParseErrorKind::InvalidVersion);
        let e = err("cuda (>= 12.0 beta)");
        assert_eq!(e.expected(), "\")\" after the version \"12.0\"");
        assert_eq!(e.found(), "\"beta\"");
    }

    #[test]
    fn flags_refuse_a_version() {
        let e = err("gpu (>= 1)");
        assert_eq!(e.kind(), ParseErrorKind::VersionOnFlag);
        assert_eq!(e.column(), 5);
        assert_eq!(
            e.note(),
            Some("`gpu` has no version: it is either present or not")
        );
        assert_eq!(
            err("rocm-gfx90a (= 1)").kind(),
            ParseErrorKind::VersionOnFlag
        );
    }

    #[test]
    fn debian_qualifiers_outside_this_language_are_named() {
        let e = err("cuda [amd64]");
        assert_eq!(e.kind(), ParseErrorKind::ArchitectureQualifier);
        assert_eq!(e.column(), 6);
        assert!(
            e.to_string().contains("not part of hwspec requirements"),
            "{e}"
        );
        let e = err("cuda (>= 12) <!nocheck>");
        assert_eq!(e.kind(), ParseErrorKind::BuildProfile);
        assert_eq!(e.column(), 14);
        assert_eq!(err("opencl <cross>").kind(), ParseErrorKind::BuildProfile);
    }

    #[test]
    fn missing_separators_and_stray_tokens_are_syntax_errors() {
        let e = err("cuda rocm");
        assert_eq!((e.column(), e.found()), (6, "\"rocm\""));
        assert_eq!(e.expected(), "\",\", \"|\" or end of input");
        assert!(err("cuda >= 12").note().unwrap().contains("parentheses"));
        assert!(err("cuda (>= 12) (<< 13)")
            .note()
            .unwrap()
            .contains("one version"));
        assert_eq!(err("cuda |").found(), "end of input");
        assert_eq!(err("| cuda").column(), 1);
        assert_eq!(err("cuda)").found(), "\")\"");
        assert_eq!(err("(cuda)").expected(), "a capability name");
    }

    #[test]
    fn the_caret_lines_up_under_escaped_control_characters() {
        let e = err("cpu, \u{1b}[2J, cdua");
        assert_eq!(e.render(), "cpu, \\x1b[2J, cdua\n     ^");
        let e = err("cpu, gpu \u{202e}x");
        assert_eq!(e.render(), "cpu, gpu \\u{202e}x\n         ^");
    }

    #[test]
    fn positions_count_lines_and_characters_not_bytes() {
        let e = err("opencl,\n cuda (>= 12),\n\tgpü");
        assert_eq!((e.line(), e.column()), (3, 2));
        assert_eq!(e.offset(), 24);
        assert!(e.to_string().starts_with("line 3, column 2: "), "{e}");
        assert_eq!(e.render(), "\tgpü\n\t^");
        let e = err("äö, cuda (>=");
        assert_eq!(e.kind(), ParseErrorKind::UnknownCapability);
        let e = err("cuda (>= 1) ,ü");
        assert_eq!((e.offset(), e.column()), (13, 14));
    }
}
