//! Every export's handling of NULL, bad input and ownership, on a report made without probing.

use std::ffi::{c_char, c_int, CStr};
use std::ptr::null;
use std::ptr::null_mut;

use super::*;
use crate::*;

#[test]
fn free_functions_accept_null() {
    // SAFETY: NULL is documented as fine for every _free function.
    unsafe {
        hwspec_options_free(null_mut());
        hwspec_report_free(null_mut());
        hwspec_verdict_free(null_mut());
        hwspec_string_free(null_mut());
    }
}

#[test]
fn last_error_is_empty_before_any_failure_and_kept_after_a_success() {
    std::thread::spawn(|| {
        assert_eq!(last_error(), "");
        // SAFETY: NULL arguments are answered with an error code.
        assert_eq!(unsafe { hwspec_options_new(null_mut()) }, HWSPEC_ERR_NULL);
        assert_eq!(last_error(), "hwspec_options_new: out is NULL");
        let mut options = null_mut();
        // SAFETY: `options` is a valid place for the pointer; freed below.
        unsafe {
            assert_eq!(hwspec_options_new(&mut options), HWSPEC_OK);
            hwspec_options_free(options);
        }
        assert_eq!(last_error(), "hwspec_options_new: out is NULL");
    })
    .join()
    .unwrap();
}

#[test]
fn last_error_is_per_thread() {
    // SAFETY: NULL arguments are answered with an error code.
    let result = unsafe { hwspec_report_json(null(), null_mut()) };
    assert_eq!(result, HWSPEC_ERR_NULL);
    std::thread::spawn(|| assert_eq!(last_error(), ""))
        .join()
        .unwrap();
    assert!(last_error().starts_with("hwspec_report_json: report is NULL"));
}

#[test]
fn options_setters_check_their_arguments() {
    let mut options = null_mut();
    // SAFETY: every pointer passed is valid or NULL; `options` is freed at the end.
    unsafe {
        assert_eq!(hwspec_options_new(&mut options), HWSPEC_OK);
        assert!(!options.is_null());

        let backends = c("opencl,vulkan");
        assert_eq!(
            hwspec_options_set_backends(null_mut(), backends.as_ptr()),
            HWSPEC_ERR_NULL
        );
        assert_eq!(
            hwspec_options_set_backends(options, null()),
            HWSPEC_ERR_NULL
        );
        assert_eq!(
            last_error(),
            "hwspec_options_set_backends: backends is NULL"
        );
        assert_eq!(
            hwspec_options_set_backends(options, backends.as_ptr()),
            HWSPEC_OK
        );
        assert_eq!(
            hwspec_options_set_backends(options, c("").as_ptr()),
            HWSPEC_OK
        );
        assert_eq!(
            hwspec_options_set_backends(options, c("opencl,metal").as_ptr()),
            HWSPEC_ERR_INVALID
        );
        assert!(
            last_error().contains("unknown backend \"metal\""),
            "{}",
            last_error()
        );

        assert_eq!(
            hwspec_options_set_level(null_mut(), c("quick").as_ptr()),
            HWSPEC_ERR_NULL
        );
        assert_eq!(hwspec_options_set_level(options, null()), HWSPEC_ERR_NULL);
        for level in ["quick", "standard", "full"] {
            assert_eq!(
                hwspec_options_set_level(options, c(level).as_ptr()),
                HWSPEC_OK
            );
        }
        assert_eq!(
            hwspec_options_set_level(options, c("Quick").as_ptr()),
            HWSPEC_ERR_INVALID
        );
        assert!(
            last_error().contains("unknown level \"Quick\""),
            "{}",
            last_error()
        );

        assert_eq!(
            hwspec_options_set_timeout_ms(null_mut(), 1000),
            HWSPEC_ERR_NULL
        );
        assert_eq!(
            hwspec_options_set_timeout_ms(options, 0),
            HWSPEC_ERR_INVALID
        );
        assert_eq!(hwspec_options_set_timeout_ms(options, 1000), HWSPEC_OK);

        assert_eq!(
            hwspec_options_set_use_cache(null_mut(), false),
            HWSPEC_ERR_NULL
        );
        assert_eq!(hwspec_options_set_use_cache(options, false), HWSPEC_OK);
        assert_eq!(hwspec_options_set_max_age_s(null_mut(), 5), HWSPEC_ERR_NULL);
        assert_eq!(hwspec_options_set_max_age_s(options, 0), HWSPEC_OK);
        assert_eq!(
            hwspec_options_set_trust_env(null_mut(), true),
            HWSPEC_ERR_NULL
        );
        assert_eq!(hwspec_options_set_trust_env(options, true), HWSPEC_OK);

        assert_eq!(
            hwspec_options_set_worker(null_mut(), c("/bin/true").as_ptr()),
            HWSPEC_ERR_NULL
        );
        assert_eq!(hwspec_options_set_worker(options, null()), HWSPEC_ERR_NULL);
        assert_eq!(
            hwspec_options_set_worker(options, c("hwspec-worker").as_ptr()),
            HWSPEC_ERR_INVALID
        );
        assert!(last_error().contains("absolute path"), "{}", last_error());
        assert_eq!(
            hwspec_options_set_worker(options, c("/usr/libexec/hwspec/hwspec-worker").as_ptr()),
            HWSPEC_OK
        );

        hwspec_options_free(options);
    }
}

#[test]
fn invalid_utf8_is_invalid_not_a_crash() {
    let bad = c"opencl\xff".as_ptr();
    let mut options = null_mut();
    let report = fixture();
    let mut verdict: *mut hwspec_verdict = sentinel();
    let mut has = true;
    let mut text: *mut c_char = sentinel();
    // SAFETY: every pointer passed is valid; `options` and `report` are freed at the end.
    unsafe {
        assert_eq!(hwspec_options_new(&mut options), HWSPEC_OK);
        assert_eq!(
            hwspec_options_set_backends(options, bad),
            HWSPEC_ERR_INVALID
        );
        assert_eq!(
            last_error(),
            "hwspec_options_set_backends: backends is not UTF-8 (at byte 6)"
        );
        assert_eq!(hwspec_options_set_level(options, bad), HWSPEC_ERR_INVALID);
        assert_eq!(
            hwspec_options_set_worker(options, c"/opt/\xc3".as_ptr()),
            HWSPEC_ERR_INVALID
        );
        assert_eq!(hwspec_check(report, bad, &mut verdict), HWSPEC_ERR_INVALID);
        assert_eq!(
            hwspec_report_has(report, bad, null(), null(), &mut has),
            HWSPEC_ERR_INVALID
        );
        assert_eq!(
            hwspec_report_has(
                report,
                c("opencl").as_ptr(),
                c">\xff".as_ptr(),
                c("1").as_ptr(),
                &mut has
            ),
            HWSPEC_ERR_INVALID
        );
        assert_eq!(
            hwspec_package_requirement(bad, 0, null(), &mut text),
            HWSPEC_ERR_INVALID
        );
        assert_eq!(
            hwspec_package_requirement(c("/dev/null").as_ptr(), 0, bad, &mut text),
            HWSPEC_ERR_INVALID
        );
        hwspec_options_free(options);
        hwspec_report_free(report);
    }
    assert_eq!(verdict, sentinel());
    assert!(has);
    assert_eq!(text, sentinel());
}

#[test]
fn capabilities_are_listed_with_borrowed_strings() {
    let report = fixture();
    let mut count = 0;
    // SAFETY: every pointer passed is valid; `report` is freed at the end.
    unsafe {
        assert_eq!(
            hwspec_report_capability_count(report, &mut count),
            HWSPEC_OK
        );
        assert_eq!(count, 4);
        let mut seen = Vec::new();
        for i in 0..count {
            let (mut name, mut version) = (null(), null());
            assert_eq!(
                hwspec_report_capability(report, i, &mut name, &mut version),
                HWSPEC_OK
            );
            let name = CStr::from_ptr(name).to_str().unwrap();
            let version = (!version.is_null()).then(|| CStr::from_ptr(version).to_str().unwrap());
            seen.push((name, version));
        }
        assert_eq!(
            seen,
            [
                ("cpu", None),
                ("opencl", Some("1.2")),
                ("opencl", Some("3.0")),
                ("x86-64-v2", None)
            ]
        );

        let unset: *const c_char = sentinel::<c_char>();
        let (mut name, mut version) = (unset, unset);
        assert_eq!(
            hwspec_report_capability(report, 4, &mut name, &mut version),
            HWSPEC_ERR_INVALID
        );
        assert!(
            last_error().contains("index 4 is out of range: the report has 4"),
            "{}",
            last_error()
        );
        assert_eq!((name, version), (unset, unset));
        assert_eq!(
            hwspec_report_capability(null(), 0, &mut name, &mut version),
            HWSPEC_ERR_NULL
        );
        assert_eq!(
            hwspec_report_capability(report, 0, null_mut(), &mut version),
            HWSPEC_ERR_NULL
        );
        assert_eq!(
            hwspec_report_capability(report, 0, &mut name, null_mut()),
            HWSPEC_ERR_NULL
        );
        assert_eq!((name, version), (unset, unset));
        assert_eq!(
            hwspec_report_capability_count(null(), &mut count),
            HWSPEC_ERR_NULL
        );
        assert_eq!(
            hwspec_report_capability_count(report, null_mut()),
            HWSPEC_ERR_NULL
        );
        hwspec_report_free(report);
    }
}

/// `hwspec_report_has(report, name, op, version)` on the fixture.
fn has(name: &str, constraint: Option<(&str, &str)>) -> Result<bool, (hwspec_result, String)> {
    let report = fixture();
    let name = c(name);
    let (op, version) = constraint.map_or((None, None), |(o, v)| (Some(c(o)), Some(c(v))));
    let mut out = false;
    // SAFETY: every pointer passed is valid or NULL; `report` is freed before returning.
    let result = unsafe {
        let result = hwspec_report_has(
            report,
            name.as_ptr(),
            op.as_ref().map_or(null(), |o| o.as_ptr()),
            version.as_ref().map_or(null(), |v| v.as_ptr()),
            &mut out,
        );
        hwspec_report_free(report);
        result
    };
    match result {
        HWSPEC_OK => Ok(out),
        code => Err((code, last_error())),
    }
}

#[test]
fn has_tests_presence_and_debian_versions() {
    assert_eq!(has("cpu", None), Ok(true));
    assert_eq!(has("cuda", None), Ok(false));
    assert_eq!(has("opencl", Some((">=", "3.0"))), Ok(true));
    assert_eq!(has("opencl", Some((">>", "3.0"))), Ok(false));
    assert_eq!(
        has("opencl", Some(("<<", "2"))),
        Ok(true),
        "any value may satisfy it"
    );
    assert_eq!(has("opencl", Some(("=", "3.0~rc1"))), Ok(false));
    assert_eq!(
        has("opencl", Some((">=", "3.0~rc1"))),
        Ok(true),
        "~ sorts before the release"
    );
    assert_eq!(
        has("cpu", Some((">=", "1"))),
        Ok(false),
        "a flag has no version"
    );
    assert_eq!(has("cuda", Some((">=", "1"))), Ok(false));
    let (code, message) = has("opencl", Some(("=>", "3.0"))).unwrap_err();
    assert_eq!(code, HWSPEC_ERR_INVALID);
    assert!(message.contains("unknown operator \"=>\""), "{message}");
    let (code, message) = has("opencl", Some((">=", "three"))).unwrap_err();
    assert_eq!(code, HWSPEC_ERR_INVALID);
    assert!(message.contains("version \"three\""), "{message}");
}

#[test]
fn has_wants_both_op_and_version_or_neither() {
    let report = fixture();
    let mut out = true;
    // SAFETY: every pointer passed is valid or NULL; `report` is freed at the end.
    unsafe {
        let opencl = c("opencl");
        assert_eq!(
            hwspec_report_has(report, opencl.as_ptr(), c(">=").as_ptr(), null(), &mut out),
            HWSPEC_ERR_NULL
        );
        assert!(
            last_error().contains("version (op is given)"),
            "{}",
            last_error()
        );
        assert_eq!(
            hwspec_report_has(report, opencl.as_ptr(), null(), c("1").as_ptr(), &mut out),
            HWSPEC_ERR_NULL
        );
        assert_eq!(
            hwspec_report_has(null(), opencl.as_ptr(), null(), null(), &mut out),
            HWSPEC_ERR_NULL
        );
        assert_eq!(
            hwspec_report_has(report, null(), null(), null(), &mut out),
            HWSPEC_ERR_NULL
        );
        assert_eq!(
            hwspec_report_has(report, opencl.as_ptr(), null(), null(), null_mut()),
            HWSPEC_ERR_NULL
        );
        assert!(out, "untouched on error");
        hwspec_report_free(report);
    }
}

#[test]
fn check_judges_and_explains_like_the_cli() {
    let report = fixture();
    let (satisfied, explanation, json) = check(report, "opencl (>= 3.0) | cuda, x86-64-v2");
    assert!(satisfied);
    assert!(
        explanation.starts_with("opencl (>= 3.0) | cuda, x86-64-v2: satisfied\n"),
        "{explanation}"
    );
    assert!(
        explanation.contains("  [yes] opencl (>= 3.0) | cuda\n"),
        "{explanation}"
    );
    assert!(explanation.contains("        cuda: "), "{explanation}");
    assert_eq!(json["satisfied"], true);
    assert_eq!(json["expression"], "opencl (>= 3.0) | cuda, x86-64-v2");
    assert_eq!(json["clauses"][0]["relations"][1]["text"], "cuda");
    assert_eq!(json["clauses"][0]["relations"][1]["satisfied"], false);

    let (satisfied, explanation, json) = check(report, "cuda (>= 12.0)");
    assert!(!satisfied);
    assert!(
        explanation.starts_with("cuda (>= 12.0): NOT satisfied\n  [no ] cuda (>= 12.0)\n"),
        "{explanation}"
    );
    assert_eq!(json["satisfied"], false);

    let (satisfied, _, json) = check(report, "  ");
    assert!(satisfied, "an empty requirement means cpu");
    assert_eq!(json["expression"], "cpu");
    // SAFETY: `report` came from the fixture and is freed once.
    unsafe { hwspec_report_free(report) };
}

#[test]
fn a_parse_error_names_the_column_and_writes_nothing() {
    let report = fixture();
    let mut verdict: *mut hwspec_verdict = sentinel();
    // SAFETY: every pointer passed is valid or NULL; `report` is freed at the end.
    unsafe {
        let bad = c("opencl (>= 3.0) | | cuda");
        assert_eq!(
            hwspec_check(report, bad.as_ptr(), &mut verdict),
            HWSPEC_ERR_PARSE
        );
        let message = last_error();
        assert!(
            message.starts_with("hwspec_check: invalid requirement: column 19: expected"),
            "{message}"
        );
        assert!(
            message.ends_with("opencl (>= 3.0) | | cuda\n                  ^"),
            "{message}"
        );
        assert_eq!(verdict, sentinel());
        assert_eq!(
            hwspec_check(null(), bad.as_ptr(), &mut verdict),
            HWSPEC_ERR_NULL
        );
        assert_eq!(hwspec_check(report, null(), &mut verdict), HWSPEC_ERR_NULL);
        assert_eq!(
            hwspec_check(report, bad.as_ptr(), null_mut()),
            HWSPEC_ERR_NULL
        );
        assert_eq!(verdict, sentinel());
        hwspec_report_free(report);
    }
}

#[test]
fn verdict_accessors_refuse_null() {
    let report = fixture();
    let mut verdict = null_mut();
    let mut satisfied = false;
    let mut text: *mut c_char = sentinel();
    // SAFETY: every pointer passed is valid or NULL; both objects are freed at the end.
    unsafe {
        assert_eq!(
            hwspec_check(report, c("cpu").as_ptr(), &mut verdict),
            HWSPEC_OK
        );
        assert_eq!(
            hwspec_verdict_satisfied(null(), &mut satisfied),
            HWSPEC_ERR_NULL
        );
        assert_eq!(
            hwspec_verdict_satisfied(verdict, null_mut()),
            HWSPEC_ERR_NULL
        );
        assert_eq!(
            hwspec_verdict_explanation(null(), &mut text),
            HWSPEC_ERR_NULL
        );
        assert_eq!(
            hwspec_verdict_explanation(verdict, null_mut()),
            HWSPEC_ERR_NULL
        );
        assert_eq!(hwspec_verdict_json(null(), &mut text), HWSPEC_ERR_NULL);
        assert_eq!(hwspec_verdict_json(verdict, null_mut()), HWSPEC_ERR_NULL);
        assert_eq!(hwspec_report_json(null(), &mut text), HWSPEC_ERR_NULL);
        assert_eq!(hwspec_report_json(report, null_mut()), HWSPEC_ERR_NULL);
        assert!(!satisfied);
        assert_eq!(text, sentinel());
        hwspec_verdict_free(verdict);
        hwspec_report_free(report);
    }
}

#[test]
fn overrides_are_applied_recorded_and_explained() {
    let report = fixture_with(&[("HWSPEC_OVERRIDE_CUDA", "12.4"), ("PATH", "/bin")]).unwrap();
    let (satisfied, explanation, _) = check(report, "cuda (>= 12.0)");
    assert!(satisfied);
    assert!(
        explanation.contains("set by HWSPEC_OVERRIDE_CUDA=12.4"),
        "{explanation}"
    );
    let mut json = null_mut();
    // SAFETY: every pointer passed is valid; `report` is freed once.
    unsafe {
        assert_eq!(hwspec_report_json(report, &mut json), HWSPEC_OK);
        hwspec_report_free(report);
    }
    let json: serde_json::Value = serde_json::from_str(&take(json)).unwrap();
    assert_eq!(json["overrides"]["HWSPEC_OVERRIDE_CUDA"], "12.4");

    let err = fixture_with(&[("HWSPEC_OVERRIDE_CUDA", "twelve")]).unwrap_err();
    assert_eq!(err.code, HWSPEC_ERR_OVERRIDE);
    assert!(
        err.message.contains("HWSPEC_OVERRIDE_CUDA=twelve"),
        "{}",
        err.message
    );
}

#[test]
fn one_report_can_be_checked_from_many_threads() {
    let report = fixture() as usize;
    let threads: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                let expression = if i % 2 == 0 {
                    "opencl (>= 3.0)"
                } else {
                    "cuda"
                };
                let (satisfied, _, _) = check(report as *const hwspec_report, expression);
                satisfied == (i % 2 == 0)
            })
        })
        .collect();
    assert!(threads.into_iter().all(|t| t.join().unwrap()));
    // SAFETY: every thread is done with the report; freed once.
    unsafe { hwspec_report_free(report as *mut hwspec_report) };
}

fn write_temp(name: &str, contents: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hwspec-ffi-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// `hwspec_package_requirement(path, kind, package)`.
fn requirement(
    path: &std::path::Path,
    kind: c_int,
    package: Option<&str>,
) -> Result<String, (hwspec_result, String)> {
    let path = c(path.to_str().unwrap());
    let package = package.map(c);
    let mut out = null_mut();
    // SAFETY: every pointer passed is valid or NULL.
    let result = unsafe {
        hwspec_package_requirement(
            path.as_ptr(),
            kind,
            package.as_ref().map_or(null(), |p| p.as_ptr()),
            &mut out,
        )
    };
    match result {
        HWSPEC_OK => Ok(take(out)),
        code => Err((code, last_error())),
    }
}

const CONTROL: hwspec_package_file_arg = hwspec_package_file::HWSPEC_DEBIAN_CONTROL as c_int;

#[test]
fn package_requirement_reads_debian_control() {
    let control = write_temp(
        "control",
        b"Source: demo\nX-Requires-Hwspec: x86-64-v2,\n\n\
          Package: demo-opencl\nArchitecture: any\nX-Requires-Hwspec: opencl (>= 1.2)\n\n\
          Package: demo-doc\nArchitecture: all\n\n\
          Package: demo-vulkan\nArchitecture: any\nXB-Requires-Hwspec: vulkan\n",
    );
    assert_eq!(
        requirement(&control, CONTROL, None).unwrap(),
        "x86-64-v2, opencl (>= 1.2), vulkan"
    );
    assert_eq!(
        requirement(&control, CONTROL, Some("demo-opencl")).unwrap(),
        "x86-64-v2, opencl (>= 1.2)"
    );
    assert_eq!(
        requirement(&control, CONTROL, Some("demo-doc")).unwrap(),
        "x86-64-v2"
    );
    let (code, message) = requirement(&control, CONTROL, Some("nope")).unwrap_err();
    assert_eq!(code, HWSPEC_ERR_CONTROL);
    assert!(message.contains("nope"), "{message}");

    let plain = write_temp(
        "control-plain",
        b"Source: plain\n\nPackage: plain\nArchitecture: all\n",
    );
    assert_eq!(
        requirement(&plain, CONTROL, None).unwrap(),
        "",
        "no field means cpu"
    );

    let (code, message) =
        requirement(std::path::Path::new("/nonexistent/control"), CONTROL, None).unwrap_err();
    assert_eq!(code, HWSPEC_ERR_CONTROL);
    assert!(message.contains("/nonexistent/control"), "{message}");

    let (code, message) = requirement(&control, 7, None).unwrap_err();
    assert_eq!(code, HWSPEC_ERR_INVALID);
    assert!(
        message.contains("unknown hwspec_package_file 7"),
        "{message}"
    );

    let mut out: *mut c_char = sentinel();
    // SAFETY: NULL arguments are answered with an error code.
    unsafe {
        assert_eq!(
            hwspec_package_requirement(null(), CONTROL, null(), &mut out),
            HWSPEC_ERR_NULL
        );
        assert_eq!(
            hwspec_package_requirement(c("/x").as_ptr(), CONTROL, null(), null_mut()),
            HWSPEC_ERR_NULL
        );
    }
    assert_eq!(out, sentinel());
}

#[test]
fn package_requirement_reads_a_dsc() {
    let dsc = write_temp(
        "demo_1.0.dsc",
        b"Format: 3.0 (quilt)\nSource: demo\nVersion: 1.0\nRequires-Hwspec: cuda (>= 12.0) | opencl\n",
    );
    let kind = hwspec_package_file::HWSPEC_DSC as c_int;
    assert_eq!(
        requirement(&dsc, kind, None).unwrap(),
        "cuda (>= 12.0) | opencl"
    );
    assert_eq!(
        requirement(&dsc, kind, Some("demo")).unwrap_err().0,
        HWSPEC_ERR_CONTROL
    );
}

#[test]
fn a_panic_is_stopped_at_the_boundary() {
    let result = crate::error::boundary("hwspec_test", || panic!("on purpose"));
    assert_eq!(result, HWSPEC_ERR_PANIC);
    assert_eq!(
        last_error(),
        "hwspec_test: a bug in hwspec was caught (on purpose); please report it"
    );
}
