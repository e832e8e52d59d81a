//! People named by the audit log's actor names (`subject:…`) on the records pages: a
//! collector or a reviewer is shown by name to staff who may read people — one audited read
//! of personal data for the whole page — and by subject code to anyone else, or when a name
//! cannot be read (an erased person, someone no longer a member). Names never leave the
//! person vault for anyone else.

use crate::AppState;
use cista_core::{Actor, OrgAction};
use cista_types::{OrgId, SubjectCode};
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct Names(HashMap<String, String>);

impl Names {
    /// Reads the names behind `actors` (audit names) for `actor`, if `actor` may read people.
    pub async fn read<'a>(
        state: &AppState,
        actor: &Actor,
        org: OrgId,
        actors: impl IntoIterator<Item = &'a str>,
        purpose: &str,
    ) -> Self {
        if !actor.may_in(org, OrgAction::ViewPeople) {
            return Self::default();
        }
        let mut subjects: Vec<SubjectCode> = actors
            .into_iter()
            .filter_map(|a| a.strip_prefix("subject:"))
            .filter_map(|code| SubjectCode::parse(code).ok())
            .collect();
        subjects.sort_unstable_by_key(|s| s.as_i64());
        subjects.dedup();
        if subjects.is_empty() {
            return Self::default();
        }
        match state
            .cista
            .read_people(actor, org, &subjects, purpose)
            .await
        {
            Ok(read) => Self(
                read.into_iter()
                    .filter_map(|(subject, fields)| {
                        let f = fields?;
                        Some((
                            format!("subject:{subject}"),
                            format!("{} {}", f.first_name, f.last_name),
                        ))
                    })
                    .collect(),
            ),
            Err(e) => {
                tracing::warn!(
                    code = e.code(),
                    "names for a records page could not be read"
                );
                Self::default()
            }
        }
    }

    /// The name behind an audit name, or its subject code (`subject:` left off), or the audit
    /// name itself (`operator:ana`).
    pub fn of(&self, audit_name: &str) -> String {
        self.0.get(audit_name).cloned().unwrap_or_else(|| {
            audit_name
                .strip_prefix("subject:")
                .unwrap_or(audit_name)
                .to_owned()
        })
    }
}
