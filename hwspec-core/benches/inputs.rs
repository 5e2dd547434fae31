//! Cost of hostile input sizes on the parsers an attacker can reach (issue 10): a
//! `debian/control` with thousands of binary stanzas, requirements up to the relation cap and
//! past the size cap, and the typo suggestion for very long unknown names. Each group grows
//! its input by powers of four; linear parsers show a constant time per byte (criterion
//! prints the throughput), a quadratic one a time per byte that grows fourfold per step.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hwspec_core::control::from_control;
use hwspec_core::spec::{parse, MAX_EXPRESSION_LEN, MAX_RELATIONS};

/// A `debian/control` with a source stanza and `stanzas` binary stanzas, each declaring a
/// requirement, as a large source package (linux, texlive) would have them.
fn control_file(stanzas: usize) -> String {
    let mut text = String::from("Source: big\nX-Requires-Hwspec: cpu\n");
    for i in 0..stanzas {
        text.push_str(&format!(
            "\nPackage: bin{i}\nArchitecture: any\nDepends: ${{misc:Depends}}\n\
             X-Requires-Hwspec: cuda (>= 12.0), x86-64-v2 | opencl\nDescription: binary {i}\n \
             long description\n"
        ));
    }
    text
}

/// A requirement of `relations` relations, every other one versioned.
fn expression(relations: usize) -> String {
    (0..relations)
        .map(|i| {
            if i % 2 == 0 {
                "cuda (>= 12.0)"
            } else {
                "opencl"
            }
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

fn control(c: &mut Criterion) {
    let mut group = c.benchmark_group("control file");
    group.sample_size(10);
    for stanzas in [250, 1000, 4000] {
        let text = control_file(stanzas);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(stanzas), &text, |b, text| {
            b.iter(|| from_control(black_box(text), "debian/control", None).expect("parses"))
        });
    }
    group.finish();
}

fn expressions(c: &mut Criterion) {
    let mut group = c.benchmark_group("expression");
    for relations in [64, 256, MAX_RELATIONS] {
        let text = expression(relations);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::new("parse", relations), &text, |b, text| {
            b.iter(|| parse(black_box(text)).expect("within the caps"))
        });
    }
    // Past the caps the cost must stay bounded however large the input: one relation too many
    // is found after reading MAX_RELATIONS, an oversized text before reading anything.
    let too_many = expression(MAX_RELATIONS + 1);
    group.throughput(Throughput::Bytes(too_many.len() as u64));
    group.bench_function("one relation too many", |b| {
        b.iter(|| parse(black_box(&too_many)).expect_err("over the relation cap"))
    });
    let huge = "cpu, ".repeat(16 * 1024 * 1024 / 5);
    assert!(huge.len() > MAX_EXPRESSION_LEN);
    group.throughput(Throughput::Bytes(huge.len() as u64));
    group.bench_function("16 MiB of clauses", |b| {
        b.iter(|| parse(black_box(&huge)).expect_err("over the size cap"))
    });
    group.finish();
}

fn suggestions(c: &mut Criterion) {
    let mut group = c.benchmark_group("unknown name");
    for length in [16, 64, 16 * 1024, MAX_EXPRESSION_LEN] {
        let name = "x".repeat(length);
        group.throughput(Throughput::Bytes(length as u64));
        group.bench_with_input(BenchmarkId::from_parameter(length), &name, |b, name| {
            b.iter(|| parse(black_box(name)).expect_err("unknown name"))
        });
    }
    group.finish();
}

criterion_group!(benches, control, expressions, suggestions);
criterion_main!(benches);
