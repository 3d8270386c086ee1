//! A reference implementation (a mock) of the Microsoft Graph calls service,
//! as far as `POST /communications/calls/{id}/participants/invite` needs it:
//! create, get and delete calls, invite participants, get operations, list
//! participants, and notifications to each call's callbackUri.
//!
//! It is the conformance suite's default target and a stand-in for Graph
//! when building a bot. [`Config::faults`] makes it break one documented
//! behaviour at a time, which is how the suite proves it notices;
//! [`Config::variants`] makes it choose differently where the spec allows
//! several behaviours, which is how the suite proves it never fails a
//! correct implementation. [`Config::mutation`] alters one member of one
//! kind of document it sends, which is how a self-test finds the members no
//! check of the suite looks at.
//!
//! ```no_run
//! let server = invite_reference::start(invite_reference::Config::default())?;
//! println!("Graph mock at {}", server.base_url());
//! server.shutdown();
//! # Ok::<(), std::io::Error>(())
//! ```

mod config;
mod error;
mod faults;
mod mutation;
mod notify;
mod resources;
mod routes;
mod seam;
mod sent;
mod server;
mod state;
mod timing;
mod validate;
mod variants;

pub use config::Config;
pub use faults::{Fault, UnknownFault};
pub use mutation::{Change, Document, MemberPath, Mutation, MutationError, Step};
pub use server::{serve, start, ServerHandle};
pub use variants::{UnknownVariant, Variant};

/// The reference server as an axum router (all routes under `/v1.0`), for
/// callers that serve it themselves. Notifications are delivered by tasks of
/// the runtime that serves it.
///
/// The router applies the body and head size limits and the live calls per
/// client; the connection limit and the timeouts belong to [`serve`] and
/// [`start`]. Serve it with
/// `into_make_service_with_connect_info::<std::net::SocketAddr>()` so that
/// clients are told apart by address; otherwise they all count as one.
pub fn router(config: Config) -> axum::Router {
    routes::router(config.applied())
}
