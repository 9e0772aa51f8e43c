//! Public GraphQL answers kept per snapshot generation. Public data changes only when
//! the snapshot is rebuilt, so on the incident day a third party polling the same
//! query costs a hash lookup instead of a run of the resolvers. Anonymous queries
//! only: a console call (with a token) or a mutation is never kept, and every answer
//! is dropped the moment the snapshot changes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use axum::body::Bytes;

/// Bounds on what is kept: a crawler varying its variables cannot make it grow.
const MAX_ENTRIES: usize = 1_000;
const MAX_BYTES: usize = 16 << 20;

/// A query as the client sent it: its text, operation and variables.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MemoKey {
    query: String,
    operation_name: Option<String>,
    /// serde_json (without `preserve_order`) writes object keys sorted, so equal
    /// variables give equal text.
    variables: String,
}

impl MemoKey {
    /// The key of a request; `None` without query text (a persisted query's hash alone
    /// is not the query).
    pub fn new(
        query: &str,
        operation_name: Option<&str>,
        variables: Option<&serde_json::Value>,
    ) -> Option<Self> {
        if query.is_empty() {
            return None;
        }
        Some(Self {
            query: query.to_owned(),
            operation_name: operation_name.map(str::to_owned),
            variables: variables.map(ToString::to_string).unwrap_or_default(),
        })
    }
}

#[derive(Default)]
pub struct ResponseMemo {
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    generation: u64,
    answers: HashMap<MemoKey, Bytes>,
    bytes: usize,
}

impl ResponseMemo {
    /// The answer kept for `key` in snapshot `generation`.
    pub fn get(&self, generation: u64, key: &MemoKey) -> Option<Bytes> {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.generation != generation {
            return None;
        }
        kept.answers.get(key).cloned()
    }

    /// Keeps `answer`, computed while `generation` was current. An answer of an older
    /// generation is not kept; a newer generation forgets everything before it.
    pub fn keep(&self, generation: u64, key: MemoKey, answer: Bytes) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if generation < kept.generation {
            return;
        }
        let full = kept.answers.len() >= MAX_ENTRIES || kept.bytes + answer.len() > MAX_BYTES;
        if generation > kept.generation || full {
            *kept = Kept {
                generation,
                ..Kept::default()
            };
        }
        if answer.len() > MAX_BYTES {
            return;
        }
        kept.bytes += answer.len() + key.query.len() + key.variables.len();
        kept.answers.insert(key, answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(query: &str) -> MemoKey {
        MemoKey::new(query, None, None).unwrap_or_else(|| unreachable!())
    }

    #[test]
    fn an_answer_is_served_only_in_its_own_generation() {
        let memo = ResponseMemo::default();
        memo.keep(1, key("{ a }"), Bytes::from_static(b"1"));
        assert_eq!(memo.get(1, &key("{ a }")).as_deref(), Some(&b"1"[..]));
        assert!(memo.get(2, &key("{ a }")).is_none(), "a newer snapshot");
        memo.keep(2, key("{ b }"), Bytes::from_static(b"2"));
        // Computed from an older snapshot while a newer one was being built.
        memo.keep(1, key("{ a }"), Bytes::from_static(b"old"));
        assert!(memo.get(2, &key("{ a }")).is_none());
        assert!(
            memo.get(1, &key("{ a }")).is_none(),
            "the old generation is gone"
        );
        assert!(memo.get(2, &key("{ b }")).is_some());
    }

    #[test]
    fn variables_are_part_of_the_key_and_the_memo_stays_bounded() {
        let memo = ResponseMemo::default();
        let with = |n: i64| {
            let variables = serde_json::json!({ "n": n });
            MemoKey::new("query($n: Int) { a(n: $n) }", None, Some(&variables))
                .unwrap_or_else(|| unreachable!())
        };
        for n in 0..=i64::try_from(MAX_ENTRIES).unwrap_or(0) {
            memo.keep(1, with(n), Bytes::from(n.to_string()));
        }
        assert_eq!(memo.get(1, &with(3)), None, "started over when full");
        let last = i64::try_from(MAX_ENTRIES).unwrap_or(0);
        assert_eq!(
            memo.get(1, &with(last)),
            Some(Bytes::from(last.to_string()))
        );
    }
}
