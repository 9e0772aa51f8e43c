//! A small memory of what the database said about incidents older than the snapshot,
//! so a crawler walking old incident pages costs one query per incident per snapshot,
//! not one per request. Forgotten whenever the snapshot changes, since an old incident
//! can still be edited.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::NaiveDate;

use crate::domain::IncidentId;
use crate::services::PublicIncident;

/// Past this many answers, the memory starts over: bounded, and simpler than LRU for
/// what is a rare path.
const MAX_ENTRIES: usize = 256;

#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Question {
    Incident(IncidentId),
    Day(NaiveDate),
}

#[derive(Default)]
pub struct Recall {
    /// The snapshot generation these answers belong to, and the answers.
    answers: Mutex<(u64, HashMap<Question, Vec<PublicIncident>>)>,
}

impl Recall {
    pub fn get(&self, generation: u64, question: &Question) -> Option<Vec<PublicIncident>> {
        let answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        (answers.0 == generation)
            .then(|| answers.1.get(question).cloned())
            .flatten()
    }

    pub fn keep(&self, generation: u64, question: Question, answer: Vec<PublicIncident>) {
        let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        if answers.0 != generation || answers.1.len() >= MAX_ENTRIES {
            *answers = (generation, HashMap::new());
        }
        answers.1.insert(question, answer);
    }
}
