//! Members a document carries that its schemas do not declare.
//!
//! A service may add members to what it sends without notice (Graph's
//! versioning policy lists added properties as backward compatible), so the
//! schemas accept them; this walk finds them, so they can be reported
//! ("members beyond the metadata") instead of failed or silently passed.
//! It follows the schema beside the instance: `properties`, `items`, `$ref`
//! (within the registry's files), `allOf`/`anyOf`/`oneOf` and `then`/`else`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::json_path::JsonPath;

/// How deep a chain of `$ref`s and combinators is followed: the schemas'
/// own nesting is shallow, and a reference cycle must not loop.
const MAX_SCHEMA_DEPTH: usize = 32;
/// How deep the instance is walked (documents are nested far less).
const MAX_INSTANCE_DEPTH: usize = 64;

/// One member no schema of its object declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undeclared {
    /// The type whose schema was followed (its `title`, or its `$defs` name).
    pub type_name: String,
    pub member: String,
    /// Where it was found in the document.
    pub path: JsonPath,
}

impl Undeclared {
    /// `participant.meetingRole`
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.type_name, self.member)
    }
}

/// A schema and the file it is resolved in (for relative references).
#[derive(Clone, Copy)]
struct At<'a> {
    file: &'a str,
    schema: &'a Value,
    /// The type's name, when this schema or one it came from names one.
    name: Option<&'a str>,
}

pub(crate) fn find(
    documents: &BTreeMap<String, Value>,
    file: &str,
    value: &Value,
) -> Vec<Undeclared> {
    let Some((file, schema)) = documents.get_key_value(file) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let start = At {
        file,
        schema,
        name: None,
    };
    walk(documents, &[start], value, &JsonPath::root(), 0, &mut out);
    // Several schemas of one object may each declare none of a member.
    out.sort_by_cached_key(|u| (u.path.to_string(), u.qualified()));
    out.dedup();
    out
}

fn walk(
    documents: &BTreeMap<String, Value>,
    schemas: &[At<'_>],
    value: &Value,
    path: &JsonPath,
    depth: usize,
    out: &mut Vec<Undeclared>,
) {
    if depth > MAX_INSTANCE_DEPTH {
        return;
    }
    let mut branches = Vec::new();
    for at in schemas {
        flatten(documents, *at, value, 0, &mut branches);
    }
    match value {
        Value::Object(members) => {
            let typed: Vec<&At<'_>> = branches
                .iter()
                .filter(|b| b.schema.get("properties").is_some_and(Value::is_object))
                .collect();
            // A map (`additionalProperties` as a schema) declares every key.
            let map: Vec<At<'_>> = branches
                .iter()
                .filter_map(|b| {
                    let extra = b.schema.get("additionalProperties")?;
                    extra.is_object().then_some(At {
                        schema: extra,
                        name: None,
                        ..*b
                    })
                })
                .collect();
            for (key, member) in members {
                let declared: Vec<At<'_>> = typed
                    .iter()
                    .filter_map(|b| {
                        let schema = b.schema.get("properties")?.get(key)?;
                        Some(At {
                            schema,
                            name: None,
                            ..**b
                        })
                    })
                    .collect();
                let at = path.key(key);
                if !declared.is_empty() {
                    walk(documents, &declared, member, &at, depth + 1, out);
                } else if !map.is_empty() {
                    walk(documents, &map, member, &at, depth + 1, out);
                } else if key.contains('@') {
                    // An OData annotation (`@odata.type`, `name@odata.etag`), not a member.
                } else if let Some(first) = typed.first() {
                    out.push(Undeclared {
                        type_name: type_name(first),
                        member: key.clone(),
                        path: at,
                    });
                }
            }
        }
        Value::Array(items) => {
            let item_schemas: Vec<At<'_>> = branches
                .iter()
                .filter_map(|b| {
                    let schema = b.schema.get("items")?;
                    schema.is_object().then_some(At {
                        schema,
                        name: None,
                        ..*b
                    })
                })
                .collect();
            if item_schemas.is_empty() {
                return;
            }
            for (i, item) in items.iter().enumerate() {
                walk(
                    documents,
                    &item_schemas,
                    item,
                    &path.index(i),
                    depth + 1,
                    out,
                );
            }
        }
        _ => {}
    }
}

/// `at` and every schema it applies through `$ref` and the combinators,
/// each with the type name it inherits.
fn flatten<'a>(
    documents: &'a BTreeMap<String, Value>,
    at: At<'a>,
    value: &Value,
    depth: usize,
    out: &mut Vec<At<'a>>,
) {
    if depth > MAX_SCHEMA_DEPTH || !at.schema.is_object() {
        return;
    }
    let at = At {
        name: at.schema.get("title").and_then(Value::as_str).or(at.name),
        ..at
    };
    out.push(at);
    if let Some(reference) = at.schema.get("$ref").and_then(Value::as_str) {
        if let Some(target) = resolve(documents, at.file, reference) {
            flatten(documents, target, value, depth + 1, out);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        for schema in at
            .schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let branch = At { schema, ..at };
            flatten(documents, branch, value, depth + 1, out);
        }
    }
    // `if`/`then`/`else`: the branch the instance takes, judged by its type
    // (the only condition the schemas write).
    if let Some(condition) = at.schema.get("if") {
        let key = if type_matches(condition, value) {
            "then"
        } else {
            "else"
        };
        if let Some(schema) = at.schema.get(key) {
            flatten(documents, At { schema, ..at }, value, depth + 1, out);
        }
    }
}

/// Whether `value` has the `type` that `condition` names (true when it names none).
fn type_matches(condition: &Value, value: &Value) -> bool {
    let names: Vec<&str> = match condition.get("type") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => return true,
    };
    names.iter().any(|name| match *name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.as_i64().is_some() || value.as_u64().is_some(),
        "number" => value.is_number(),
        _ => false,
    })
}

/// The schema a `$ref` names: `other.json`, `other.json#/$defs/x` or `#/$defs/x`.
fn resolve<'a>(
    documents: &'a BTreeMap<String, Value>,
    file: &'a str,
    reference: &'a str,
) -> Option<At<'a>> {
    let (target, pointer) = reference.split_once('#').unwrap_or((reference, ""));
    let (file, document) = if target.is_empty() {
        documents.get_key_value(file)?
    } else {
        let name = target.rsplit('/').next().unwrap_or(target);
        documents.get_key_value(name)?
    };
    let schema = if pointer.is_empty() {
        document
    } else {
        document.pointer(pointer)?
    };
    // A `$defs` entry is named by its key unless it has a title.
    let name = pointer
        .strip_prefix("/$defs/")
        .filter(|rest| !rest.contains('/'));
    Some(At { file, schema, name })
}

fn type_name(at: &At<'_>) -> String {
    at.name
        .map(str::to_owned)
        .unwrap_or_else(|| at.file.trim_end_matches(".json").to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn documents() -> BTreeMap<String, Value> {
        BTreeMap::from([
            (
                "room.json".to_owned(),
                json!({
                    "title": "room",
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "owner": {"$ref": "person.json"},
                        "members": {"type": "array", "items": {"$ref": "person.json"}},
                        "door": {
                            "type": ["object", "null"],
                            "if": {"type": "object"},
                            "then": {"$ref": "#/$defs/door"}
                        },
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}}
                    },
                    "$defs": {
                        "door": {"type": "object", "properties": {"open": {"type": "boolean"}}}
                    }
                }),
            ),
            (
                "person.json".to_owned(),
                json!({
                    "title": "person",
                    "allOf": [{"$ref": "entity.json"}],
                    "properties": {"name": {"type": "string"}}
                }),
            ),
            (
                "entity.json".to_owned(),
                json!({"title": "entity", "properties": {"id": {"type": "string"}}}),
            ),
        ])
    }

    fn found(value: &Value) -> Vec<String> {
        find(&documents(), "room.json", value)
            .into_iter()
            .map(|u| format!("{} at {}", u.qualified(), u.path))
            .collect()
    }

    #[test]
    fn members_no_schema_declares_are_found_with_their_type_and_path() {
        let doc = json!({
            "id": "r1",
            "colour": "blue",
            "@odata.type": "#x.room",
            "owner": {"id": "p", "name": "Ann", "age": 3},
            "members": [{"name": "Bo"}, {"name": "Cy", "nick": "c", "count@odata.count": 1}],
            "door": {"open": true, "lock": "yes"},
            "labels": {"anything": "goes"}
        });
        assert_eq!(
            found(&doc),
            vec![
                "room.colour at $.colour",
                "door.lock at $.door.lock",
                "person.nick at $.members[1].nick",
                "person.age at $.owner.age",
            ]
        );
    }

    #[test]
    fn a_document_with_only_declared_members_has_none() {
        let doc = json!({"id": "r1", "owner": {"id": "p"}, "door": null, "members": []});
        assert!(found(&doc).is_empty());
    }

    #[test]
    fn an_unknown_schema_or_a_reference_cycle_finds_nothing_and_ends() {
        assert!(find(&documents(), "nope.json", &json!({"a": 1})).is_empty());
        let cycle = BTreeMap::from([(
            "a.json".to_owned(),
            json!({"$ref": "a.json", "properties": {"x": {}}}),
        )]);
        let got = find(&cycle, "a.json", &json!({"x": 1, "y": 2}));
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].qualified(), "a.y");
    }
}
