//! Properties of the parser and of version ordering over generated input. Case counts are
//! kept small so the whole `spec` test run stays within a few seconds.

use std::cmp::Ordering;

use proptest::prelude::*;

use super::version::parse_version;
use super::vocab;
use super::*;

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
    fn version_parsing_is_total(text in any::<String>()) {
        if let Ok(v) = parse_version(&text) {
            prop_assert_eq!(v.cmp(&v), Ordering::Equal);
        }
    }
}
