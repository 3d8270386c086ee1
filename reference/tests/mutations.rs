//! A mutation alters exactly one member of one kind of document: the same
//! invite runs on a server with the mutation and on one without, and only
//! the member the mutation names differs.

mod common;

use common::*;
use invite_reference::{Config, Mutation};
use serde_json::{json, Value};

const CONTEXT: &str = "ctx-mutation";

/// Everything one invite makes the server send: the invite's response, the
/// operation read back once it ended, the terminal notification item, the
/// roster item, and the envelope of the POST that carried them.
struct Sent {
    response: Value,
    operation: Value,
    terminal: Value,
    roster: Value,
    envelope: Value,
}

impl Sent {
    /// The documents, in the order of `invite_reference::Document::ALL`.
    fn documents(&self) -> [&Value; 5] {
        [
            &self.response,
            &self.operation,
            &self.terminal,
            &self.roster,
            &self.envelope,
        ]
    }
}

/// Where the terminal item is among [`Sent::documents`], and its envelope.
const TERMINAL: usize = 2;
const ENVELOPE: usize = 4;

async fn invite(mutation: Option<&str>) -> Sent {
    let h = Harness::new(Config {
        mutation: mutation.map(|m| m.parse::<Mutation>().expect("the mutation parses")),
        ..Config::default()
    })
    .await;
    let (call_id, mut inbox) = h.create_call(GROUP).await;
    // Read past the envelope's own checks: a mutation may have altered it.
    let item = |note: &Note| note.json()["value"][0].clone();
    let established = item(&inbox.next().await);
    assert_eq!(established["resourceData"]["state"], "established");
    let reply = h
        .invite(&call_id, &invite_body(&[user("invitee")], CONTEXT))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let response = reply.json();
    let first = inbox.next().await;
    let second = inbox.next().await;
    let first_url = item(&first)["resourceUrl"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (terminal, roster) = if first_url.contains("/operations/") {
        (first, second)
    } else {
        (second, first)
    };
    let op_id = response["id"].as_str().unwrap_or_default().to_owned();
    let operation = h
        .get(&format!(
            "/communications/calls/{call_id}/operations/{op_id}"
        ))
        .await
        .json();
    Sent {
        response,
        operation,
        envelope: terminal.json(),
        terminal: item(&terminal),
        roster: item(&roster),
    }
}

/// `value` without what differs between two runs (ids, which are fresh
/// GUIDs each time), so two runs compare equal.
fn stable(mut value: Value) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::String(s) if s.len() >= 36 && s.contains('-') => *s = "<id>".into(),
            Value::Object(members) => members.values_mut().for_each(walk),
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

#[tokio::test]
async fn each_document_is_altered_where_the_mutation_says_and_nowhere_else() {
    let plain = invite(None).await;
    let cases = [
        (
            "response:remove:$.clientContext",
            "/clientContext",
            Value::Null,
        ),
        ("operation:other:$.status", "/status", json!("failed")),
        (
            "terminal:wrong-type:$.resourceData.clientContext",
            "/resourceData/clientContext",
            json!(1),
        ),
        (
            "roster:other:$.resourceData[1].isMuted",
            "/resourceData/1/isMuted",
            json!(true),
        ),
        (
            "envelope:null:$['@odata.type']",
            "/@odata.type",
            Value::Null,
        ),
    ];
    for (index, (text, pointer, expected)) in cases.into_iter().enumerate() {
        let mutated = invite(Some(text)).await;
        let altered = mutated.documents()[index];
        if text.contains(":remove:") {
            let (parent, member) = pointer.rsplit_once('/').expect("a member");
            let parent = if parent.is_empty() {
                Some(altered)
            } else {
                altered.pointer(parent)
            };
            assert!(
                parent.is_some_and(|p| p.get(member).is_none()),
                "{text}: {altered}"
            );
        } else {
            assert_eq!(
                altered.pointer(pointer),
                Some(&expected),
                "{text}: {altered}"
            );
        }
        // Put back, the document is the unmutated one; the others never changed.
        let mut restored = altered.clone();
        let original_document = plain.documents()[index];
        match original_document.pointer(pointer) {
            Some(original) => {
                if let Some(slot) = restored.pointer_mut(pointer) {
                    *slot = original.clone();
                } else if let Some((parent, member)) = pointer.rsplit_once('/') {
                    let parent = if parent.is_empty() {
                        Some(&mut restored)
                    } else {
                        restored.pointer_mut(parent)
                    };
                    if let Some(Value::Object(members)) = parent {
                        members.insert(member.to_owned(), original.clone());
                    }
                }
            }
            None => panic!("{text}: the plain document has no {pointer}"),
        }
        assert_eq!(
            stable(restored),
            stable(original_document.clone()),
            "{text}"
        );
        for other in 0..5 {
            // The envelope carries the terminal item.
            if other == index || (index == TERMINAL && other == ENVELOPE) {
                continue;
            }
            assert_eq!(
                stable(mutated.documents()[other].clone()),
                stable(plain.documents()[other].clone()),
                "{text} changed document {other} too"
            );
        }
    }
}

#[tokio::test]
async fn every_element_is_altered_under_a_wildcard() {
    let mutated = invite(Some("roster:other:$.resourceData[*].isMuted")).await;
    let roster = mutated.roster["resourceData"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(roster.len(), 2, "the bot and the invitee");
    assert!(roster.iter().all(|p| p["isMuted"] == true), "{roster:?}");
}

#[tokio::test]
async fn a_mutation_naming_nothing_there_changes_nothing() {
    let plain = invite(None).await;
    let mutated = invite(Some("response:remove:$.participants[7].nothing")).await;
    assert_eq!(stable(mutated.response), stable(plain.response));
}
