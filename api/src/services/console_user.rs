//! Who is logged in to the console. Sessions hand it out and second factors belong to
//! it; it lives apart from `auth` because `auth` checks the second factors, and they
//! must name the user without importing `auth` back.

/// A logged-in console user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleUser {
    pub id: i64,
    pub username: String,
}
