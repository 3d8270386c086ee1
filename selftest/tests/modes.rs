//! Every documented mode works on a correct target: the suite, run with each
//! combination of options the README documents for targets that cannot do
//! everything (no callback reaching the suite, no calls created on demand,
//! calls lent instead), reports no failure and no error against the correct
//! reference server and against each variant the spec allows where the mode
//! can see it (a variant only of notifications is out of sight when no
//! notification reaches the suite).

use std::collections::BTreeMap;

use conformance_selftest::{create_call, in_parallel, run_suite, Run};
use invite_reference::{Config, Variant};

/// A mode: the options it adds to `--target`, whether it lends a group and
/// a peer-to-peer call, and whether the suite hears the target's
/// notifications in it at all.
struct Mode {
    name: &'static str,
    args: &'static [&'static str],
    lends: bool,
    hears: bool,
}

const MODES: &[Mode] = &[
    Mode {
        name: "--no-notifications",
        args: &["--no-notifications"],
        lends: false,
        hears: false,
    },
    Mode {
        name: "--no-create-calls, nothing lent",
        args: &["--no-create-calls"],
        lends: false,
        hears: false,
    },
    Mode {
        name: "--no-create-calls with lent calls",
        args: &["--no-create-calls"],
        lends: true,
        hears: false,
    },
    Mode {
        name: "--no-create-calls --no-notifications with lent calls (real Graph without a tunnel)",
        args: &["--no-create-calls", "--no-notifications"],
        lends: true,
        hears: false,
    },
    Mode {
        name: "lent calls, and calls created for the rest",
        args: &[],
        lends: true,
        hears: true,
    },
];

/// Variants that change only the notifications: nothing to see where none
/// reaches the suite.
const NOTIFICATIONS_ONLY: &[&str] = &[
    "progress-notification",
    "separate-posts",
    "roster-first",
    "roster-delta",
    "roster-per-participant",
    "repeated-roster",
    "extra-call-updates",
    "resource-communications-path",
    "no-resource",
    "roster-null-ids",
];

/// The configurations of the reference a mode runs against: the correct
/// one, each variant it can see, and all compatible variants at once.
fn configurations(mode: &Mode) -> Vec<(String, Vec<Variant>)> {
    let seen = |v: &Variant| mode.hears || !NOTIFICATIONS_ONLY.contains(&v.to_string().as_str());
    let mut out = vec![("the correct reference".to_owned(), Vec::new())];
    out.extend(
        Variant::ALL
            .iter()
            .filter(|v| seen(v))
            .map(|v| (format!("`{v}`"), vec![*v])),
    );
    out.push((
        "all compatible variants".to_owned(),
        Variant::compatible_set().into_iter().filter(seen).collect(),
    ));
    out
}

fn run_mode(mode: &Mode, variants: Vec<Variant>) -> Run {
    let server = invite_reference::start(Config {
        variants,
        ..Config::default()
    })
    .expect("the reference server starts");
    let base = server.base_url();
    let lent = mode.lends.then(|| {
        (
            create_call(server.addr(), true),
            create_call(server.addr(), false),
        )
    });
    let mut args: Vec<&str> = vec!["--target", &base];
    args.extend_from_slice(mode.args);
    if let Some((group, p2p)) = &lent {
        args.extend(["--group-call-id", group, "--p2p-call-id", p2p]);
    }
    // Default options otherwise: seeds, case counts, deadlines.
    run_suite(&args, &[("CONFORMANCE_TOKEN", "modes-token")]).expect("the suite runs")
}

#[test]
fn every_documented_mode_passes_a_correct_target() {
    let jobs: Vec<(usize, String, Vec<Variant>)> = MODES
        .iter()
        .enumerate()
        .flat_map(|(m, mode)| {
            configurations(mode)
                .into_iter()
                .map(move |(name, variants)| (m, name, variants))
        })
        .collect();
    let results = in_parallel(jobs, 3, |(m, name, variants)| {
        let run = run_mode(&MODES[m], variants);
        ((MODES[m].name, name), run)
    });
    let mut problems = BTreeMap::new();
    for ((mode, config), run) in &results {
        if run.code != Some(0) || !run.failures.is_empty() {
            problems.insert(
                format!("{mode}, against {config}"),
                format!(
                    "exit {:?}, failed {:?}\n{}",
                    run.code,
                    run.failures.keys().collect::<Vec<_>>(),
                    run.all_output()
                ),
            );
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} runs failed a correct target:\n{}",
        problems.len(),
        results.len(),
        problems
            .iter()
            .map(|(k, v)| format!("== {k}: {v}"))
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}
