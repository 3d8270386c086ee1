//! Members a document carries that its schemas do not declare.
//!
//! A service may add members to what it sends without notice (Graph's
//! versioning policy lists added properties as backward compatible), so the
//! schemas accept them; this walk finds them, so they can be reported
//! ("members beyond the metadata") instead of failed or silently passed.
//! It follows the schema beside the instance: `properties`, `items`, `$ref`
//! (within the registry's files), `allOf`/`anyOf`/`oneOf` and `then`/`else`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;

use crate::json_path::JsonPath;

/// How deep a chain of `$ref`s and combinators is followed: the schemas'
/// own nesting is shallow, and a reference cycle must not loop.
const MAX_SCHEMA_DEPTH: usize = 32;
/// How deep the instance is walked (documents are nested far less).
const MAX_INSTANCE_DEPTH: usize = 64;

/// What a document holds beyond its schemas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Beyond {
    /// A member no schema of its object declares.
    Member,
    /// An enumerated value spelled otherwise than the schema's `x-members`
    /// list it (any casing is accepted where a schema says so): what came,
    /// and how the schema spells it.
    Spelling { seen: String, listed: String },
    /// An object whose `@odata.type` names a type the schemas do not have
    /// (a derived type): its own members cannot be told from undeclared ones.
    Type { named: String },
}

/// One finding of the walk: where, on which type, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undeclared {
    /// The type whose schema was followed (its `title`, its `$defs` name,
    /// or its parent's name and member for an inline object).
    pub type_name: String,
    pub member: String,
    /// Where it was found in the document.
    pub path: JsonPath,
    pub kind: Beyond,
}

impl Undeclared {
    /// `participant.meetingRole`; `call.state = "Terminated" (metadata:
    /// terminated)`; `commsOperation as recordOperation (a type beyond the
    /// schemas)`. What came from the target is cut and escaped: a member's
    /// name is the target's to choose.
    pub fn qualified(&self) -> String {
        let member = shown(&self.member);
        match &self.kind {
            Beyond::Member => format!("{}.{member}", self.type_name),
            Beyond::Spelling { seen, listed } => format!(
                "{}.{member} = {} (metadata: {listed})",
                self.type_name,
                crate::sanitize::quote(seen)
            ),
            Beyond::Type { named } => {
                format!(
                    "{} as {} (a type beyond the schemas)",
                    self.type_name,
                    shown(named)
                )
            }
        }
    }
}

/// A schema and the file it is resolved in (for relative references).
#[derive(Clone)]
struct At<'a> {
    file: &'a str,
    schema: &'a Value,
    /// The type's name, when this schema or one it came from names one.
    name: Option<Cow<'a, str>>,
}

impl<'a> At<'a> {
    fn to(&self, schema: &'a Value, name: Option<Cow<'a, str>>) -> Self {
        Self {
            file: self.file,
            schema,
            name,
        }
    }
}

/// A name from the target as it is shown: cut, and escaped.
fn shown(name: &str) -> String {
    let cut = crate::sanitize::excerpt(name, MAX_NAME);
    crate::sanitize::escape_controls(&cut).into_owned()
}

/// How long a member or type name is shown.
const MAX_NAME: usize = 80;
/// At most this many findings are kept per document: a target that sends
/// a million undeclared members is told once, not a million times.
pub const MAX_FINDINGS: usize = 200;

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
    let walk = Walk { documents };
    walk.value(&[start], value, &JsonPath::root(), None, 0, &mut out);
    // Several schemas of one object may each declare none of a member.
    out.sort_by_cached_key(|u| (u.path.to_string(), u.qualified()));
    out.dedup();
    out.truncate(MAX_FINDINGS);
    out
}

/// The member a value stands at: its object's type and its name.
type Owner<'a> = Option<(&'a str, &'a str)>;

struct Walk<'a> {
    documents: &'a BTreeMap<String, Value>,
}

impl<'a> Walk<'a> {
    fn value(
        &self,
        schemas: &[At<'a>],
        value: &Value,
        path: &JsonPath,
        owner: Owner<'_>,
        depth: usize,
        out: &mut Vec<Undeclared>,
    ) {
        if depth > MAX_INSTANCE_DEPTH || out.len() >= 4 * MAX_FINDINGS {
            return;
        }
        let mut branches = Vec::new();
        for at in schemas {
            self.flatten(at.clone(), value, 0, &mut branches);
        }
        match value {
            Value::String(seen) => spelling(&branches, seen, path, owner, out),
            Value::Object(members) => {
                self.object(branches, members, path, depth, out);
            }
            Value::Array(items) => {
                let item_schemas: Vec<At<'a>> = branches
                    .iter()
                    .filter_map(|b| {
                        let schema = b.schema.get("items")?;
                        schema.is_object().then(|| b.to(schema, b.name.clone()))
                    })
                    .collect();
                if item_schemas.is_empty() {
                    return;
                }
                for (i, item) in items.iter().enumerate() {
                    let at = path.index(i);
                    self.value(&item_schemas, item, &at, owner, depth + 1, out);
                }
            }
            _ => {}
        }
    }

    fn object(
        &self,
        mut branches: Vec<At<'a>>,
        members: &serde_json::Map<String, Value>,
        path: &JsonPath,
        depth: usize,
        out: &mut Vec<Undeclared>,
    ) {
        let typed_name = |branches: &[At<'a>]| {
            branches
                .iter()
                .find(|b| b.schema.get("properties").is_some_and(Value::is_object))
                .map(type_name)
        };
        let Some(name) = typed_name(&branches) else {
            return;
        };
        // A derived type named by `@odata.type`: followed when the schemas
        // have it; otherwise its own members cannot be judged.
        let mut unchecked = false;
        if let Some(named) = members
            .get("@odata.type")
            .and_then(Value::as_str)
            .and_then(|t| t.rsplit('.').next())
            .map(|t| t.trim_start_matches('#'))
            .filter(|t| !t.is_empty())
        {
            // A schema may cover derived types in one (`x-derived` lists them).
            let already = branches.iter().any(|b| {
                b.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(named))
                    || b.schema
                        .get("x-derived")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .any(|d| d.eq_ignore_ascii_case(named))
            });
            if !already {
                match self.titled(named) {
                    Some(derived) => {
                        let mut more = Vec::new();
                        self.flatten(derived, &Value::Object(members.clone()), 0, &mut more);
                        // Only a type derived from the one followed: a type
                        // named wrongly is the type checks' business.
                        let files: Vec<&str> = branches.iter().map(|b| b.file).collect();
                        if more.iter().any(|b| files.contains(&b.file)) {
                            // The derived type first: findings name it.
                            more.append(&mut branches);
                            branches = more;
                        }
                    }
                    None => {
                        unchecked = true;
                        out.push(Undeclared {
                            type_name: name.clone(),
                            member: "@odata.type".to_owned(),
                            path: path.key("@odata.type"),
                            kind: Beyond::Type {
                                named: named.to_owned(),
                            },
                        });
                    }
                }
            }
        }
        let name = typed_name(&branches).unwrap_or(name);
        let typed: Vec<&At<'a>> = branches
            .iter()
            .filter(|b| b.schema.get("properties").is_some_and(Value::is_object))
            .collect();
        // A map (`additionalProperties` as a schema) declares every key.
        let map: Vec<At<'a>> = branches
            .iter()
            .filter_map(|b| {
                let extra = b.schema.get("additionalProperties")?;
                extra.is_object().then(|| b.to(extra, None))
            })
            .collect();
        for (key, member) in members {
            let declared: Vec<At<'a>> = typed
                .iter()
                .filter_map(|b| {
                    let schema = b.schema.get("properties")?.get(key)?;
                    // An inline object is named by its parent and member.
                    Some(b.to(schema, Some(Cow::Owned(format!("{name}.{key}")))))
                })
                .collect();
            let at = path.key(key);
            let owner = Some((name.as_str(), key.as_str()));
            if !declared.is_empty() {
                self.value(&declared, member, &at, owner, depth + 1, out);
            } else if !map.is_empty() {
                self.value(&map, member, &at, owner, depth + 1, out);
            } else if key.contains('@') || unchecked {
                // An OData annotation (`@odata.type`, `name@odata.etag`), not
                // a member; or a member of a type the schemas do not have.
            } else {
                out.push(Undeclared {
                    type_name: name.clone(),
                    member: key.clone(),
                    path: at,
                    kind: Beyond::Member,
                });
            }
        }
    }

    /// `at` and every schema it applies through `$ref` and the combinators,
    /// each with the type name it inherits.
    fn flatten(&self, at: At<'a>, value: &Value, depth: usize, out: &mut Vec<At<'a>>) {
        if depth > MAX_SCHEMA_DEPTH || !at.schema.is_object() {
            return;
        }
        let at = match at.schema.get("title").and_then(Value::as_str) {
            Some(title) => at.to(at.schema, Some(Cow::Borrowed(title))),
            None => at,
        };
        out.push(at.clone());
        if let Some(reference) = at.schema.get("$ref").and_then(Value::as_str) {
            if let Some(target) = self.resolve(at.file, reference) {
                // A referenced type keeps its own name; an untitled one, ours.
                let target = match target.name {
                    Some(_) => target,
                    None => At {
                        name: at.name.clone(),
                        ..target
                    },
                };
                self.flatten(target, value, depth + 1, out);
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
                self.flatten(at.to(schema, at.name.clone()), value, depth + 1, out);
            }
        }
        // `if`/`then`/`else`: the branch the instance takes, judged by its
        // type (the only condition the schemas write).
        if let Some(condition) = at.schema.get("if") {
            let key = if type_matches(condition, value) {
                "then"
            } else {
                "else"
            };
            if let Some(schema) = at.schema.get(key) {
                self.flatten(at.to(schema, at.name.clone()), value, depth + 1, out);
            }
        }
    }

    /// The schema a `$ref` names: `other.json`, `other.json#/$defs/x` or `#/$defs/x`.
    fn resolve(&self, file: &'a str, reference: &'a str) -> Option<At<'a>> {
        let (target, pointer) = reference.split_once('#').unwrap_or((reference, ""));
        let (file, document) = if target.is_empty() {
            self.documents.get_key_value(file)?
        } else {
            let name = target.rsplit('/').next().unwrap_or(target);
            self.documents.get_key_value(name)?
        };
        let schema = if pointer.is_empty() {
            document
        } else {
            document.pointer(pointer)?
        };
        // A `$defs` entry is named by its key unless it has a title.
        let name = pointer
            .strip_prefix("/$defs/")
            .filter(|rest| !rest.contains('/'))
            .map(Cow::Borrowed);
        Some(At { file, schema, name })
    }

    /// The schema file whose `title` is `name` (a type named by `@odata.type`).
    fn titled(&self, name: &str) -> Option<At<'a>> {
        self.documents.iter().find_map(|(file, schema)| {
            let title = schema.get("title")?.as_str()?;
            title.eq_ignore_ascii_case(name).then_some(At {
                file: file.as_str(),
                schema,
                name: Some(Cow::Borrowed(title)),
            })
        })
    }
}

/// A string that a schema enumerates (`x-members`) in another spelling.
fn spelling(
    branches: &[At<'_>],
    seen: &str,
    path: &JsonPath,
    owner: Owner<'_>,
    out: &mut Vec<Undeclared>,
) {
    let listed = branches
        .iter()
        .filter_map(|b| b.schema.get("x-members")?.as_array())
        .flatten()
        .filter_map(Value::as_str);
    let (mut exact, mut other) = (false, None);
    for member in listed {
        exact |= member == seen;
        if member.eq_ignore_ascii_case(seen) {
            other = other.or(Some(member));
        }
    }
    if let (false, Some(listed), Some((type_name, member))) = (exact, other, owner) {
        out.push(Undeclared {
            type_name: type_name.to_owned(),
            member: member.to_owned(),
            path: path.clone(),
            kind: Beyond::Spelling {
                seen: seen.to_owned(),
                listed: listed.to_owned(),
            },
        });
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

fn type_name(at: &At<'_>) -> String {
    at.name.as_deref().map_or_else(
        || at.file.trim_end_matches(".json").to_owned(),
        str::to_owned,
    )
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
                        "state": {"type": "string", "pattern": "^(?:[Oo][Pp][Ee][Nn])$", "x-members": ["open"]},
                        "owner": {"$ref": "person.json"},
                        "members": {"type": "array", "items": {"$ref": "person.json"}},
                        "door": {
                            "type": ["object", "null"],
                            "if": {"type": "object"},
                            "then": {"$ref": "#/$defs/door"}
                        },
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "size": {"type": "object", "properties": {"width": {"type": "integer"}}}
                    },
                    "$defs": {
                        "door": {"type": "object", "x-derived": ["slidingDoor"], "properties": {"open": {"type": "boolean"}}}
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
            (
                "guest.json".to_owned(),
                json!({"title": "guest", "allOf": [{"$ref": "person.json"}], "properties": {"host": {"type": "string"}}}),
            ),
            (
                "door.json".to_owned(),
                json!({"title": "doorType", "properties": {"open": {}}}),
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
            "state": "OPEN",
            "@odata.type": "#x.room",
            "owner": {"id": "p", "name": "Ann", "age": 3},
            "members": [{"name": "Bo"}, {"name": "Cy", "nick": "c", "count@odata.count": 1}],
            "door": {"open": true, "lock": "yes"},
            "labels": {"anything": "goes"},
            "size": {"width": 3, "depth": 4}
        });
        assert_eq!(
            found(&doc),
            vec![
                "room.colour at $.colour",
                "door.lock at $.door.lock",
                "person.nick at $.members[1].nick",
                "person.age at $.owner.age",
                "room.size.depth at $.size.depth",
                "room.state = \"OPEN\" (metadata: open) at $.state",
            ]
        );
    }

    #[test]
    fn a_type_named_by_odata_type_is_followed_when_derived_and_reported_when_unknown() {
        let doc = json!({
            "members": [
                // Derived and known: its own member is declared.
                {"@odata.type": "#x.guest", "name": "a", "host": "b", "extra": 1},
                // Unknown: its members cannot be judged, the type is reported.
                {"@odata.type": "#x.robot", "name": "r", "model": "t1"},
                // Known but not derived (a wrong type): the followed schema judges.
                {"@odata.type": "#x.doorType", "name": "d", "open": true}
            ],
            // A derived type the schema covers in one (`x-derived`).
            "door": {"@odata.type": "#x.slidingDoor", "open": false}
        });
        assert_eq!(
            found(&doc),
            vec![
                "guest.extra at $.members[0].extra",
                "person as robot (a type beyond the schemas) at $.members[1]['@odata.type']",
                "person.open at $.members[2].open",
            ]
        );
    }

    #[test]
    fn a_document_with_only_declared_members_has_none() {
        let doc =
            json!({"id": "r1", "state": "open", "owner": {"id": "p"}, "door": null, "members": []});
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
