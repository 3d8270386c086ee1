//! Generators of invite bodies: valid ones across the documented space, and
//! invalid ones that are a valid body with exactly one documented violation.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Group,
    P2p,
}

impl CallKind {
    pub fn fixture(self) -> &'static str {
        match self {
            Self::Group => "group",
            Self::P2p => "p2p",
        }
    }
}

/// A generated valid invite and what it needs of the target.
#[derive(Debug, Clone)]
pub struct ValidInvite {
    pub kind: CallKind,
    pub body: Value,
    /// The first participant replaces a peer-to-peer call (`{{replace}}`).
    pub replaces: bool,
    /// The first participant is moved from another meeting (`{{source}}`).
    pub moves: bool,
}

const KINDS: &[&str] = &[
    "user",
    "application",
    "applicationInstance",
    "phone",
    "guest",
    "device",
    "encrypted",
    "onPremises",
];

/// A version-4 GUID. Built from random bits rather than from a regex: a
/// regex strategy is parsed again for every value, a cost paid per invite.
fn guid() -> impl Strategy<Value = String> {
    any::<[u8; 16]>().prop_map(|bytes| {
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    })
}

/// An E.164 number: `+`, a non-zero digit, then 7 to 14 digits.
fn e164() -> impl Strategy<Value = String> {
    (1u8..=9, 0u64..100_000_000_000_000, 7usize..=14)
        .prop_map(|(first, rest, len)| format!("+{first}{:014}", rest)[..len + 2].to_owned())
}

/// Text from all of Unicode: ASCII, accents, CJK, RTL, astral-plane emoji.
/// Braces are left out: case files give `{{` a meaning.
fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec((0u8..11, any::<u32>()), 0..=max).prop_map(|picks| {
        picks
            .into_iter()
            .map(|(pick, raw)| pick_char(pick, raw))
            .collect()
    })
}

/// A character of the class `pick` (weighted by how many picks name it),
/// `raw` choosing within it. Two numbers rather than a union of character
/// strategies: generating a union per character was a tenth of the cost of
/// a generated invite, and both shrink toward `a`.
fn pick_char(pick: u8, raw: u32) -> char {
    let within = |lo: char, hi: char| {
        let span = u32::from(hi) - u32::from(lo) + 1;
        char::from_u32(u32::from(lo) + raw % span).unwrap_or(lo)
    };
    let c = match pick {
        0..=3 => within('a', 'z'),
        4 => within(' ', '~'),
        5 => within('\u{c0}', '\u{24f}'),
        6 => within('\u{4e00}', '\u{9fff}'),
        7 => within('\u{590}', '\u{6ff}'),
        8 | 9 => within('\u{1f300}', '\u{1faff}'),
        // Anywhere in Unicode; a surrogate code point becomes U+FFFD.
        _ => char::from_u32(raw % 0x11_0000).unwrap_or('\u{fffd}'),
    };
    if c == '{' || c == '}' {
        '_'
    } else {
        c
    }
}

/// An identity of `kind`; `guid` and `phone` are both drawn so that no
/// strategy is built per value (`prop_flat_map` would fork the runner each time).
#[allow(clippy::too_many_arguments)]
fn identity(
    kind: &str,
    guid: String,
    phone: String,
    name: Option<String>,
    odata: bool,
    tenant: Option<String>,
    provider: Option<&str>,
) -> Value {
    let mut m = Map::new();
    if odata {
        m.insert("@odata.type".into(), json!("#microsoft.graph.identity"));
    }
    m.insert(
        "id".into(),
        json!(if kind == "phone" { phone } else { guid }),
    );
    if let Some(n) = name {
        m.insert("displayName".into(), json!(n));
    }
    if let Some(t) = tenant {
        m.insert("tenantId".into(), json!(t));
    }
    if let Some(p) = provider {
        m.insert("identityProvider".into(), json!(p));
    }
    Value::Object(m)
}

fn identity_set() -> impl Strategy<Value = Value> {
    (
        (proptest::sample::select(KINDS), any::<bool>()),
        guid(),
        e164(),
        proptest::option::of(text(24)),
        any::<bool>(),
        proptest::option::of(guid()),
        proptest::option::of(prop_oneof![Just("AAD"), Just("MSA"), Just("None")]),
    )
        .prop_map(
            |((kind, set_odata), guid, phone, name, odata, tenant, provider)| {
                let member = identity(kind, guid, phone, name, odata, tenant, provider);
                let mut m = Map::new();
                if set_odata {
                    m.insert("@odata.type".into(), json!("#microsoft.graph.identitySet"));
                }
                m.insert(kind.into(), member);
                Value::Object(m)
            },
        )
}

fn participant() -> impl Strategy<Value = Value> {
    (
        identity_set(),
        any::<bool>(),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(identity, odata, hidden, remove)| {
            let mut m = Map::new();
            if odata {
                m.insert(
                    "@odata.type".into(),
                    json!("#microsoft.graph.invitationParticipantInfo"),
                );
            }
            m.insert("identity".into(), identity);
            if let Some(h) = hidden {
                m.insert("hidden".into(), json!(h));
            }
            if let Some(r) = remove {
                m.insert("removeFromDefaultAudioRoutingGroup".into(), json!(r));
            }
            Value::Object(m)
        })
}

/// A string of exactly `units` UTF-16 code units, `pairs` of them as
/// surrogate pairs, the last character astral when there is one.
fn utf16_exact(units: usize, pairs: usize) -> String {
    let pairs = pairs.min(units / 2);
    let mut s = "c".repeat(units - 2 * pairs);
    s.push_str(&"😀".repeat(pairs));
    s
}

/// `clientContext`: absent, null, empty, short, or exactly at the limit.
fn client_context() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(Value::Null)),
        1 => Just(Some(json!(""))),
        4 => text(40).prop_map(|s| Some(json!(s))),
        2 => (0usize..=128).prop_map(|p| Some(json!(utf16_exact(256, p)))),
        1 => (200usize..=256, 0usize..=100).prop_map(|(u, p)| Some(json!(utf16_exact(u, p)))),
    ]
}

fn body(participants: Vec<Value>, context: Option<Value>) -> Value {
    let mut m = Map::new();
    m.insert("participants".into(), Value::Array(participants));
    if let Some(c) = context {
        m.insert("clientContext".into(), c);
    }
    Value::Object(m)
}

pub fn valid_invite() -> impl Strategy<Value = ValidInvite> {
    let p2p = (participant(), client_context(), prop::bool::weighted(0.2)).prop_map(
        |(mut p, context, replaces)| {
            if replaces {
                p["replacesCallId"] = json!("{{replace}}");
            }
            ValidInvite {
                kind: CallKind::P2p,
                body: body(vec![p], context),
                replaces,
                moves: false,
            }
        },
    );
    let group = (
        proptest::collection::vec(participant(), 1..=5),
        client_context(),
        prop_oneof![6 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
    )
        .prop_map(|(mut ps, context, special)| {
            let (replaces, moves) = (special == 1, special == 2);
            if replaces {
                ps.truncate(1);
                ps[0]["replacesCallId"] = json!("{{replace}}");
            }
            if moves {
                ps[0] = json!({
                    "replacesCallId": "{{source}}",
                    "participantId": "{{source.participant}}",
                    "identity": {"user": {"id": "{{source.user}}"}}
                });
                ps.truncate(3);
            }
            ValidInvite {
                kind: CallKind::Group,
                body: body(ps, context),
                replaces,
                moves,
            }
        });
    prop_oneof![1 => p2p, 3 => group]
}

/// One documented violation of an otherwise valid body.
#[derive(Debug, Clone)]
pub enum Violation {
    ParticipantsMissing,
    ParticipantsNull,
    ParticipantsEmpty,
    ParticipantsNotArray(Value),
    EntryNotObject(Value),
    IdentityMissing,
    IdentityNull,
    IdentityEmpty,
    IdentityOnlyOdataType,
    IdentityMemberNotObject(Value),
    WrongType { field: &'static str, value: Value },
    ClientContextTooLong { units: usize, pairs: usize },
    SeveralOnP2p(usize),
}

impl Violation {
    /// Whether `invite-request.json` alone can see it (several participants
    /// on a peer-to-peer call needs the call kind; an astral clientContext of
    /// ≤256 code points but >256 UTF-16 units needs UTF-16 counting).
    pub fn schema_detects(&self) -> bool {
        match self {
            Self::SeveralOnP2p(_) => false,
            Self::ClientContextTooLong { units, pairs } => units - pairs > 256,
            _ => true,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::ParticipantsMissing => "participants is missing".into(),
            Self::ParticipantsNull => "participants is null".into(),
            Self::ParticipantsEmpty => "participants is empty".into(),
            Self::ParticipantsNotArray(v) => format!("participants is not an array ({v})"),
            Self::EntryNotObject(v) => format!("a participant is not an object ({v})"),
            Self::IdentityMissing => "a participant has no identity".into(),
            Self::IdentityNull => "a participant's identity is null".into(),
            Self::IdentityEmpty => "a participant's identity is {}".into(),
            Self::IdentityOnlyOdataType => "a participant's identity holds only @odata.type".into(),
            Self::IdentityMemberNotObject(v) => {
                format!("an identity member is not an object ({v})")
            }
            Self::WrongType { field, value } => format!("{field} has the wrong type ({value})"),
            Self::ClientContextTooLong { units, .. } => {
                format!("clientContext is {units} UTF-16 code units")
            }
            Self::SeveralOnP2p(n) => format!("{n} participants on a peer-to-peer call"),
        }
    }

    fn apply(&self, body: &mut Value) {
        fn first(b: &mut Value) -> Option<&mut Map<String, Value>> {
            b.get_mut("participants")?.get_mut(0)?.as_object_mut()
        }
        match self {
            Self::ParticipantsMissing => {
                body.as_object_mut().map(|m| m.remove("participants"));
            }
            Self::ParticipantsNull => body["participants"] = Value::Null,
            Self::ParticipantsEmpty => body["participants"] = json!([]),
            Self::ParticipantsNotArray(v) => body["participants"] = v.clone(),
            Self::EntryNotObject(v) => body["participants"][0] = v.clone(),
            Self::IdentityMissing => {
                first(body).map(|p| p.remove("identity"));
            }
            Self::IdentityNull => body["participants"][0]["identity"] = Value::Null,
            Self::IdentityEmpty => body["participants"][0]["identity"] = json!({}),
            Self::IdentityOnlyOdataType => {
                body["participants"][0]["identity"] =
                    json!({"@odata.type": "#microsoft.graph.identitySet"});
            }
            Self::IdentityMemberNotObject(v) => {
                body["participants"][0]["identity"] = json!({"user": v});
            }
            Self::WrongType { field, value } => match *field {
                "clientContext" => body["clientContext"] = value.clone(),
                "identity.user.id" => {
                    body["participants"][0]["identity"] = json!({"user": {"id": value}});
                }
                "identity.user.displayName" => {
                    body["participants"][0]["identity"] = json!({"user": {"id": "278405a3-f568-4b3e-b684-009193463064", "displayName": value}});
                }
                other => {
                    if let Some(p) = first(body) {
                        p.insert(other.to_owned(), value.clone());
                    }
                }
            },
            Self::ClientContextTooLong { units, pairs } => {
                body["clientContext"] = json!(utf16_exact(*units, *pairs));
            }
            Self::SeveralOnP2p(n) => {
                let one = body["participants"][0].clone();
                body["participants"] = Value::Array(vec![one; *n]);
            }
        }
    }
}

fn wrong_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(42)),
        Just(json!(true)),
        Just(json!([])),
        Just(json!({"a": 1})),
        Just(json!(1.5e300)),
    ]
}

fn violation() -> impl Strategy<Value = Violation> {
    prop_oneof![
        Just(Violation::ParticipantsMissing),
        Just(Violation::ParticipantsNull),
        Just(Violation::ParticipantsEmpty),
        prop_oneof![
            Just(json!("user")),
            Just(json!(7)),
            Just(json!({"identity": {}}))
        ]
        .prop_map(Violation::ParticipantsNotArray),
        prop_oneof![
            Just(json!("x")),
            Just(json!(1)),
            Just(json!(null)),
            Just(json!([]))
        ]
        .prop_map(Violation::EntryNotObject),
        Just(Violation::IdentityMissing),
        Just(Violation::IdentityNull),
        Just(Violation::IdentityEmpty),
        Just(Violation::IdentityOnlyOdataType),
        prop_oneof![Just(json!("x")), Just(json!(1)), Just(json!([]))]
            .prop_map(Violation::IdentityMemberNotObject),
        (
            proptest::sample::select(vec![
                "clientContext",
                "replacesCallId",
                "participantId",
                "hidden",
                "removeFromDefaultAudioRoutingGroup",
                "identity.user.id",
                "identity.user.displayName",
            ]),
            wrong_value(),
        )
            .prop_filter("booleans are right for the boolean fields", |(f, v)| {
                !(v.is_boolean() && (*f == "hidden" || *f == "removeFromDefaultAudioRoutingGroup"))
            })
            .prop_map(|(field, value)| Violation::WrongType { field, value }),
        (257usize..=320, 0usize..=128)
            .prop_map(|(units, pairs)| Violation::ClientContextTooLong { units, pairs }),
        (2usize..=5).prop_map(Violation::SeveralOnP2p),
    ]
}

/// A valid body with one violation, and the call kind it is sent to.
#[derive(Debug, Clone)]
pub struct InvalidInvite {
    pub kind: CallKind,
    pub body: Value,
    pub violation: Violation,
}

pub fn invalid_invite() -> impl Strategy<Value = InvalidInvite> {
    (participant(), client_context(), violation()).prop_map(|(p, context, violation)| {
        let mut b = body(vec![p], context);
        violation.apply(&mut b);
        let kind = if matches!(violation, Violation::SeveralOnP2p(_)) {
            CallKind::P2p
        } else {
            CallKind::Group
        };
        InvalidInvite {
            kind,
            body: b,
            violation,
        }
    })
}

/// Bytes that are not JSON: a valid body cut short, or noise.
pub fn malformed_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (participant(), any::<prop::sample::Index>()).prop_map(|(p, cut)| {
            let text = body(vec![p], None).to_string().into_bytes();
            let at = cut.index(text.len() - 1);
            text[..at].to_vec()
        }),
        proptest::collection::vec(any::<u8>(), 1..64)
            .prop_filter("not JSON", |b| serde_json::from_slice::<Value>(b).is_err()),
    ]
}

/// Any input at all, for the no-5xx property.
#[derive(Debug, Clone)]
pub enum AnyInput {
    Valid(ValidInvite),
    Invalid(InvalidInvite),
    Malformed(Vec<u8>),
}

pub fn any_input() -> impl Strategy<Value = AnyInput> {
    prop_oneof![
        valid_invite().prop_map(AnyInput::Valid),
        invalid_invite().prop_map(AnyInput::Invalid),
        malformed_bytes().prop_map(AnyInput::Malformed),
    ]
}
