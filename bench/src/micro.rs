//! Section 3, in-process measurements of the schema registry the suite
//! uses: compiling every schema, and validating one invite response and one
//! notification the way the suite does (`Schemas::validate`, which collects
//! violations; a notification with the suite's own `notification_violations`,
//! which also walks it for members beyond the metadata).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use conformance_harness::Schemas;
use serde_json::{json, Value};

use crate::figures::median_of;

/// Each figure is the median of this many batches…
const BATCHES: usize = 7;
/// …each running at least this long.
const BATCH_TIME: Duration = Duration::from_millis(40);

#[derive(Debug, Clone)]
pub struct Figure {
    pub what: String,
    pub micros: f64,
    pub iterations: u64,
}

impl Figure {
    pub fn to_json(&self) -> Value {
        json!({"what": self.what, "microseconds": self.micros, "iterations_per_batch": self.iterations})
    }
}

/// Median µs per call of `f`, over [`BATCHES`] batches.
fn measure(what: &str, mut f: impl FnMut()) -> Figure {
    // Calibrate: double until one batch takes long enough.
    let mut iterations: u64 = 1;
    loop {
        let started = Instant::now();
        for _ in 0..iterations {
            f();
        }
        if started.elapsed() >= BATCH_TIME || iterations >= 1 << 24 {
            break;
        }
        iterations *= 2;
    }
    let per_call: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..iterations {
                f();
            }
            started.elapsed().as_secs_f64() * 1e6 / iterations as f64
        })
        .collect();
    Figure {
        what: what.to_owned(),
        micros: median_of(per_call).unwrap_or_default(),
        iterations,
    }
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

/// Violations of a notification body, as the `notification.schema`
/// invariant finds them (the suite's own function): the envelope, then each
/// item's resource, and the members beyond the metadata.
fn notification_violations(schemas: &Schemas, body: &Value) -> Result<usize, String> {
    invite_conformance::notification_violations(schemas, body).map(|v| v.violations.len())
}

/// Measures and prints the section; its part of the report.
pub fn section(root: &Path) -> Value {
    println!();
    println!("3. Schema validation, in process (conformance-harness Schemas::validate, median of {BATCHES} batches)");
    match measure_all(root) {
        Ok(figures) => {
            for f in &figures {
                println!("   {:<70} {:>10.1} µs", f.what, f.micros);
            }
            figures.iter().map(Figure::to_json).collect()
        }
        Err(e) => {
            println!("   not measured: {e}");
            json!({"error": e})
        }
    }
}

/// The documents validated: the documented examples in `schemas/examples/`,
/// and an invite request.
struct Examples {
    request: Value,
    response: Value,
    bad_response: Value,
    op_notification: Value,
    roster_notification: Value,
}

impl Examples {
    fn read(examples: &Path) -> Result<Self, String> {
        Ok(Examples {
            request: json!({
                "participants": [{"@odata.type": "#microsoft.graph.invitationParticipantInfo",
                    "identity": {"@odata.type": "#microsoft.graph.identitySet",
                        "phone": {"@odata.type": "#microsoft.graph.identity", "id": "+12345678901"}}}],
                "clientContext": "f2fa86af-3c51-4bc2-8fc0-475452d9764f"
            }),
            response: read_json(
                &examples
                    .join("valid/inviteParticipantsOperation/doc_response_pstn_phone_running.json"),
            )?,
            bad_response: read_json(
                &examples.join("invalid/inviteParticipantsOperation/status_pending.json"),
            )?,
            op_notification: read_json(
                &examples.join("valid/commsNotifications/doc_pstn_operation_completed.json"),
            )?,
            roster_notification: read_json(
                &examples.join("valid/commsNotifications/doc_pstn_roster_updated.json"),
            )?,
        })
    }

    /// The figures are only meaningful on documents the schemas accept (or,
    /// for the error path, reject): checked before any is timed.
    fn check(&self, schemas: &Schemas) -> Result<(), String> {
        let expect_valid = |name: &str, value: &Value| -> Result<(), String> {
            let v = schemas.validate(name, value)?;
            if v.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "the example for {name} has {} violation(s)",
                    v.len()
                ))
            }
        };
        expect_valid("inviteParticipantsOperation.json", &self.response)?;
        expect_valid("invite-request.json", &self.request)?;
        if schemas
            .validate("inviteParticipantsOperation.json", &self.bad_response)?
            .is_empty()
        {
            return Err("the invalid example status_pending.json passes its schema".into());
        }
        for (name, body) in [
            ("operation", &self.op_notification),
            ("roster", &self.roster_notification),
        ] {
            let n = notification_violations(schemas, body)?;
            if n > 0 {
                return Err(format!(
                    "the {name} notification example has {n} violation(s)"
                ));
            }
        }
        Ok(())
    }
}

/// Compiles the schemas once per batch, then times the validations.
fn measure_all(root: &Path) -> Result<Vec<Figure>, String> {
    let dir = root.join("schemas");
    let schemas = Schemas::load(&dir).map_err(|e| format!("schemas do not load: {e}"))?;
    let examples = Examples::read(&dir.join("examples"))?;
    examples.check(&schemas)?;
    let mut figures = vec![time_compiling(&dir)?];
    figures.extend(time_validations(&schemas, &examples));
    Ok(figures)
}

/// `Schemas::load` of every schema.
fn time_compiling(dir: &Path) -> Result<Figure, String> {
    let mut load_error = None;
    let figure = measure("compile every schema (Schemas::load)", || {
        if let Err(e) = Schemas::load(dir) {
            load_error.get_or_insert(e.to_string());
        }
    });
    match load_error {
        Some(e) => Err(format!("schemas do not load: {e}")),
        None => Ok(figure),
    }
}

/// One validation of each example, as the suite validates it.
fn time_validations(schemas: &Schemas, examples: &Examples) -> Vec<Figure> {
    let validate = |name: &'static str, value: &Value| {
        let result = schemas.validate(name, black_box(value));
        let _ = black_box(result);
    };
    let notification = |body: &Value| {
        let _ = black_box(notification_violations(schemas, black_box(body)));
    };
    vec![
        measure("invite request (invite-request.json)", || {
            validate("invite-request.json", &examples.request)
        }),
        measure("invite response (inviteParticipantsOperation.json)", || {
            validate("inviteParticipantsOperation.json", &examples.response)
        }),
        measure("invalid invite response, violations collected", || {
            validate("inviteParticipantsOperation.json", &examples.bad_response)
        }),
        measure(
            "operation notification (commsNotifications + commsOperation)",
            || notification(&examples.op_notification),
        ),
        measure(
            "roster notification (commsNotifications + participant per element)",
            || notification(&examples.roster_notification),
        ),
    ]
}
