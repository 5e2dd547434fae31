//! Debian version syntax and ordering, as dpkg applies them to `Depends`: the one order in
//! which hwspec compares versions, whether judging a requirement, picking a device's best API
//! version or sorting a capability's values.

use std::cmp::Ordering;

use debversion::Version;

/// Parses `text` as a Debian version, as strictly as dpkg: on top of what `debversion`
/// checks, the upstream part must start with a digit, a colon needs an epoch before it, and
/// a `-` needs a revision after it. The error says what is wrong.
pub fn parse_version(text: &str) -> Result<Version, String> {
    if text.is_empty() {
        return Err("the version is empty".to_owned());
    }
    let version: Version = text.parse().map_err(|_| {
        "not a Debian version: [epoch:]upstream[-revision] \
             of letters, digits and . + ~ - :"
            .to_owned()
    })?;
    if !version
        .upstream_version
        .starts_with(|c: char| c.is_ascii_digit())
    {
        return Err("a version must start with a digit".to_owned());
    }
    if version.epoch.is_none() && version.upstream_version.contains(':') {
        return Err("a colon is only allowed after a numeric epoch, as in 1:2.0".to_owned());
    }
    if text.ends_with('-') {
        return Err("the Debian revision after the last \"-\" is empty".to_owned());
    }
    Ok(version)
}

/// Orders two version strings by Debian's algorithm; `None` when either is not a version.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(parse_version(a).ok()?.cmp(&parse_version(b).ok()?))
}

/// [`compare`] made total, for sorting and for picking the highest: a string that is not a
/// version sorts before every version (so it is never taken for the best), and two such
/// strings compare as text.
pub fn order(a: &str, b: &str) -> Ordering {
    compare(a, b).unwrap_or_else(|| {
        let valid = |v: &str| parse_version(v).is_ok();
        valid(a).cmp(&valid(b)).then_with(|| a.cmp(b))
    })
}

/// `major.minor` of a dotted version such as `1.3.230` or `3.0`, as capabilities carry it;
/// `None` if it does not start with two numbers.
pub fn major_minor(version: &str) -> Option<String> {
    let mut parts = version.trim().split('.');
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts
        .next()?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some(format!("{major}.{minor}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        compare(a, b).unwrap_or_else(|| panic!("{a} or {b} is not a version"))
    }

    #[test]
    fn tilde_sorts_before_the_release() {
        assert_eq!(cmp("1.0~rc1", "1.0"), Ordering::Less);
        assert_eq!(cmp("1.0~rc1", "1.0~rc2"), Ordering::Less);
        assert_eq!(cmp("1.0~~", "1.0~"), Ordering::Less);
        assert_eq!(cmp("1.0", "1.0+b1"), Ordering::Less);
    }

    #[test]
    fn numeric_parts_compare_as_numbers() {
        assert_eq!(cmp("12.0", "12.10"), Ordering::Less);
        assert_eq!(cmp("12.9", "12.10"), Ordering::Less);
        assert_eq!(cmp("9.0", "10.0"), Ordering::Less);
        assert_eq!(cmp("1.0", "1.00"), Ordering::Equal);
        assert_eq!(cmp("16", "8"), Ordering::Greater);
        assert_eq!(cmp("12", "12.0"), Ordering::Less);
    }

    #[test]
    fn epochs_outrank_everything_and_revisions_come_last() {
        assert_eq!(cmp("1:1.0", "99.0"), Ordering::Greater);
        assert_eq!(cmp("0:1.0", "1.0"), Ordering::Equal);
        assert_eq!(cmp("1.0-1", "1.0-2"), Ordering::Less);
        assert_eq!(cmp("1.0", "1.0-0"), Ordering::Equal);
        assert_eq!(cmp("2:1.0-1", "1:9.9-9"), Ordering::Greater);
    }

    #[test]
    fn malformed_versions_are_refused_with_a_reason() {
        for bad in [
            "", "abc", "~1", "1.0 beta", "1.0_1", "1.0:2", "1.0-", "x:1.0", "1.0/2",
        ] {
            assert!(parse_version(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(
            parse_version("abc").unwrap_err(),
            "a version must start with a digit"
        );
        for good in [
            "1",
            "12.8",
            "1:2.0",
            "1.0~rc1",
            "1.0+dfsg-2",
            "2.0-1~bpo12+1",
            "1:2:3",
        ] {
            assert!(parse_version(good).is_ok(), "{good:?} was refused");
        }
        assert_eq!(compare("1.0", "abc"), None);
    }

    #[test]
    fn the_total_order_puts_what_is_not_a_version_first() {
        assert_eq!(order("1.10", "1.9"), Ordering::Greater);
        assert_eq!(order("1.2", "1.2.0"), Ordering::Less);
        assert_eq!(order("garbage", "0.1"), Ordering::Less);
        assert_eq!(order("1.0", "abc"), Ordering::Greater);
        assert_eq!(order("abc", "abd"), Ordering::Less);
        let mut values = ["12.10", "x", "12.9", "1:1.0", "12.9~rc1"];
        values.sort_by(|a, b| order(a, b));
        assert_eq!(values, ["x", "12.9~rc1", "12.9", "12.10", "1:1.0"]);
    }

    #[test]
    fn major_minor_keeps_the_first_two_numbers() {
        assert_eq!(major_minor("1.3.230").as_deref(), Some("1.3"));
        assert_eq!(major_minor("3.0").as_deref(), Some("3.0"));
        assert_eq!(major_minor("2.1-rc1").as_deref(), Some("2.1"));
        assert_eq!(major_minor("x.1"), None);
        assert_eq!(major_minor("3"), None);
    }
}
