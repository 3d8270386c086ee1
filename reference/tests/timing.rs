//! Graph-like timing: a server told to answer slowly and to notify late
//! does both, never sooner than told (how much later depends on the
//! machine, so only the lower bound is asserted), and a server told nothing
//! keeps its notifications in order.

mod common;

use std::time::{Duration, Instant};

use common::*;
use invite_reference::Config;

const LATENCY: Duration = Duration::from_millis(150);
const DELAY: Duration = Duration::from_millis(250);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_wait_their_latency_and_notifications_their_delay() {
    let h = Harness::new(Config {
        answer_latency: LATENCY,
        notification_delay: DELAY,
        timing_jitter: Duration::from_millis(50),
        timing_seed: 3,
        ..Config::default()
    })
    .await;
    let created = Instant::now();
    let (call_id, mut inbox) = h.live_call(GROUP).await;
    // Its established notification, a delay after the call was created
    // (while its answer waited out the latency).
    assert!(
        created.elapsed() >= DELAY.max(LATENCY),
        "{:?}",
        created.elapsed()
    );

    let sent = Instant::now();
    let reply = h.invite(&call_id, &one_user()).await;
    let answered = sent.elapsed();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(answered >= LATENCY, "answered in {answered:?}");
    let first = inbox.next().await;
    assert!(
        sent.elapsed() >= DELAY,
        "the first notification came {:?} after the invite ({first:?})",
        sent.elapsed()
    );
    // Every notification of the invite still comes, in order: its end
    // before or with the roster that it changed.
    let mut notes = vec![first];
    while !notes.iter().any(Note::is_operation_end) {
        notes.push(inbox.next().await);
    }
}
