//! Properties of the parser and of version ordering over generated input. Case counts are
//! kept small so the whole `spec` test run stays within a few seconds.

use std::cmp::Ordering;

use proptest::prelude::*;

use super::vocab;
use super::*;
use crate::version::{order, parse_version};

const CASES: u32 = 512;

/// Text made mostly of the language's own characters, where the parser's branches are.
fn near_miss() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r"[a-z0-9 ,|()<>=!\[\]~.:+\-\n\tü≥]{0,40}").unwrap()
}

fn version() -> impl Strategy<Value = String> {
    proptest::string::string_regex(concat!(
        r"([0-9]{1,2}:)?[0-9]{1,3}(\.[0-9]{1,3}){0,2}",
        r"(~[a-z0-9]{1,3}|\+[a-z0-9]{1,3})?(-[0-9a-z~+.]{1,3})?",
    ))
    .unwrap()
}

fn relation() -> impl Strategy<Value = Relation> {
    let names: Vec<String> = vocab::fixed_names()
        .map(str::to_owned)
        .chain(["rocm-gfx90a".to_owned(), "rocm-gfx1100".to_owned()])
        .collect();
    (
        proptest::sample::select(names),
        proptest::sample::select(Op::ALL.to_vec()),
        version(),
    )
        .prop_map(|(name, op, version)| Relation {
            constraint: vocab::is_versioned(&name).then_some((op, version)),
            name,
        })
}

fn requirement() -> impl Strategy<Value = Requirement> {
    let alternatives = proptest::collection::vec(relation(), 1..4)
        .prop_map(|relations| Alternatives { relations });
    proptest::collection::vec(alternatives, 1..5).prop_map(|clauses| Requirement { clauses })
}

/// Pieces that, repeated thousands of times, make inputs that are huge, deeply "nested" or
/// unbalanced: the shapes that make naive parsers recurse, backtrack or allocate per token.
fn adversarial() -> impl Strategy<Value = String> {
    let pieces = vec![
        "(",
        ")",
        "((",
        "(>=",
        "|",
        ",",
        ", ",
        " | ",
        "cuda (",
        "cuda | ",
        "cpu, ",
        "cpu|",
        "opencl (>= 1.2) | ",
        "gpu (>= 1)",
        "[amd64]",
        "<!nocheck>",
        "x",
        "\u{202e}",
        "\t\n ",
        "cuda (>= 1:12.0~rc1-1), ",
    ];
    (
        proptest::sample::select(pieces),
        0usize..(2 * MAX_RELATIONS + 10),
        proptest::sample::select(vec!["", "cpu", ")", "cuda (>= 12"]),
    )
        .prop_map(|(piece, times, tail)| format!("{}{tail}", piece.repeat(times)))
}

fn check_error_is_well_formed(input: &str, error: &ParseError) {
    assert!(error.offset() <= input.len());
    assert!(input.is_char_boundary(error.offset()));
    assert!(error.line() >= 1 && error.column() >= 1);
    assert!(!error.to_string().is_empty());
    assert!(error.render().ends_with('^'));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn the_parser_is_total_on_any_text(input in any::<String>()) {
        if let Err(error) = parse(&input) {
            check_error_is_well_formed(&input, &error);
        }
    }

    #[test]
    fn the_parser_is_total_on_near_misses(input in near_miss()) {
        match parse(&input) {
            Ok(requirement) => prop_assert_eq!(parse(&requirement.to_string()), Ok(requirement)),
            Err(error) => check_error_is_well_formed(&input, &error),
        }
    }

    #[test]
    fn the_parser_is_total_and_capped_on_adversarial_shapes(input in adversarial()) {
        match parse(&input) {
            Ok(requirement) => {
                let relations: usize = requirement.clauses.iter().map(|c| c.relations.len()).sum();
                prop_assert!(relations <= MAX_RELATIONS);
            }
            Err(error) => {
                check_error_is_well_formed(&input, &error);
                // However long the input, the message stays short enough to read.
                prop_assert!(error.to_string().len() < 600, "{}", error);
                prop_assert!(error.render().len() < 1200);
            }
        }
    }

    #[test]
    fn every_truncation_of_a_valid_requirement_parses_or_is_a_clear_error(
        requirement in requirement(),
        cut in any::<proptest::sample::Index>(),
    ) {
        let printed = requirement.to_string();
        let boundaries: Vec<usize> = (0..=printed.len()).filter(|&i| printed.is_char_boundary(i)).collect();
        let truncated = &printed[..boundaries[cut.index(boundaries.len())]];
        if let Err(error) = parse(truncated) {
            check_error_is_well_formed(truncated, &error);
        }
    }

    #[test]
    fn inputs_over_the_size_cap_are_refused_whatever_they_hold(
        piece in near_miss(),
        filler in proptest::sample::select(vec![" ", "cpu, ", "x"]),
    ) {
        let input = format!("{piece}{}", filler.repeat(MAX_EXPRESSION_LEN / filler.len() + 1));
        let error = parse(&input).unwrap_err();
        prop_assert_eq!(error.kind(), ParseErrorKind::TooLong);
        check_error_is_well_formed(&input, &error);
    }

    #[test]
    fn printing_then_parsing_gives_the_same_requirement(requirement in requirement()) {
        let printed = requirement.to_string();
        prop_assert_eq!(parse(&printed), Ok(requirement), "{}", printed);
    }

    #[test]
    fn debian_order_is_a_total_order_consistent_with_equality(
        a in version(),
        b in version(),
        c in version(),
    ) {
        let [a, b, c] = [&a, &b, &c].map(|v| parse_version(v).unwrap());
        prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        prop_assert_eq!(a == b, a.cmp(&b) == Ordering::Equal);
        prop_assert_eq!(a.cmp(&a), Ordering::Equal);
        if a <= b && b <= c {
            prop_assert!(a <= c);
        }
    }

    #[test]
    fn the_sorting_order_is_total_over_versions_and_text_alike(
        a in prop_oneof![version(), "[a-z0-9.~:+-]{0,6}"],
        b in prop_oneof![version(), "[a-z0-9.~:+-]{0,6}"],
        c in prop_oneof![version(), "[a-z0-9.~:+-]{0,6}"],
    ) {
        prop_assert_eq!(order(&a, &b), order(&b, &a).reverse());
        prop_assert_eq!(order(&a, &a), Ordering::Equal);
        if order(&a, &b).is_le() && order(&b, &c).is_le() {
            prop_assert!(order(&a, &c).is_le(), "{} {} {}", a, b, c);
        }
    }

    #[test]
    fn version_parsing_is_total(text in any::<String>()) {
        if let Ok(v) = parse_version(&text) {
            prop_assert_eq!(v.cmp(&v), Ordering::Equal);
        }
    }
}
