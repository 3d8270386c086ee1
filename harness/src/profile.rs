//! Profiles: the rules a run is judged under. A check has the level its
//! contract gives it; a profile makes some of them MUST (a contract's
//! "behave as the reference service does" profile raises what is only
//! recommended under its spec). `--strict` is apart: every SHOULD fails.

use crate::verdict::{check_family, Check, Level};

/// A named set of rules, chosen with `--profile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// What `--profile` takes (`spec`).
    pub name: &'static str,
    /// What a run under it checks, in a sentence (`--help`, reports).
    pub about: &'static str,
    /// Check ids (a family covers its instances: `header` covers
    /// `header.location`) that are MUST under this profile.
    pub must: &'static [&'static str],
}

impl Profile {
    /// The profile of a contract that defines none: the levels as declared.
    pub const DECLARED: Profile = Profile {
        name: "default",
        about: "every check at the level its contract declares",
        must: &[],
    };

    /// Whether this profile makes check `id` a MUST whatever its level.
    pub fn raises(&self, id: &str) -> bool {
        self.must.iter().any(|m| *m == id || *m == check_family(id))
    }

    /// The level of check `id`, declared `level`, under this profile.
    pub fn level(&self, id: &str, level: Level) -> Level {
        if self.raises(id) {
            Level::Must
        } else {
            level
        }
    }

    /// `check` at its level under this profile.
    #[must_use]
    pub fn apply(&self, mut check: Check) -> Check {
        check.level = self.level(&check.id, check.level);
        check
    }
}

/// The profile named `name` among `profiles` (the first when no name is
/// given), or why there is none.
pub fn choose(profiles: &[Profile], name: Option<&str>) -> Result<Profile, String> {
    let Some(first) = profiles.first() else {
        return Ok(Profile::DECLARED);
    };
    match name {
        None => Ok(*first),
        Some(name) => profiles
            .iter()
            .find(|p| p.name == name)
            .copied()
            .ok_or_else(|| {
                format!(
                    "no profile {name:?}: this suite has {}",
                    profiles
                        .iter()
                        .map(|p| format!("{} ({})", p.name, p.about))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: Profile = Profile {
        name: "spec",
        about: "the page",
        must: &[],
    };
    const STRICTER: Profile = Profile {
        name: "service",
        about: "as the service does",
        must: &["error.body", "header"],
    };

    #[test]
    fn a_profile_raises_the_checks_it_names_and_their_instances() {
        assert_eq!(STRICTER.level("error.body", Level::Should), Level::Must);
        assert_eq!(
            STRICTER.level("header.location", Level::Should),
            Level::Must
        );
        assert_eq!(STRICTER.level("error.other", Level::Should), Level::Should);
        assert_eq!(SPEC.level("error.body", Level::Should), Level::Should);
        assert_eq!(SPEC.level("status", Level::Must), Level::Must);
    }

    #[test]
    fn the_first_profile_is_the_default_and_an_unknown_name_says_which_exist() {
        assert_eq!(choose(&[SPEC, STRICTER], None), Ok(SPEC));
        assert_eq!(choose(&[SPEC, STRICTER], Some("service")), Ok(STRICTER));
        assert_eq!(choose(&[], None), Ok(Profile::DECLARED));
        let said = choose(&[SPEC, STRICTER], Some("graph")).unwrap_err();
        assert!(said.contains("no profile \"graph\""), "{said}");
        assert!(
            said.contains("spec (the page), service (as the service does)"),
            "{said}"
        );
    }
}
