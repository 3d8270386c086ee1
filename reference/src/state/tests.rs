//! The registry's bounds, without HTTP.

use std::sync::Arc;

use serde_json::{json, Map};

use super::invite::Announced;
use super::*;
use crate::config::Config;
use crate::resources::{new_id, OperationStatus};
use crate::seam::Seam;
use crate::validate::NewCall;

fn registry(limits: Limits) -> Registry {
    let config = Config::default();
    let seam = Arc::new(Seam::new(&config));
    let delivery = Arc::new(Delivery::new(
        &config,
        Arc::clone(&seam),
        Arc::new(crate::timing::Timing::new(&config)),
    ));
    let ids = Arc::new(Ids::new(false));
    Registry {
        limits,
        ..Registry::new(delivery, seam.rules(), ids, usize::MAX)
    }
}

fn new_call(registry: &mut Registry) -> Result<String, ApiError> {
    let new = NewCall {
        kind: CallKind::Group,
        // Nothing listens there: delivery fails quietly in the background.
        callback_uri: "http://127.0.0.1:9/callback".into(),
        targets: Vec::new(),
    };
    registry
        .create_call(new, &Map::new(), None)
        .map(|(id, _)| id)
}

fn operation(participants: usize) -> Operation {
    Operation {
        id: new_id(),
        client_context: None,
        participants: vec![json!({"identity": {"user": {"id": "u"}}}); participants],
        status: OperationStatus::Running,
        result_info: None,
    }
}

#[tokio::test]
async fn calls_past_the_limit_are_refused_with_429() {
    let mut registry = registry(Limits {
        calls: 2,
        ..Limits::default()
    });
    let first = new_call(&mut registry).expect("first call");
    new_call(&mut registry).expect("second call");
    let refused = new_call(&mut registry).expect_err("third call");
    assert_eq!(refused.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
    assert!(registry.end_call(&first));
    assert!(
        new_call(&mut registry).is_ok(),
        "an ended call frees its place"
    );
}

#[tokio::test]
async fn live_calls_are_counted_per_client() {
    let mut registry = registry(Limits {
        calls_per_client: 2,
        ..Limits::default()
    });
    let (one, two): (Client, Client) = (Some([127, 0, 0, 1].into()), Some([10, 0, 0, 2].into()));
    let create = |registry: &mut Registry, owner: Client| {
        let new = NewCall {
            kind: CallKind::Group,
            callback_uri: "http://127.0.0.1:9/callback".into(),
            targets: Vec::new(),
        };
        registry
            .create_call(new, &Map::new(), owner)
            .map(|(id, _)| id)
    };
    let first = create(&mut registry, one).expect("first");
    create(&mut registry, one).expect("second");
    let refused = create(&mut registry, one).expect_err("third");
    assert_eq!(refused.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
    create(&mut registry, two).expect("another client's first");
    create(&mut registry, None).expect("a client without an address");
    assert!(registry.end_call(&first));
    create(&mut registry, one).expect("an ended call frees its place");
    assert_eq!(registry.per_client.get(&one), Some(&2));
    assert_eq!(registry.per_client.len(), 3);
}

#[tokio::test]
async fn a_call_cannot_start_with_a_roster_over_the_limit() {
    let mut registry = registry(Limits {
        roster: 3,
        ..Limits::default()
    });
    let call = |targets: usize| NewCall {
        kind: CallKind::Group,
        callback_uri: "http://127.0.0.1:9/callback".into(),
        targets: vec![json!({"identity": {"user": {"id": "u"}}}); targets],
    };
    // The bot and two targets fill a roster of three.
    assert!(registry.create_call(call(2), &Map::new(), None).is_ok());
    let refused = registry
        .create_call(call(3), &Map::new(), None)
        .expect_err("four in a roster of three");
    assert_eq!(refused.status(), axum::http::StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn ended_ids_are_remembered_up_to_the_limit() {
    let mut registry = registry(Limits {
        ended: 2,
        ..Limits::default()
    });
    let ids: Vec<String> = (0..3)
        .map(|_| new_call(&mut registry).expect("call"))
        .collect();
    for id in &ids {
        assert!(registry.end_call(id));
    }
    assert_eq!(registry.presence(&ids[0]), Presence::Unknown);
    assert_eq!(registry.presence(&ids[1]), Presence::Ended);
    assert_eq!(registry.presence(&ids[2]), Presence::Ended);
}

#[tokio::test]
async fn rosters_and_operations_are_bounded() {
    let mut registry = registry(Limits {
        roster: 4,
        operations: 2,
        ..Limits::default()
    });
    let id = new_call(&mut registry).expect("call"); // the bot is listed
    let too_many = registry
        .add_operation(&id, operation(4))
        .expect_err("roster");
    assert_eq!(too_many.status(), axum::http::StatusCode::BAD_REQUEST);

    let first = operation(1);
    let first_id = first.id.clone();
    registry.add_operation(&id, first).expect("first");
    registry.add_operation(&id, operation(1)).expect("second");
    let busy = registry
        .add_operation(&id, operation(1))
        .expect_err("all running");
    assert_eq!(busy.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);

    registry.complete_invite(&id, &first_id, Announced::ByNotification);
    registry
        .add_operation(&id, operation(1))
        .expect("room again");
    assert!(
        matches!(registry.operation(&id, &first_id), Ok(None)),
        "the finished one is forgotten"
    );
    assert_eq!(registry.roster(&id).map(|r| r.len()), Some(2));
}
