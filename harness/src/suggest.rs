//! What a user probably meant by a test name that names no test: the
//! closest names by edit distance, or the tests under a name that is a
//! folder's.

use crate::matching::edit_distance;

/// The error for `--exact NAME` when no test has that name: the names it
/// is closest to, among `names` (the trials built) and the case files read
/// from `cases` (`--exact` built no case trial but the one named; a folder
/// that cannot be read only means fewer suggestions).
pub fn no_such_test(cases: &std::path::Path, names: &[&str], name: &str) -> String {
    let files = crate::discover::discover(cases, false).unwrap_or_default();
    let names: Vec<&str> = names
        .iter()
        .copied()
        .chain(files.iter().map(|f| f.name.as_str()))
        .collect();
    let mut text = format!(
        "error: no test is named {name} (--exact takes a whole name; --list names every test)"
    );
    let meant = did_you_mean(name, &names);
    if !meant.is_empty() {
        text.push_str("\n  did you mean:");
        for m in meant {
            text.push_str(&format!("\n    {m}"));
        }
        if names.iter().any(|n| n.starts_with(&format!("{name}::"))) {
            text.push_str(&format!(
                "\n  (every test under {name}:: runs with the filter {name}:: and no --exact)"
            ));
        }
    }
    text
}

/// Up to three names close to `wanted` (a typo's worth of edits away),
/// closest first; or, when `wanted` is a prefix of names (a folder), the
/// first few of those.
pub fn did_you_mean<'a>(wanted: &str, names: &[&'a str]) -> Vec<&'a str> {
    let folder = format!("{wanted}::");
    let under: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| n.starts_with(&folder))
        .take(3)
        .collect();
    if !under.is_empty() {
        return under;
    }
    // A third of the name may be wrong: a dropped segment, a misspelling.
    let most = (wanted.chars().count() / 3).max(2);
    let mut close: Vec<(usize, &str)> = names
        .iter()
        .map(|n| (edit_distance(wanted, n), *n))
        .filter(|(d, _)| *d <= most)
        .collect();
    close.sort();
    // Only the closest: one letter off hides what is six letters off.
    let best = close.first().map_or(0, |(d, _)| *d);
    close
        .into_iter()
        .take_while(|(d, _)| *d <= best + 1)
        .take(3)
        .map(|(_, n)| n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: &[&str] = &[
        "case::rejections::unknown_call",
        "case::rejections::ended_call",
        "case::invite::examples::example_1_invite_one_participant",
        "lint::schemas",
    ];

    #[test]
    fn a_typo_finds_the_name_meant() {
        assert_eq!(
            did_you_mean("case::rejections::unknown_cal", NAMES),
            ["case::rejections::unknown_call"]
        );
    }

    #[test]
    fn a_folder_finds_its_tests_and_nonsense_finds_nothing() {
        assert_eq!(
            did_you_mean("case::rejections", NAMES),
            [
                "case::rejections::unknown_call",
                "case::rejections::ended_call"
            ]
        );
        assert!(did_you_mean("case::nope", NAMES).is_empty());
    }
}
