//! The requirement language (design §6): Debian's relationship syntax over the capability
//! vocabulary (design §5), e.g. `cuda (>= 12.0), cuda-arch (>= 8.0) | rocm`.
//!
//! [`parse`] turns a field into a [`Requirement`], whose `Display` is the canonical spelling;
//! [`evaluate`] judges it against a [`Report`](crate::model::Report) and explains every
//! relation; [`apply_overrides`] lets `HWSPEC_OVERRIDE_*` variables stand in for hardware.
//! `docs/requirements.md` is the user's description.

mod ast;
mod eval;
mod lexer;
mod overrides;
mod parse;
pub mod vocab;

pub use ast::{Alternatives, Op, Relation, Requirement};
pub use eval::{evaluate, ClauseVerdict, RelationVerdict, Verdict};
pub use overrides::{
    apply_overrides, BadOverride, Override, OverrideError, ABSENT, OVERRIDE_PREFIX,
};
pub use parse::{parse, ParseError, ParseErrorKind, MAX_EXPRESSION_LEN, MAX_RELATIONS};

#[cfg(test)]
mod eval_tests;
#[cfg(test)]
mod proptests;
