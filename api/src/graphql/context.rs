//! What the HTTP layer puts into each request's GraphQL context, for resolvers to read.

use crate::services::ConsoleUser;

/// Who sent the request, as the access token says.
#[derive(Clone, Debug)]
pub enum Caller {
    Anonymous,
    Console(ConsoleUser),
    /// A token was sent but is not valid; console fields say so instead of "log in".
    InvalidToken,
}

/// The access token a WebSocket sent in its `connection_init` payload. It is checked
/// when a console subscription starts and bounds how long it runs, rather than turning
/// the connection into a session that outlives the token.
#[derive(Clone, Debug)]
pub struct SocketToken(pub String);

/// The request's client address, for rate limits.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddress(pub std::net::IpAddr);

/// The refresh token from the request's cookie, if any.
#[derive(Clone, Debug, Default)]
pub struct RefreshCookie(pub Option<String>);
