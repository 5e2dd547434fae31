//! The parsed form of a requirement and its canonical spelling.

use std::cmp::Ordering;
use std::fmt;

/// A relation operator, with Debian's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `<<`: strictly earlier.
    Earlier,
    /// `<=`: earlier or equal.
    EarlierOrEqual,
    /// `=`: exactly equal.
    Equal,
    /// `>=`: later or equal.
    LaterOrEqual,
    /// `>>`: strictly later.
    Later,
}

impl Op {
    /// Every operator, in the order Debian documents them.
    pub const ALL: [Op; 5] = [
        Op::Earlier,
        Op::EarlierOrEqual,
        Op::Equal,
        Op::LaterOrEqual,
        Op::Later,
    ];

    /// The operator as written in a requirement.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Earlier => "<<",
            Op::EarlierOrEqual => "<=",
            Op::Equal => "=",
            Op::LaterOrEqual => ">=",
            Op::Later => ">>",
        }
    }

    /// The operator spelled `text`, if it is one of Debian's current five.
    pub fn parse(text: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.as_str() == text)
    }

    /// Whether `have OP want` holds, given how `have` orders against `want`.
    pub fn holds(self, have_vs_want: Ordering) -> bool {
        match self {
            Op::Earlier => have_vs_want == Ordering::Less,
            Op::EarlierOrEqual => have_vs_want != Ordering::Greater,
            Op::Equal => have_vs_want == Ordering::Equal,
            Op::LaterOrEqual => have_vs_want != Ordering::Less,
            Op::Later => have_vs_want == Ordering::Greater,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One capability, optionally constrained: `cuda` or `cuda (>= 12.0)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Relation {
    /// A name of the capability vocabulary.
    pub name: String,
    /// The operator and the version exactly as written (validated as a Debian version).
    pub constraint: Option<(Op, String)>,
}

impl Relation {
    /// An unconstrained relation on `name`.
    pub fn flag(name: impl Into<String>) -> Relation {
        Relation {
            name: name.into(),
            constraint: None,
        }
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some((op, version)) = &self.constraint {
            write!(f, " ({op} {version})")?;
        }
        Ok(())
    }
}

/// Relations joined by `|`: satisfied when any one is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Alternatives {
    /// At least one relation.
    pub relations: Vec<Relation>,
}

impl fmt::Display for Alternatives {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, relation) in self.relations.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{relation}")?;
        }
        Ok(())
    }
}

/// Clauses joined by `,`: satisfied when every one is. `Display` gives the canonical
/// spelling, which parses back to an equal value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    /// At least one clause.
    pub clauses: Vec<Alternatives>,
}

impl Requirement {
    /// What an absent or empty field means: any machine that runs code at all.
    pub fn cpu() -> Requirement {
        Requirement {
            clauses: vec![Alternatives {
                relations: vec![Relation::flag("cpu")],
            }],
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, clause) in self.clauses.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{clause}")?;
        }
        Ok(())
    }
}
