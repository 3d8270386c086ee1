//! Delivery of notifications to a call's callbackUri: one queue and one task
//! per call, so a call's notifications arrive in the order they were raised
//! and a slow callback only ever delays its own call. Notifications raised
//! together (an operation's end and the roster it changed) leave in one POST,
//! as items of one `commsNotifications.value`, as Graph batches them. What
//! leaves is shaped by the seam: a batch as it is queued, a POST's body as
//! it is sent.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, HeaderValue};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::Config;
use crate::seam::Seam;
use crate::sent::Batch;
use crate::timing::Timing;

/// Pause before trying a failed POST again; short, since the deadline and the
/// retry count already bound the time a notification can take.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// What every delivery task shares: one HTTP client (so connections to a
/// callback are reused) and the delivery settings.
#[derive(Debug)]
pub(crate) struct Delivery {
    client: reqwest::Client,
    timeout: Duration,
    retries: u32,
    log: bool,
    seam: Arc<Seam>,
    /// Most items one POST carries; more wait for the next POST.
    batch_items: usize,
    timing: Arc<Timing>,
}

impl Delivery {
    pub(crate) fn new(config: &Config, seam: Arc<Seam>, timing: Arc<Timing>) -> Delivery {
        Delivery {
            // Without TLS nor a system proxy the builder has nothing that can
            // fail; the default client is the same one in any case.
            client: reqwest::Client::builder().build().unwrap_or_default(),
            timeout: config.notify_timeout,
            retries: config.notify_retries,
            log: config.log_requests,
            batch_items: seam.rules().items_per_post.max(1),
            seam,
            timing,
        }
    }
}

/// The queue of one call's notifications. Dropping it lets the delivery task
/// send what is queued and end.
#[derive(Debug)]
pub(crate) struct Notifier {
    /// Serialized `commsNotification` items, those raised together in one
    /// message (so the delivery task never sees half of them), with when
    /// they are due to leave.
    queue: mpsc::UnboundedSender<(Instant, Vec<String>)>,
    backlog: Arc<AtomicUsize>,
    /// The last `sequenceNumber` given to an item of this call, when items
    /// are numbered.
    sequence: AtomicU64,
    seam: Arc<Seam>,
    timing: Arc<Timing>,
}

impl Notifier {
    /// Starts the delivery task of a call; needs a tokio runtime.
    pub(crate) fn spawn(delivery: Arc<Delivery>, callback_uri: String) -> Notifier {
        let (queue, pending) = mpsc::unbounded_channel();
        let backlog = Arc::new(AtomicUsize::new(0));
        let seam = Arc::clone(&delivery.seam);
        let timing = Arc::clone(&delivery.timing);
        tokio::spawn(deliver_queue(
            delivery,
            callback_uri,
            pending,
            Arc::clone(&backlog),
        ));
        Notifier {
            queue,
            backlog,
            sequence: AtomicU64::new(0),
            seam,
            timing,
        }
    }

    /// Queues notifications raised together, as the seam shapes them: they
    /// leave in one POST (or in as few as the batch size allows). It never
    /// waits. Returns whether they announce an operation's end.
    pub(crate) fn send(&self, batch: Batch<'_>) -> bool {
        let (items, ends) = self.seam.notifications(batch, &self.sequence);
        self.queue_items(items);
        ends
    }

    fn queue_items(&self, items: Vec<String>) {
        if items.is_empty() {
            return;
        }
        let count = items.len();
        self.backlog.fetch_add(count, Ordering::Relaxed);
        let due = Instant::now() + self.timing.notification();
        if self.queue.send((due, items)).is_err() {
            // The task is gone only when the runtime shuts down.
            self.backlog.fetch_sub(count, Ordering::Relaxed);
        }
    }

    /// Notifications queued and not yet delivered (or given up).
    pub(crate) fn backlog(&self) -> usize {
        self.backlog.load(Ordering::Relaxed)
    }
}

async fn deliver_queue(
    delivery: Arc<Delivery>,
    callback_uri: String,
    mut pending: mpsc::UnboundedReceiver<(Instant, Vec<String>)>,
    backlog: Arc<AtomicUsize>,
) {
    let batch_items = delivery.batch_items;
    let waits = delivery.timing.delays_notifications();
    let mut raised = Vec::with_capacity(batch_items);
    // Parsed once, not once per POST; a URL that does not parse is left to
    // reqwest, which reports it on each attempt.
    let url = reqwest::Url::parse(&callback_uri).ok();
    while pending.recv_many(&mut raised, batch_items).await > 0 {
        // What was raised together leaves together, once the last of it is
        // due; a call's notifications keep their order.
        if waits {
            if let Some(due) = raised.iter().map(|(due, _)| *due).max() {
                tokio::time::sleep_until(due).await;
            }
        }
        let items: Vec<String> = raised.drain(..).flat_map(|(_, items)| items).collect();
        for batch in items.chunks(batch_items) {
            let body = delivery.seam.post_body(batch);
            deliver(&delivery, &callback_uri, url.as_ref(), Bytes::from(body)).await;
            backlog.fetch_sub(batch.len(), Ordering::Relaxed);
        }
    }
}

/// POSTs one body, trying again on a transport error, a 5xx, a 408 or a 429
/// until the retries are spent; then the notification is dropped, as Graph
/// drops notifications a bot does not take. Any other 4xx is the bot's final
/// word (a callback path it no longer serves, say): trying again cannot help.
async fn deliver(delivery: &Delivery, callback_uri: &str, url: Option<&reqwest::Url>, body: Bytes) {
    let json = HeaderValue::from_static("application/json");
    for attempt in 0..=delivery.retries {
        let post = match url {
            Some(url) => delivery.client.post(url.clone()),
            None => delivery.client.post(callback_uri),
        };
        let outcome = post
            .header(header::CONTENT_TYPE, json.clone())
            .timeout(delivery.timeout)
            .body(body.clone())
            .send()
            .await;
        let failure = match outcome {
            Ok(response) if response.status().is_success() => {
                // Reading the answer lets the connection go back to the pool.
                let _ = response.bytes().await;
                return;
            }
            Ok(response) if is_final(response.status()) => {
                if delivery.log {
                    eprintln!(
                        "notify POST {callback_uri} answered {}: dropped",
                        response.status()
                    );
                }
                return;
            }
            Ok(response) => format!("answered {}", response.status()),
            Err(error) => format!("failed: {}", error_chain(&error)),
        };
        if delivery.log {
            eprintln!(
                "notify POST {callback_uri} {failure} (attempt {} of {})",
                attempt + 1,
                delivery.retries + 1
            );
        }
        if attempt < delivery.retries {
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
}

/// A refusal that another attempt would only repeat.
fn is_final(status: reqwest::StatusCode) -> bool {
    status.is_client_error()
        && status != reqwest::StatusCode::REQUEST_TIMEOUT
        && status != reqwest::StatusCode::TOO_MANY_REQUESTS
}

/// An error with its causes, since reqwest's own message ("error sending
/// request") hides whether the callback refused, timed out or reset.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}
