//! What a contract leaves free, as data its [`crate::Description`] gives:
//! normalised before a recording is compared (`--compare`), and left out of
//! the expectations of a recorded case (`--record-cases`).

/// The freedoms of a contract, as data its [`crate::Description`] gives.
#[derive(Debug, Clone, Copy, Default)]
pub struct Freedoms {
    /// Members whose string values compare without regard to ASCII case
    /// (an enum the contract lets any casing of pass).
    pub case_insensitive: &'static [&'static str],
    /// Members a target may leave out: absent where the recording has one
    /// is no difference, a different value is.
    pub optional: &'static [&'static str],
    /// Where a Location's path starts to matter (`/communications/`): the
    /// host and the version before it are free. `None`: its path.
    pub location_from: Option<&'static str>,
    /// Response headers whose presence is compared (their values are ids).
    pub headers_present: &'static [&'static str],
}

impl Freedoms {
    /// The part of a Location that is compared.
    pub fn location_tail(&self, location: &str) -> Option<String> {
        let path = match location.find("://") {
            Some(scheme) => {
                let rest = &location[scheme + 3..];
                rest.find('/').map_or("/", |p| &rest[p..])
            }
            None => location,
        };
        match self.location_from {
            Some(anchor) => path.find(anchor).map(|at| path[at..].to_owned()),
            None => Some(path.to_owned()),
        }
    }
}
