//! Which checks a run judges (`--checks GLOB`, `--level LEVEL`): the others
//! are left out of every verdict, a case's and a generated input's alike, and
//! a trial left with no check of the selection is ignored, never `ok`.

use crate::verdict::{check_family, Check, Level};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Globs over check ids (`*` any run of characters, `?` one); a check
    /// is selected when one matches its id or its family. Empty: every id.
    pub patterns: Vec<String>,
    /// Only checks of this level; `None`: every level.
    pub level: Option<Level>,
}

impl Selection {
    /// `--checks` values (each may hold several globs, comma-separated) and `--level`.
    pub fn new(checks: &[String], level: Option<Level>) -> Self {
        Self {
            patterns: checks
                .iter()
                .flat_map(|c| c.split(','))
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
            level,
        }
    }

    /// Whether the run judges only some checks.
    pub fn is_partial(&self) -> bool {
        !self.patterns.is_empty() || self.level.is_some()
    }

    pub fn selects(&self, check: &Check) -> bool {
        self.level.is_none_or(|level| check.level == level)
            && (self.patterns.is_empty()
                || self
                    .patterns
                    .iter()
                    .any(|p| glob(p, &check.id) || glob(p, check_family(&check.id))))
    }

    /// Leaves out the checks the run does not judge.
    pub fn retain(&self, checks: &mut Vec<Check>) {
        if self.is_partial() {
            checks.retain(|c| self.selects(c));
        }
    }

    /// Why a trial with no check of the selection is ignored.
    pub fn nothing_selected(&self) -> String {
        format!("none of its checks is selected ({})", self.describe())
    }

    /// The selection as the options that made it.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.patterns.is_empty() {
            parts.push(format!("--checks {}", self.patterns.join(",")));
        }
        if let Some(level) = self.level {
            parts.push(format!("--level {}", level.as_str()));
        }
        parts.join(" ")
    }

    /// Whether a pattern can select any of `ids` (a typo selects nothing).
    pub fn unmatched_patterns(&self, ids: &[String]) -> Vec<&str> {
        self.patterns
            .iter()
            .filter(|p| !ids.iter().any(|id| glob(p, id)))
            .map(String::as_str)
            .collect()
    }
}

/// Parses `--level`: MUST or SHOULD, any casing.
pub fn parse_level(text: &str) -> Result<Level, String> {
    match text.to_ascii_uppercase().as_str() {
        "MUST" => Ok(Level::Must),
        "SHOULD" => Ok(Level::Should),
        _ => Err("MUST or SHOULD".to_owned()),
    }
}

/// Whether `text` matches `pattern`, where `*` is any run of characters
/// and `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Where the last `*` was, and where in the text it had got to.
    let (mut pi, mut ti, mut star) = (0, 0, None::<(usize, usize)>);
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_ids_and_families() {
        assert!(glob("invite.*", "invite.location"));
        assert!(glob("*location", "invite.location"));
        assert!(glob("invite.?ocation", "invite.location"));
        assert!(!glob("invite.*", "error.no-5xx"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
        let selection = Selection::new(&["notification, status".to_owned()], None);
        assert!(selection.selects(&Check::new("notification[1]", Level::Must, "x")));
        assert!(selection.selects(&Check::new("status", Level::Must, "x")));
        assert!(!selection.selects(&Check::new("status.preferred", Level::Should, "x")));
    }

    #[test]
    fn a_level_selects_only_its_checks() {
        let must = Selection::new(&[], Some(Level::Must));
        let mut checks = vec![
            Check::new("a", Level::Must, "x"),
            Check::new("b", Level::Should, "x"),
        ];
        must.retain(&mut checks);
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].id, "a");
        assert_eq!(parse_level("should"), Ok(Level::Should));
        assert!(parse_level("MAY").is_err());
    }
}
