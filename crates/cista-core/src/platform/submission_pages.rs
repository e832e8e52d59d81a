//! An organization's submissions of some form versions, newest first, read a page at a time
//! (a keyset on the time of receipt, then the id: `IntakeReads::submissions_of`), each with
//! its payload opened under the organization's data key, unwrapped once for the whole read.
//! The records list and exports and the results list and CSV read through it.

use crate::platform::org::open_payload_with;
use crate::ports::StoredSubmission;
use crate::{Cista, Result};
use cista_crypto::DataKey;
use cista_types::{FormId, OrgId, SubmissionId, Timestamp};
use serde_json::Value;

/// How many submissions one read of the store takes.
const SUBMISSIONS_A_READ: u64 = 500;

/// The pages of one read (`next`), newest submission first.
pub(crate) struct SubmissionPages<'a> {
    cista: &'a Cista,
    org: OrgId,
    forms: Vec<FormId>,
    /// Where the last page ended; the next starts after it.
    older_than: Option<(Timestamp, SubmissionId)>,
    /// Unwrapped with the first page, kept for the rest.
    key: Option<DataKey>,
    done: bool,
}

impl<'a> SubmissionPages<'a> {
    pub(crate) fn new(cista: &'a Cista, org: OrgId, forms: Vec<FormId>) -> Self {
        Self {
            cista,
            org,
            done: forms.is_empty(),
            forms,
            older_than: None,
            key: None,
        }
    }

    /// The next page, each submission with its opened payload; `None` once none are left.
    /// Errors: the store's; `integrity` for a payload that does not open.
    pub(crate) async fn next(&mut self) -> Result<Option<Vec<(StoredSubmission, Value)>>> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .cista
            .store()
            .intake()
            .submissions_of(self.org, &self.forms, self.older_than, SUBMISSIONS_A_READ)
            .await?;
        let Some(last) = page.last() else {
            self.done = true;
            return Ok(None);
        };
        self.older_than = Some((last.received_at, last.id));
        self.done = u64::try_from(page.len()).unwrap_or(u64::MAX) < SUBMISSIONS_A_READ;
        let key = match self.key.take() {
            Some(key) => key,
            None => self.cista.org_data_key(self.org).await?,
        };
        let opened = page
            .into_iter()
            .map(|s| {
                let payload = open_payload_with(&key, &s)?;
                Ok((s, payload))
            })
            .collect::<Result<Vec<_>>>();
        self.key = Some(key);
        opened.map(Some)
    }
}
