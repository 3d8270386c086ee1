//! Where a request goes: its path resolved under the target's base path
//! (and refused when it would leave it, before anything is sent), and the
//! redirects `--follow-redirects` lets it follow: on the target's origin
//! only, each hop said in the request line.

use reqwest::Url;

/// Redirects followed for one request before the suite gives up on it.
pub const MAX_REDIRECTS: usize = 5;

/// The target's URL, as requests are resolved under it.
#[derive(Debug, Clone)]
pub struct Base {
    url: Url,
    /// Its path without the trailing `/` (empty for a bare host).
    path: String,
}

impl Base {
    pub fn parse(base: &str) -> Result<Self, String> {
        let url = Url::parse(base).map_err(|e| format!("{base:?} is not a URL: {e}"))?;
        let path = url.path().trim_end_matches('/').to_owned();
        Ok(Self { url, path })
    }

    /// The URL `path` (a case's, placeholders filled) names under the
    /// target: `..` segments, in any spelling (`%2e%2e`, `..%2f`), are
    /// resolved first, and a path that then leaves the base path is refused.
    pub fn resolve(&self, path: &str) -> Result<Url, String> {
        let joined = format!("{}{path}", self.url.as_str().trim_end_matches('/'));
        let url = Url::parse(&joined).map_err(|e| {
            format!(
                "{} is not a valid path under the target: {e}",
                crate::sanitize::quote(path)
            )
        })?;
        if !self.holds(&url) {
            return Err(format!(
                "{} resolves to {}, outside the target's base path {}/",
                crate::sanitize::quote(path),
                crate::sanitize::quote(url.path()),
                self.path
            ));
        }
        if let Some(segment) = url
            .path_segments()
            .into_iter()
            .flatten()
            .find(|s| hides_dot_dot(s))
        {
            return Err(format!(
                "{} holds the segment {}, a `..` once decoded, which a server may resolve outside the target's base path {}/",
                crate::sanitize::quote(path),
                crate::sanitize::quote(segment),
                self.path
            ));
        }
        Ok(url)
    }

    /// `url` is on the target's origin, under its base path.
    fn holds(&self, url: &Url) -> bool {
        url.origin() == self.url.origin()
            && url
                .path()
                .strip_prefix(&self.path)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// `url` as a request line shows it: its path (and query) under the
    /// base path, the base path itself left out.
    pub fn shown(&self, url: &Url) -> String {
        let path = if url.origin() == self.url.origin() {
            url.path()
                .strip_prefix(&self.path)
                .filter(|rest| rest.is_empty() || rest.starts_with('/'))
                .unwrap_or(url.path())
        } else {
            url.as_str()
        };
        let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
        crate::sanitize::excerpt(&format!("{path}{query}"), crate::sanitize::QUOTE_MAX * 2)
            .into_owned()
    }
}

/// A segment whose percent-decoding holds `..` between separators, which
/// the URL parser left alone (`..%2f`, `%2e.%5c`) but a server may not.
fn hides_dot_dot(segment: &str) -> bool {
    segment.contains('%')
        && percent_decode(segment)
            .split(['/', '\\'])
            .any(|part| part == "..")
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a redirect makes of the request: the method it goes on with, and
/// whether its body goes too (RFC 9110 §15.4: 303 becomes GET; 301 and 302
/// turn a POST into a GET, as clients do; 307 and 308 repeat the request).
pub fn redirected_method(status: u16, method: &str) -> (String, bool) {
    match status {
        303 if !method.eq_ignore_ascii_case("HEAD") => ("GET".to_owned(), false),
        301 | 302 if method.eq_ignore_ascii_case("POST") => ("GET".to_owned(), false),
        _ => (method.to_owned(), true),
    }
}

/// Whether `status` is a redirect the suite may follow (one with a
/// `Location` to go to).
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_under_the_base_path() {
        let base = Base::parse("http://h:8080/v1.0").expect("a base");
        let ok = base.resolve("/communications/calls/x/./y").expect("under");
        assert_eq!(ok.path(), "/v1.0/communications/calls/x/y");
        assert_eq!(base.shown(&ok), "/communications/calls/x/y");
        for escape in [
            "/communications/../../admin",
            "/%2e%2e/admin",
            "/communications/%2E%2E/%2e%2e/admin",
            "/..\\admin",
            "/a/..%2f..%2fadmin",
            "@evil.example/x",
        ] {
            let err = base.resolve(escape).expect_err(escape);
            assert!(err.contains("base path /v1.0/"), "{escape}: {err}");
        }
        // Going up and back down inside the base path is no escape.
        let back = base.resolve("/a/../b").expect("still under");
        assert_eq!(back.path(), "/v1.0/b");
        // A target at the root holds every path on its origin.
        let root = Base::parse("http://h:8080").expect("a base");
        assert!(root.resolve("/../x").is_ok());
    }

    #[test]
    fn redirects_change_the_method_as_clients_do() {
        assert_eq!(redirected_method(307, "POST"), ("POST".to_owned(), true));
        assert_eq!(redirected_method(302, "POST"), ("GET".to_owned(), false));
        assert_eq!(redirected_method(303, "DELETE"), ("GET".to_owned(), false));
        assert_eq!(redirected_method(301, "GET"), ("GET".to_owned(), true));
    }
}
