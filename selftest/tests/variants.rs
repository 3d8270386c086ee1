//! No check fails a correct implementation: the suite, run whole
//! (cases, every property with several seeds, the stateful model) with its
//! default options against the reference server in each variant the spec
//! allows, and in every compatible combination at once, reports no failure
//! and no error. Warnings (SHOULD) are allowed: they are how the suite says
//! "Graph does otherwise" without failing anyone. `docs/variant-matrix.md`
//! is generated from the runs.

use std::collections::{BTreeMap, BTreeSet};

use conformance_harness::matrix::Column;
use conformance_selftest::{
    check_generated, in_parallel, run_suite, temp, warned_check_ids, workspace_root, Run,
};
use invite_reference::{Config, Variant};

/// Seeds the properties run with, per configuration: each one a different
/// set of generated inputs and model sequences.
const SEEDS: &[&str] = &["1", "2"];
/// The combined configurations run more seeds: they compose every freedom.
const COMBINED_SEEDS: &[&str] = &["3", "4", "5"];

/// One configuration of the reference server: a name and its variants.
struct Setup {
    name: String,
    variants: Vec<Variant>,
    seeds: &'static [&'static str],
}

fn setups() -> Vec<Setup> {
    let mut setups: Vec<Setup> = Variant::ALL
        .iter()
        .map(|v| Setup {
            name: format!("`{v}`"),
            variants: vec![*v],
            seeds: SEEDS,
        })
        .collect();
    let compatible = Variant::compatible_set();
    // The variants the compatible set leaves out, each with everything
    // compatible with them, so every variant also runs in company.
    let left_out: Vec<Variant> = Variant::ALL
        .iter()
        .copied()
        .filter(|v| !compatible.contains(v))
        .collect();
    let mut rest: Vec<Variant> = left_out.clone();
    for v in Variant::ALL {
        if !rest.contains(v) && rest.iter().all(|r| !r.conflicts_with(*v)) {
            rest.push(*v);
        }
    }
    setups.push(Setup {
        name: format!("all compatible ({} variants)", compatible.len()),
        variants: compatible,
        seeds: COMBINED_SEEDS,
    });
    setups.push(Setup {
        name: format!(
            "the others combined ({} variants, with {})",
            rest.len(),
            left_out
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        variants: rest,
        seeds: COMBINED_SEEDS,
    });
    setups
}

/// What one configuration's runs came to.
struct Outcome {
    runs: Vec<(String, Run)>,
    /// The report of its first seed's run.
    report: serde_json::Value,
}

impl Outcome {
    fn problems(&self, name: &str) -> Vec<String> {
        self.runs
            .iter()
            .filter(|(_, run)| run.code != Some(0) || !run.failures.is_empty())
            .map(|(seed, run)| {
                format!(
                    "{name}, PROPTEST_RNG_SEED={seed}: exit {:?}, failed {:?}\n{}",
                    run.code,
                    run.failures.keys().collect::<Vec<_>>(),
                    run.all_output()
                )
            })
            .collect()
    }

    /// Every SHOULD check that warned in a case, with the cases it warned
    /// in. (Properties may warn too; which generated input shows it first
    /// depends on the race between their workers, so they are left out of
    /// the generated matrix.)
    fn warnings(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (_, run) in &self.runs {
            for (test, id) in warned_check_ids(&run.stderr) {
                if test.starts_with("case::") {
                    out.entry(id).or_default().insert(test);
                }
            }
        }
        out
    }
}

fn run_setup(setup: &Setup) -> Outcome {
    let server = invite_reference::start(Config {
        variants: setup.variants.clone(),
        ..Config::default()
    })
    .expect("the reference server starts with compatible variants");
    let base = server.base_url();
    let dir = temp(&format!(
        "variant-{}",
        setup.name.replace(|c: char| !c.is_ascii_alphanumeric(), "")
    ));
    let report_dir = dir.to_str().expect("a UTF-8 path").to_owned();
    let runs = setup
        .seeds
        .iter()
        .enumerate()
        .map(|(i, seed)| {
            // The user's command, default options: no --strict.
            let mut args = vec!["--target", base.as_str()];
            if i == 0 {
                args.extend(["--report", report_dir.as_str()]);
            }
            let run = run_suite(
                &args,
                &[
                    ("CONFORMANCE_TOKEN", "variant-token"),
                    ("PROPTEST_RNG_SEED", seed),
                ],
            )
            .expect("the suite runs");
            ((*seed).to_owned(), run)
        })
        .collect();
    let report = conformance_harness::read_report(&dir).expect("the run wrote its report");
    let _ = std::fs::remove_dir_all(&dir);
    Outcome { runs, report }
}

#[test]
fn no_variant_the_spec_allows_fails_the_suite() {
    let setups = setups();
    // The last (combined, longest) configurations first, as the queue
    // always took them.
    let results: BTreeMap<usize, Outcome> =
        in_parallel((0..setups.len()).rev().collect(), 3, |i| {
            (i, run_setup(&setups[i]))
        })
        .into_iter()
        .collect();
    let problems: Vec<String> = setups
        .iter()
        .enumerate()
        .flat_map(|(i, s)| results[&i].problems(&s.name))
        .collect();
    assert!(
        problems.is_empty(),
        "the suite failed a correct implementation:\n{}",
        problems.join("\n\n")
    );
    matrix(&setups, &results);
}

/// A configuration's column: a number (the names are long; the table of
/// configurations names each).
fn column_label(i: usize, setup: &Setup) -> String {
    let _ = setup;
    (i + 1).to_string()
}

/// `docs/variant-matrix.md`, from the runs just checked.
fn matrix(setups: &[Setup], results: &BTreeMap<usize, Outcome>) {
    let mut md = String::from(
        "# Variant matrix\n\n\
         Generated by `selftest/tests/variants.rs` (`UPDATE_VARIANT_MATRIX=1 cargo test -p conformance-selftest --test variants`).\n\
         Each row is a configuration of the reference server that the spec allows but that differs from its\n\
         default behaviour (`cargo run -p invite-reference -- --list-variants`). The whole suite (cases, every\n\
         property, the stateful model) runs against it with its default options, once per seed, and must report\n\
         no failure and no error. Warnings are SHOULD checks: Graph does otherwise, the spec does not say.\n\n\
         | | configuration | what changes | why the spec allows it | result | warned in cases (SHOULD) |\n|---|---|---|---|---|---|\n",
    );
    for (i, setup) in setups.iter().enumerate() {
        let outcome = &results[&i];
        let (what, why) = match setup.variants.as_slice() {
            [one] => (one.description().to_owned(), one.source().to_owned()),
            many => (
                many.iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                "each of them".to_owned(),
            ),
        };
        let warned = outcome.warnings();
        let warned = if warned.is_empty() {
            "none".to_owned()
        } else {
            warned
                .iter()
                .map(|(id, tests)| format!("`{id}` ({} case(s))", tests.len()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let seeds = setup.seeds.join(", ");
        md.push_str(&format!(
            "| {} | {} | {} | {} | green (seeds {seeds}) | {} |\n",
            column_label(i, setup),
            setup.name,
            what.replace('|', "\\|"),
            why.replace('|', "\\|"),
            warned
        ));
    }
    // Checks × configurations, as `invite-conformance report matrix` writes
    // it for implementations: the same library function.
    let columns: Vec<Column> = setups
        .iter()
        .enumerate()
        .map(|(i, setup)| {
            let mut report = results[&i].report.clone();
            // Not the server's port, which changes every run.
            report["target"] = "the reference server".into();
            Column {
                label: column_label(i, setup),
                report,
            }
        })
        .collect();
    md.push_str(
        "\n## Checks × configurations\n\n\
         Generated with `conformance_harness::matrix::markdown`, the function behind\n\
         `invite-conformance report matrix`, from the report of each configuration's first seed\n\
         (`1`…: the configurations above, in order). A check no test ran is `not run`; `warn` is a\n\
         SHOULD check that Graph's behaviour decides and the spec does not.\n\n",
    );
    md.push_str(&conformance_harness::matrix::markdown(&columns));
    check_generated(
        &workspace_root().join("docs/variant-matrix.md"),
        &md,
        "UPDATE_VARIANT_MATRIX",
        |_| {
            "docs/variant-matrix.md is out of date: run UPDATE_VARIANT_MATRIX=1 cargo test -p conformance-selftest --test variants".to_owned()
        },
    );
}
