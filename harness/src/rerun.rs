//! Rerun lines: the two commands that run one trial again as the run ran
//! it, under `cargo test` (flags) and `cargo nextest run` (variables, since
//! nextest passes no flags), naming the token's variable, never its value.

use crate::options::Options;
use crate::settings::Settings;

/// The options that change a verdict, as a rerun line must give them.
#[derive(Debug, Clone, Default)]
pub struct RerunArgs {
    /// `(flag, variable, value)`; an empty value is a switch.
    options: Vec<(String, String, String)>,
    /// The variable the token was read from, when one was sent.
    token_env: Option<String>,
    /// What selects the suite's test binary (`-p crate --test suite`).
    cargo_args: &'static str,
    /// The installed program and its own options, when the suite runs as
    /// one: its rerun line calls it, not cargo.
    program: Option<(&'static str, String)>,
}

impl RerunArgs {
    /// What the run was given that a rerun must be given too.
    pub fn new(settings: &Settings, options: &Options, token_sent: bool) -> Self {
        let mut args = Vec::new();
        let mut add = |flag: &str, var: &str, value: String| {
            args.push((format!("--{flag}"), settings.var(var), value));
        };
        let shell = |s: &str| shell_quote(s);
        if let Some(t) = &options.target {
            add("target", "TARGET", shell(t));
        }
        let token_env = token_env(settings, options);
        if token_env != settings.var("TOKEN") {
            add("token-env", "TOKEN_ENV", shell(&token_env));
        }
        for given in &options.contract_options {
            args.push((
                given.flag.clone(),
                given.var.clone(),
                shell_word(&given.value),
            ));
        }
        let mut add = |flag: &str, var: &str, value: String| {
            args.push((format!("--{flag}"), settings.var(var), value));
        };
        if let Some(p) = &options.profile {
            add("profile", "PROFILE", shell(p));
        }
        // The identities a trial invites, and the recording it is compared
        // with, are part of what it ran.
        for (flag, var, value) in [
            ("tenant", "TENANT", &options.tenant),
            ("compare", "COMPARE", &options.compare),
        ] {
            if let Some(value) = value {
                add(flag, var, shell(&value.display().to_string()));
            }
        }
        if let Some(v) = &options.callback_url {
            add("callback-url", "CALLBACK_URL", shell(v));
        }
        for (flag, var, on) in [
            (
                "no-notifications",
                "NO_NOTIFICATIONS",
                options.no_notifications,
            ),
            ("strict", "STRICT", options.strict),
            (
                "follow-redirects",
                "FOLLOW_REDIRECTS",
                options.follow_redirects,
            ),
        ] {
            if on {
                add(flag, var, String::new());
            }
        }
        // What was given by flag or by variable: a value equal to the
        // default is repeated too, since the rerun may run elsewhere.
        if let Some(listen) = &options.listen {
            add("listen", "LISTEN", shell(listen));
        }
        for (flag, var, value) in [
            (
                "listener-max-connections",
                "LISTENER_MAX_CONNECTIONS",
                options.listener_max_connections.map(u64::from),
            ),
            (
                "listener-max-per-address",
                "LISTENER_MAX_PER_ADDRESS",
                options.listener_max_per_address.map(u64::from),
            ),
            (
                "response-timeout-ms",
                "RESPONSE_TIMEOUT_MS",
                options.response_timeout_ms,
            ),
            (
                "notification-timeout-ms",
                "NOTIFICATION_TIMEOUT_MS",
                options.notification_timeout_ms,
            ),
            (
                "retry-budget-secs",
                "RETRY_BUDGET_SECS",
                options.retry_budget_secs,
            ),
        ] {
            if let Some(value) = value {
                add(flag, var, value.to_string());
            }
        }
        for (flag, var, value) in [
            ("cases", "CASES", &options.cases),
            ("schemas", "SCHEMAS", &options.schemas),
        ] {
            if let Some(value) = value {
                add(flag, var, shell(&value.display().to_string()));
            }
        }
        if !options.checks.is_empty() {
            add("checks", "CHECKS", shell(&options.checks.join(",")));
        }
        if let Some(level) = options.level {
            add("level", "LEVEL", level.as_str().to_owned());
        }
        if let Some(k) = &options.known_failures {
            add(
                "known-failures",
                "KNOWN_FAILURES",
                shell(&k.display().to_string()),
            );
        }
        Self {
            options: args,
            token_env: token_sent.then_some(token_env),
            cargo_args: settings.cargo_args,
            program: settings
                .program
                .as_ref()
                .map(|p| (p.name, p.rerun_args.clone())),
        }
    }

    /// The two commands that rerun the trial `name`, with `extra` variables
    /// (a property's seed and case count).
    pub fn lines(&self, name: &str, extra: &[(&str, String)]) -> Vec<String> {
        let mut vars: Vec<String> = extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if let Some(var) = &self.token_env {
            // The variable, never its value: the shell fills it in, or (in a
            // new shell, when the run had it inline) stops and says to set it.
            vars.push(format!("{var}=\"${{{var}:?{TOKEN_UNSET}}}\""));
        }
        let prefix = |vars: &[String]| {
            if vars.is_empty() {
                String::new()
            } else {
                format!("{} ", vars.join(" "))
            }
        };
        let tls = if cfg!(feature = "tls") {
            " --features tls"
        } else {
            ""
        };
        let features = if self.cargo_args.is_empty() {
            tls.to_owned()
        } else {
            format!("{tls} {}", self.cargo_args)
        };
        let flags: String = self
            .options
            .iter()
            .map(|(flag, _, value)| {
                if value.is_empty() {
                    format!(" {flag}")
                } else {
                    format!(" {flag} {value}")
                }
            })
            .collect();
        if let Some((program, own)) = &self.program {
            // An installed program has no cargo, nor nextest, beside it.
            return vec![format!(
                "{}{program} --exact {name}{own}{flags}",
                prefix(&vars)
            )];
        }
        let mut nextest_vars = vars.clone();
        nextest_vars.extend(self.options.iter().map(|(_, var, value)| {
            if value.is_empty() {
                format!("{var}=1")
            } else {
                format!("{var}={value}")
            }
        }));
        vec![
            format!(
                "{}cargo test{features} -- --exact {name}{flags}",
                prefix(&vars)
            ),
            format!(
                "{}cargo nextest run{features} -E 'test(={name})'",
                prefix(&nextest_vars)
            ),
        ]
    }
}

/// The variable the token is read from.
pub fn token_env(settings: &Settings, options: &Options) -> String {
    options
        .token_env
        .clone()
        .unwrap_or_else(|| settings.var("TOKEN"))
}

/// What the shell says when a rerun line's token variable is not set: the
/// line runs as it is where the variable is exported, and stops with this
/// where it is not (the first run had it inline, say).
const TOKEN_UNSET: &str = "set it to the bearer token the target accepts";

/// A value as one shell word; a switch's empty value stays empty.
fn shell_word(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        shell_quote(s)
    }
}

/// A value as one shell word.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rerun_repeats_every_option_given_and_no_default() {
        // As the command line gives them: `--response-timeout-ms 10000
        // --listen 127.0.0.1:0`, the rest left at their defaults.
        let options = Options {
            response_timeout_ms: Some(10_000),
            listen: Some("127.0.0.1:0".to_owned()),
            ..Options::default()
        };
        let lines = RerunArgs::new(&Settings::new(""), &options, false).lines("case::x", &[]);
        let [test, nextest] = &lines[..] else {
            panic!("two lines")
        };
        // Given at their defaults: a rerun elsewhere may have other defaults
        // in its environment.
        assert!(test.contains(" --response-timeout-ms 10000"), "{test}");
        assert!(test.contains(" --listen 127.0.0.1:0"), "{test}");
        assert!(
            nextest.contains("CONFORMANCE_RESPONSE_TIMEOUT_MS=10000 "),
            "{nextest}"
        );
        for absent in [
            "--notification-timeout-ms",
            "--retry-budget-secs",
            "--cases",
        ] {
            assert!(!test.contains(absent), "{absent} was not given: {test}");
        }
    }

    #[test]
    fn a_prefix_of_the_settings_names_the_variables() {
        let settings = Settings {
            env_prefix: "ROOMS_",
            ..Settings::new("")
        };
        let options = Options {
            strict: true,
            token_env: Some("MY_TOKEN".to_owned()),
            ..Options::default()
        };
        let lines = RerunArgs::new(&settings, &options, true).lines("case::x", &[]);
        assert!(lines[0].starts_with("MY_TOKEN=\"${MY_TOKEN:?"), "{lines:?}");
        assert!(
            lines[0].contains(" --token-env MY_TOKEN --strict"),
            "{lines:?}"
        );
        assert!(
            lines[1].contains("ROOMS_TOKEN_ENV=MY_TOKEN ROOMS_STRICT=1"),
            "{lines:?}"
        );
    }
}
