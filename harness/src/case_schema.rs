//! The case schema: what a case file may hold, as the harness ships it,
//! with a contract's fixture kinds and profiles written in. A suite keeps
//! no copy of it; a `case.schema.json` in its schemas folder (for editors,
//! through a case's `$schema` line) must be this document, generated.

use serde_json::{json, Value};

use crate::contract::Description;

pub use crate::schema::CASE_SCHEMA as NAME;

/// The harness's part: everything but the contract's kinds and profiles.
const BASE: &str = include_str!("../case.schema.json");

/// The case schema of the contract `description` describes.
pub fn compose(description: &Description) -> Value {
    // Compiled in, and parsed by a unit test: it cannot fail here.
    let mut schema: Value = serde_json::from_str(BASE).unwrap_or_default();
    schema["$id"] = json!(format!("https://{}.test/schemas/{NAME}", description.name));
    let kinds: Vec<&str> = description.kind_names();
    let about: Vec<String> = description
        .fixtures
        .iter()
        .map(|k| format!("{} ({})", k.name, k.about.trim_end_matches('.')))
        .collect();
    if let Some(fixtures) = schema.pointer_mut("/properties/fixtures") {
        fixtures["description"] = json!(format!(
            "Placeholder name -> fixture kind: {}.",
            about.join("; ")
        ));
        fixtures["additionalProperties"] = json!({ "enum": kinds });
    }
    let profiles: Vec<&str> = description.profiles.iter().map(|p| p.name).collect();
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        if profiles.is_empty() {
            // No profile to name: a case with `profiles` is a mistake.
            properties.remove("profiles");
        } else if let Some(names) = properties
            .get_mut("profiles")
            .and_then(|p| p.get_mut("propertyNames"))
        {
            *names = json!({ "enum": profiles });
        }
    }
    schema
}

/// The case schema as a file holds it: pretty-printed, one newline at the end.
pub fn text(description: &Description) -> String {
    let pretty = serde_json::to_string_pretty(&compose(description)).unwrap_or_default();
    format!("{pretty}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::FixtureKind;

    #[test]
    fn the_harness_part_is_json_and_takes_the_contracts_kinds_and_profiles() {
        let base: Value = serde_json::from_str(BASE).expect("the base case schema is JSON");
        assert_eq!(
            base.pointer("/properties/fixtures/additionalProperties"),
            Some(&json!({"type": "string"}))
        );
        let described = Description {
            name: "rooms-conformance",
            fixtures: vec![FixtureKind::new("room", "A room.")],
            ..Description::default()
        };
        let composed = compose(&described);
        assert_eq!(
            composed.pointer("/properties/fixtures/additionalProperties"),
            Some(&json!({"enum": ["room"]}))
        );
        assert!(composed.pointer("/properties/profiles").is_none());
        assert_eq!(
            composed["$id"],
            "https://rooms-conformance.test/schemas/case.schema.json"
        );
    }
}
