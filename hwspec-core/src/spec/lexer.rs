//! Splits a requirement into tokens. Total by construction: every call consumes at least one
//! character or returns `End`, and no input makes it panic.

/// What a token is; words and operators borrow their text from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind<'a> {
    /// A run of characters that are not whitespace or punctuation: a name or a version.
    Word(&'a str),
    /// A run of `<`, `>`, `=`, `!`: an operator, valid or not, or the start of a build profile.
    Operator(&'a str),
    Comma,
    Pipe,
    Open,
    Close,
    /// `[`, which opens an architecture qualifier in Debian's syntax.
    OpenBracket,
    End,
}

/// A token and where it is, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub kind: TokenKind<'a>,
    pub offset: usize,
}

impl Token<'_> {
    /// The token as an error message quotes it.
    pub fn describe(&self) -> String {
        match self.kind {
            TokenKind::Word(text) | TokenKind::Operator(text) => crate::text::quoted(text),
            TokenKind::Comma => "\",\"".to_owned(),
            TokenKind::Pipe => "\"|\"".to_owned(),
            TokenKind::Open => "\"(\"".to_owned(),
            TokenKind::Close => "\")\"".to_owned(),
            TokenKind::OpenBracket => "\"[\"".to_owned(),
            TokenKind::End => "end of input".to_owned(),
        }
    }
}

const OPERATOR_CHARS: &[char] = &['<', '>', '=', '!'];
const PUNCTUATION: &[char] = &[',', '|', '(', ')', '['];

#[derive(Debug, Clone)]
pub(crate) struct Lexer<'a> {
    input: &'a str,
    offset: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(input: &'a str) -> Lexer<'a> {
        Lexer { input, offset: 0 }
    }

    pub fn peek(&self) -> Token<'a> {
        self.clone().next_token()
    }

    pub fn next_token(&mut self) -> Token<'a> {
        let rest = &self.input[self.offset..];
        let trimmed = rest.trim_start();
        let start = self.offset + (rest.len() - trimmed.len());
        let Some(first) = trimmed.chars().next() else {
            self.offset = self.input.len();
            return Token {
                kind: TokenKind::End,
                offset: self.input.len(),
            };
        };
        let single = |kind| (kind, first.len_utf8());
        let (kind, len) = match first {
            ',' => single(TokenKind::Comma),
            '|' => single(TokenKind::Pipe),
            '(' => single(TokenKind::Open),
            ')' => single(TokenKind::Close),
            '[' => single(TokenKind::OpenBracket),
            c if OPERATOR_CHARS.contains(&c) => {
                let len = run_length(trimmed, |c| OPERATOR_CHARS.contains(&c));
                (TokenKind::Operator(&trimmed[..len]), len)
            }
            _ => {
                let len = run_length(trimmed, |c| {
                    !c.is_whitespace() && !OPERATOR_CHARS.contains(&c) && !PUNCTUATION.contains(&c)
                });
                (TokenKind::Word(&trimmed[..len]), len)
            }
        };
        self.offset = start + len;
        Token {
            kind,
            offset: start,
        }
    }
}

/// Length in bytes of the longest prefix of `text` whose characters satisfy `keep`.
fn run_length(text: &str, keep: impl Fn(char) -> bool) -> usize {
    text.char_indices()
        .find(|&(_, c)| !keep(c))
        .map_or(text.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(input: &str) -> Vec<(TokenKind<'_>, usize)> {
        let mut lexer = Lexer::new(input);
        let mut out = Vec::new();
        loop {
            let token = lexer.next_token();
            out.push((token.kind, token.offset));
            if token.kind == TokenKind::End {
                return out;
            }
        }
    }

    #[test]
    fn splits_every_syntax_element_with_offsets() {
        use TokenKind::*;
        assert_eq!(
            kinds("cuda (>=12.0),\n rocm-gfx90a|[amd64]"),
            [
                (Word("cuda"), 0),
                (Open, 5),
                (Operator(">="), 6),
                (Word("12.0"), 8),
                (Close, 12),
                (Comma, 13),
                (Word("rocm-gfx90a"), 16),
                (Pipe, 27),
                (OpenBracket, 28),
                (Word("amd64]"), 29),
                (End, 35),
            ]
        );
    }

    #[test]
    fn multibyte_characters_stay_whole() {
        use TokenKind::*;
        assert_eq!(
            kinds("\u{3000}ĉuda\u{a0}(≥ 1)"),
            [
                (Word("ĉuda"), 3),
                (Open, 10),
                (Word("≥"), 11),
                (Word("1"), 15),
                (Close, 16),
                (End, 17),
            ]
        );
    }
}
