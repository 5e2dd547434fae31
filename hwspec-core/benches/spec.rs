//! Cost of the requirement language on the path of every `hwspec check`: parsing a realistic
//! field and judging it against a report captured on a PoCL + lavapipe machine.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use hwspec_core::model::Report;
use hwspec_core::spec::{evaluate, parse};

/// A CUDA-or-ROCm-or-OpenCL package with CPU and memory floors: every syntax element, and on
/// the fixture machine a mix of satisfied and unsatisfied relations to explain.
const EXPRESSION: &str = "cuda (>= 12.1), cuda-arch (>= 8.0) | rocm (>= 6.0), \
     rocm-gfx90a | rocm-gfx942 | opencl (>= 1.2), gpu-memory (>= 16) | x86-64-v3, \
     vulkan (>= 1.3)";

fn fixture() -> Report {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/reports/debian12-x86_64-pocl-lavapipe-full.json"
    );
    let text = std::fs::read_to_string(path).expect("the fixture report is readable");
    Report::from_json(&text).expect("the fixture report parses")
}

fn bench(c: &mut Criterion) {
    let report = fixture();
    let requirement = parse(EXPRESSION).expect("the bench expression parses");
    c.bench_function("parse", |b| b.iter(|| parse(black_box(EXPRESSION))));
    c.bench_function("evaluate", |b| {
        b.iter(|| evaluate(black_box(&requirement), black_box(&report), &[]))
    });
    c.bench_function("parse+evaluate", |b| {
        b.iter(|| {
            let requirement = parse(black_box(EXPRESSION)).expect("parses");
            evaluate(&requirement, black_box(&report), &[])
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
