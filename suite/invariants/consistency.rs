//! Invariants over documents as wholes: the operation in the response, in the
//! terminal notification and in a GET is the one created for this request
//! (each invited participant echoed as it was sent), every notification item
//! about the invite names the call and operation, or the roster, in a form
//! the spec shows and with the changeType its subject takes, and every
//! `@odata.type` names the type of the object it annotates.
//!
//! An echo may add members (Example 5's response adds displayName and
//! tenantId). The response carries every member the request sent ("All the
//! properties will be returned from an actual call"); the copies in a
//! notification or a GET may leave some out (Example 5's notification drops
//! the replacesCallId and participantId its request sent). A member carried
//! with another value than the one sent is a difference everywhere, except
//! a displayName, which the service resolves.

use conformance_harness::render::describe;
use conformance_harness::JsonPath;
use conformance_harness::{Check, Detail, Exchange};
use serde_json::Value;

use super::*;

/// How much of the request an echo of it must carry.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Echo {
    /// The invite's response: every invitee, with every member sent (the
    /// spec's examples may be shortened, "All the properties will be
    /// returned from an actual call"); participants-echo reports a missing
    /// invitee, so this does not.
    Whole,
    /// A notification's or a GET's copy: every invitee, and the members it
    /// carries as sent (Example 5's notification leaves some out).
    Shortened,
}

/// Where a value is in a document, built without allocating: checks walk
/// every member of every echo, and a path is only written out for a
/// problem.
#[derive(Clone, Copy)]
pub(super) enum At<'a> {
    Root,
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl<'a> At<'a> {
    fn key(&'a self, key: &'a str) -> At<'a> {
        At::Key(self, key)
    }

    fn index(&'a self, index: usize) -> At<'a> {
        At::Index(self, index)
    }

    fn path(&self) -> JsonPath {
        match self {
            At::Root => JsonPath::root(),
            At::Key(parent, key) => parent.path().key(key),
            At::Index(parent, index) => parent.path().index(*index),
        }
    }
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.path().fmt(f)
    }
}

/// What is wrong with `operation` (an inviteParticipantsOperation the
/// target sent) as the echo of this request's participants: members that
/// differ from what was sent (or, for the response, are left out),
/// participants nobody invited, and, for notifications and GET, invitees it
/// does not list. `at` is where the operation is, for the messages.
pub(super) fn echo_problems(
    ex: &Exchange<'_>,
    operation: &Value,
    at: &At<'_>,
    echo: Echo,
) -> Vec<String> {
    let all_listed = echo == Echo::Shortened;
    let at_participants = at.key("participants");
    let Some(echoed) = operation.get("participants").and_then(Value::as_array) else {
        return if all_listed {
            vec![format!(
                "{at_participants} is {}",
                describe(operation.get("participants"))
            )]
        } else {
            Vec::new()
        };
    };
    let sent = requested(ex);
    let mut problems = Vec::new();
    for (i, entry) in echoed.iter().enumerate() {
        let named = entry.get("identity").is_some_and(|identity| {
            sent.iter().any(|s| {
                s.get("identity")
                    .is_some_and(|wanted| same_identity(wanted, identity))
            })
        });
        if !named {
            problems.push(format!(
                "{} names nobody the request invited ({})",
                at_participants.index(i),
                entry.get("identity").map_or_else(
                    || "no identity".to_owned(),
                    |identity| {
                        let named = who(identity);
                        if named.is_empty() {
                            "an identity naming nobody".to_owned()
                        } else {
                            named
                        }
                    }
                )
            ));
        }
    }
    let invitees = first_invitees(ex);
    for participant in sent {
        let Some(identity) = participant.get("identity") else {
            continue;
        };
        let candidates: Vec<(usize, &Value)> = echoed
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                e.get("identity")
                    .is_some_and(|actual| same_identity(identity, actual))
            })
            .collect();
        if candidates.is_empty() {
            if all_listed && invitees.contains(&identity) {
                problems.push(format!("{at_participants} does not list {}", who(identity)));
            }
            continue;
        }
        // Several echoes of one identity (it was sent twice): one that
        // agrees with this participant is enough.
        let differences: Vec<Vec<String>> = candidates
            .iter()
            .map(|(i, e)| {
                let mut found = Vec::new();
                let here = at_participants.index(*i);
                differences_from_sent(participant, e, &here, echo, &mut found);
                found
            })
            .collect();
        if differences.iter().all(|d| !d.is_empty()) {
            problems.extend(differences.into_iter().next().unwrap_or_default());
        }
    }
    problems
}

/// Where `echoed` carries a member of `sent` with another value, or (a
/// whole echo) leaves it out. Annotations (`@odata.type`) and display names
/// (which the service resolves) are free.
fn differences_from_sent(
    sent: &Value,
    echoed: &Value,
    at: &At<'_>,
    echo: Echo,
    found: &mut Vec<String>,
) {
    let (Some(sent), Some(carried)) = (sent.as_object(), echoed.as_object()) else {
        return;
    };
    for (name, value) in sent {
        if name.starts_with('@') || name == "displayName" {
            continue;
        }
        let here = at.key(name);
        let Some(echoed) = carried.get(name) else {
            if echo == Echo::Whole {
                found.push(format!(
                    "{here} is absent, the request sent {}",
                    describe(Some(value))
                ));
            }
            continue;
        };
        if value.is_object() && echoed.is_object() {
            differences_from_sent(value, echoed, &here, echo, found);
        } else if echoed != value {
            found.push(format!(
                "{here} is {}, the request sent {}",
                describe(Some(echoed)),
                describe(Some(value))
            ));
        }
    }
}

pub(super) fn response_consistent(ex: &Exchange<'_>, check: Check) -> Check {
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    let Some(operation) = body(ex) else {
        return check.not_run("the response has no JSON body");
    };
    // Invitees it does not list are invite.participants-echo's to report.
    echo_problems(ex, operation, &At::Root, Echo::Whole)
        .into_iter()
        .fold(check, Check::fail_text)
}

/// `resource` (when present) in one of the forms the spec shows for what
/// `tail` names under `/calls/{callId}`: the legacy `/app/calls/...` or
/// `/communications/calls/...`, as a path or at the end of a URL.
fn resource_problem(item: &Value, call: &str, tail: &str) -> Option<String> {
    let resource = item.get("resource")?;
    let forms = [
        format!("/app/calls/{call}{tail}"),
        format!("/communications/calls/{call}{tail}"),
    ];
    match resource.as_str() {
        Some(text) if forms.iter().any(|f| text.ends_with(f.as_str())) => None,
        _ => Some(format!(
            "resource is {}, where resourceUrl names {}: expected {} or {}",
            describe(Some(resource)),
            quote(resource_url(item)),
            short(&forms[0]),
            short(&forms[1])
        )),
    }
}

pub(super) fn terminal_notification_consistent(ex: &Exchange<'_>, check: Check) -> Check {
    let (call, op, settled) = match awaiting_end(ex) {
        Ok(found) => found,
        Err(unjudged) => return unjudged.apply(check),
    };
    let all = settled.items();
    let ends = operation_deleted_items(&all[..], call, op);
    if ends.is_empty() {
        // invite.terminal-once and invite.terminal-notification-matches say so.
        return check.not_run(format!(
            "no `deleted` notification names operation {}",
            short(op)
        ));
    }
    let mut check = check;
    for (n, item) in ends.iter().enumerate() {
        let label = if ends.len() == 1 {
            "the terminal notification".to_owned()
        } else {
            format!("terminal notification {n}")
        };
        if let Some(problem) = resource_problem(item, call, &format!("/operations/{op}")) {
            check = check.fail_text(format!("{label}: {problem}"));
        }
        let Some(data) = item.get("resourceData").filter(|d| d.is_object()) else {
            check = check.fail_text(format!(
                "{label}: resourceData is {}, not the operation",
                describe(item.get("resourceData"))
            ));
            continue;
        };
        match ex
            .cx
            .schemas
            .validate("inviteParticipantsOperation.json", data)
        {
            Ok(v) if v.is_empty() => {}
            Ok(v) => {
                let at = JsonPath::root().key("resourceData");
                let v = v
                    .into_iter()
                    .map(|mut violation| {
                        violation.instance_path = at.join(&violation.instance_path);
                        violation
                    })
                    .collect();
                check = check
                    .fail_text(format!(
                        "{label}: resourceData does not satisfy schemas/inviteParticipantsOperation.json"
                    ))
                    .fail(Detail::Schema(v));
            }
            Err(e) => return check.fail_text(e),
        }
        for problem in echo_problems(ex, data, &At::Root.key("resourceData"), Echo::Shortened) {
            check = check.fail_text(format!("{label}: {problem}"));
        }
    }
    check
}

pub(super) fn roster_notification_consistent(ex: &Exchange<'_>, check: Check) -> Check {
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    let Some(call) = call_id(ex) else {
        return check.not_run("no call");
    };
    let Some(settled) = settled_items(ex) else {
        return check.not_run("the call's notifications cannot reach the suite");
    };
    let all = settled.items();
    let tail = format!("/communications/calls/{call}/participants");
    let rosters: Vec<&Value> = all.iter().copied().filter(|i| names(i, &tail)).collect();
    if rosters.is_empty() {
        // invite.roster-update says so.
        return check.not_run(format!("no notification names {}", short(&tail)));
    }
    let mut check = check;
    for (n, item) in rosters.iter().enumerate() {
        let changed = change_type(item);
        if changed != "updated" {
            check = check.fail_text(format!(
                "roster notification {n}: changeType {}, where a roster is `updated`",
                describe(item.get("changeType"))
            ));
        }
        if let Some(problem) = resource_problem(item, call, "/participants") {
            check = check.fail_text(format!("roster notification {n}: {problem}"));
        }
        if !item.get("resourceData").is_some_and(Value::is_array) {
            check = check.fail_text(format!(
                "roster notification {n}: resourceData is {}, not an array of participants",
                describe(item.get("resourceData"))
            ));
        }
    }
    check
}

// ---- @odata.type -----------------------------------------------------------

/// The identity types: `identity` and the types Graph's metadata derives
/// from it.
const IDENTITY_TYPES: &[&str] = &[
    "identity",
    "communicationsUserIdentity",
    "communicationsApplicationIdentity",
    "communicationsApplicationInstanceIdentity",
    "communicationsGuestIdentity",
    "communicationsPhoneIdentity",
    "communicationsEncryptedIdentity",
    "azureCommunicationServicesUserIdentity",
];
const IDENTITY_SET_TYPES: &[&str] = &["identitySet", "communicationsIdentitySet"];

/// What the `@odata.type` annotations of a document say: types that are
/// wrong for their object, and types the suite does not know (Graph may add
/// derived types without notice: reported, not failed).
#[derive(Debug, Default)]
pub(super) struct Types {
    pub wrong: Vec<String>,
    pub beyond: Vec<String>,
    /// The same types beyond the metadata, for the verdict's list of them.
    pub undeclared: Vec<conformance_harness::Undeclared>,
}

/// Whether `name` may be a type derived from one of `types` that the v1.0
/// metadata does not have yet: Graph names a derived type after its base
/// (`communicationsUserIdentity` from `identity`, `communicationsIdentitySet`
/// from `identitySet`, `inviteParticipantsOperation` from `commsOperation`'s
/// `Operation`), so a name that ends with an expected one is accepted and
/// reported; any other name (a base type such as `entity`, a sibling such as
/// `mediaInfo`) is wrong for the object.
fn maybe_derived(name: &str, types: &[&str]) -> bool {
    let name = name.to_ascii_lowercase();
    types.iter().any(|t| {
        let t = t.to_ascii_lowercase();
        name.len() > t.len() && name.ends_with(&t)
    })
}

/// Where `object`'s `@odata.type`, if it has one, is not one of `types`
/// (names under `microsoft.graph`).
fn expect_type(object: &Value, at: &At<'_>, types: &[&str], found: &mut Types) {
    let Some(annotation) = object.get("@odata.type") else {
        return;
    };
    let named = annotation
        .as_str()
        .map(|t| t.strip_prefix('#').unwrap_or(t))
        .and_then(|t| t.strip_prefix("microsoft.graph."));
    match named {
        Some(name) if types.contains(&name) => {}
        Some(name) if maybe_derived(name, types) => {
            found.beyond.push(format!(
                "{} is #microsoft.graph.{name}, a type beyond the metadata (accepted: Graph may add derived types)",
                at.key("@odata.type")
            ));
            found.undeclared.push(conformance_harness::Undeclared {
                type_name: types.first().copied().unwrap_or_default().to_owned(),
                member: "@odata.type".to_owned(),
                path: conformance_harness::JsonPath::root(),
                kind: conformance_harness::Beyond::Type {
                    named: name.to_owned(),
                },
            });
        }
        _ => {
            let wanted: Vec<String> = types
                .iter()
                .map(|t| format!("#microsoft.graph.{t}"))
                .collect();
            found.wrong.push(format!(
                "{} is {}, expected {}",
                at.key("@odata.type"),
                describe(Some(annotation)),
                wanted.join(" or ")
            ));
        }
    }
}

fn identity_set_types(identity: &Value, at: &At<'_>, problems: &mut Types) {
    expect_type(identity, at, IDENTITY_SET_TYPES, problems);
    for (kind, member) in identity.as_object().into_iter().flatten() {
        if !kind.starts_with('@') && member.is_object() {
            expect_type(member, &at.key(kind), IDENTITY_TYPES, problems);
        }
    }
}

/// The `@odata.type` problems of an inviteParticipantsOperation.
pub(super) fn operation_types(operation: &Value, at: &At<'_>, problems: &mut Types) {
    expect_type(operation, at, &["inviteParticipantsOperation"], problems);
    if let Some(info) = operation.get("resultInfo").filter(|i| i.is_object()) {
        expect_type(info, &at.key("resultInfo"), &["resultInfo"], problems);
    }
    let participants = operation.get("participants").and_then(Value::as_array);
    let listed = at.key("participants");
    for (i, participant) in participants.into_iter().flatten().enumerate() {
        let here = listed.index(i);
        expect_type(participant, &here, &["invitationParticipantInfo"], problems);
        if let Some(identity) = participant.get("identity").filter(|i| i.is_object()) {
            identity_set_types(identity, &here.key("identity"), problems);
        }
    }
}

/// The `@odata.type` problems of a roster participant. Its `info` may say
/// invitationParticipantInfo: a newer revision of the page shows that (a
/// documentation error the schemas accept too).
fn participant_types(participant: &Value, at: &At<'_>, problems: &mut Types) {
    expect_type(participant, at, &["participant"], problems);
    if let Some(info) = participant.get("info").filter(|i| i.is_object()) {
        let here = at.key("info");
        expect_type(
            info,
            &here,
            &["participantInfo", "invitationParticipantInfo"],
            problems,
        );
        if let Some(identity) = info.get("identity").filter(|i| i.is_object()) {
            identity_set_types(identity, &here.key("identity"), problems);
        }
    }
    let streams = participant.get("mediaStreams").and_then(Value::as_array);
    let at_streams = at.key("mediaStreams");
    for (i, stream) in streams.into_iter().flatten().enumerate() {
        expect_type(stream, &at_streams.index(i), &["mediaStream"], problems);
    }
}

pub(super) fn odata_types(ex: &Exchange<'_>, check: Check) -> Check {
    if let Some(reason) = not_accepted(ex) {
        return check.not_run(reason);
    }
    let mut types = Types::default();
    if let Some(operation) = body(ex) {
        let mut found = Types::default();
        operation_types(operation, &At::Root, &mut found);
        types.absorb(found, "response");
    }
    if let (Some(call), Some(settled)) = (call_id(ex), settled_items(ex)) {
        let op = op_id(ex).unwrap_or("");
        let operation_url = format!("/communications/calls/{call}/operations/{op}");
        let roster_url = format!("/communications/calls/{call}/participants");
        let call_url = format!("/communications/calls/{call}");
        for (d, delivery) in settled.0.iter().enumerate() {
            let Ok(envelope) = delivery.body() else {
                continue;
            };
            let mut found = Types::default();
            let root = At::Root;
            let value = root.key("value");
            expect_type(envelope, &root, &["commsNotifications"], &mut found);
            let items = envelope.get("value").and_then(Value::as_array);
            for (i, item) in items.into_iter().flatten().enumerate() {
                let at = value.index(i);
                expect_type(item, &at, &["commsNotification"], &mut found);
                let Some(data) = item.get("resourceData") else {
                    continue;
                };
                let at = at.key("resourceData");
                if !op.is_empty() && names(item, &operation_url) {
                    if data.is_object() {
                        operation_types(data, &at, &mut found);
                    }
                } else if names(item, &roster_url) {
                    for (k, participant) in data.as_array().into_iter().flatten().enumerate() {
                        participant_types(participant, &at.index(k), &mut found);
                    }
                } else if names(item, &call_url) && data.is_object() {
                    expect_type(data, &at, &["call"], &mut found);
                }
            }
            types.absorb(found, &format!("notification delivery {d}"));
        }
    }
    let check = types
        .beyond
        .into_iter()
        .fold(check, Check::note)
        .undeclared(types.undeclared);
    types.wrong.into_iter().fold(check, Check::fail_text)
}

impl Types {
    /// `other`'s findings, each said to be in `place`.
    fn absorb(&mut self, other: Types, place: &str) {
        self.wrong
            .extend(other.wrong.into_iter().map(|p| format!("{place}: {p}")));
        self.beyond
            .extend(other.beyond.into_iter().map(|p| format!("{place}: {p}")));
        self.undeclared.extend(other.undeclared);
    }
}
