//! The one public reader: every public question about incidents is answered from the
//! snapshot when it holds the answer, and from the database (remembered per snapshot
//! in [`Recall`]) only for what ended before the snapshot's months. So while the
//! database is away everything of the last months keeps answering.

use chrono::NaiveDate;

use super::current::PublicSnapshot;
use super::recall::Question;
use crate::domain::IncidentId;
use crate::services::{IncidentFilter, PublicError, PublicIncident};

impl PublicSnapshot {
    /// One public incident; `None` when unknown or dismissed.
    pub async fn incident(&self, id: IncidentId) -> Result<Option<PublicIncident>, PublicError> {
        let snapshot = self.get();
        if let Some(known) = snapshot.as_ref().and_then(|s| s.window.incident(id)) {
            return Ok(known.cloned());
        }
        let question = Question::Incident(id);
        let generation = self.generation();
        if let Some(answer) = self.recall().get(generation, &question) {
            return Ok(answer.into_iter().next());
        }
        let found = self.services().public.incident(id).await?;
        self.recall()
            .keep(generation, question, found.iter().cloned().collect());
        Ok(found)
    }

    /// A page of public incidents, newest (largest id) first, and whether more follow.
    pub async fn incidents(
        &self,
        filter: &IncidentFilter,
        after: Option<IncidentId>,
        first: u64,
    ) -> Result<(Vec<PublicIncident>, bool), PublicError> {
        if let Some(page) = self
            .get()
            .and_then(|snapshot| snapshot.window.page(filter, after, first))
        {
            return Ok(page);
        }
        self.services().public.incidents(filter, after, first).await
    }

    /// The public incidents that overlapped the local day `date`, by start.
    pub async fn day(&self, date: NaiveDate) -> Result<Vec<PublicIncident>, PublicError> {
        let snapshot = self.get();
        if let Some(snapshot) = &snapshot
            && let Some(day) = snapshot.window.day(snapshot.view.site.tz(), date)
        {
            return Ok(day);
        }
        let question = Question::Day(date);
        let generation = self.generation();
        if let Some(answer) = self.recall().get(generation, &question) {
            return Ok(answer);
        }
        let day = self.services().public.day(date).await?;
        self.recall().keep(generation, question, day.clone());
        Ok(day)
    }
}
