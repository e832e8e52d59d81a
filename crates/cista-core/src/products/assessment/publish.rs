//! Publishing an assessment through the platform's form pipeline, which checks it whole
//! (structure and rules) before anything is stored and stores it in its normal form (every
//! default spelled out) as the next immutable version; reading one back checks it again, so a
//! result always names a definition that scores.

use super::{Assessment, AssessmentAction};
use crate::platform::intake::{FormProduct, check_name};
use crate::ports::StoredForm;
use crate::{Actor, Cista, Error, Result};
use cista_types::OrgId;

/// A published version of an assessment, read and checked.
#[derive(Debug)]
pub struct PublishedAssessment {
    pub form: StoredForm,
    pub assessment: Assessment,
}

impl Cista {
    /// Checks `definition` and publishes it as the next version of `org`'s assessment `key`
    /// (version 1 when new; the newest version unchanged when the definition is the same).
    /// A definition whose rules do not hold is refused with `rules_invalid`, naming the rule;
    /// the check itself is the form pipeline's (`FormProduct::Assessment`).
    pub async fn publish_assessment(
        &self,
        actor: &Actor,
        org: OrgId,
        key: &str,
        definition: &serde_json::Value,
    ) -> Result<PublishedAssessment> {
        let form = self
            .publish_form(actor, org, FormProduct::Assessment, key, definition)
            .await?;
        PublishedAssessment::read(form)
    }

    /// The newest version of `org`'s assessment `key`.
    pub async fn latest_assessment(
        &self,
        actor: &Actor,
        org: OrgId,
        key: &str,
    ) -> Result<PublishedAssessment> {
        actor.authorize_in(org, AssessmentAction::Manage)?;
        PublishedAssessment::read(self.newest_assessment(org, key).await?)
    }

    /// Every assessment of `org`: its key, the newest version's title, and that version's
    /// number, by key. For staff who may see results.
    pub async fn assessments_of(
        &self,
        actor: &Actor,
        org: OrgId,
    ) -> Result<Vec<(String, String, u32)>> {
        actor.authorize_in(org, AssessmentAction::ViewResults)?;
        let mut newest: std::collections::BTreeMap<String, StoredForm> = Default::default();
        for form in self.store().intake().forms_of(org).await? {
            if form.product == FormProduct::Assessment.as_str() {
                // Versions come oldest first: the last one of a key stays.
                newest.insert(form.key.clone(), form);
            }
        }
        newest
            .into_values()
            .map(|form| {
                let version = form.version;
                let published = PublishedAssessment::read(form)?;
                Ok((
                    published.form.key.clone(),
                    published.assessment.definition.title.clone(),
                    version,
                ))
            })
            .collect()
    }

    /// Every version of `org`'s form `key`, oldest first; none for a key that breaks the key
    /// rule (`check_name`), which no form was ever published under. Keys arrive in paths, so
    /// the rule answers before the database sees one (PostgreSQL refuses a NUL byte in text).
    pub(crate) async fn versions_of_key(&self, org: OrgId, key: &str) -> Result<Vec<StoredForm>> {
        if check_name("key", key).is_err() {
            return Ok(Vec::new());
        }
        self.store().intake().form_versions(org, key).await
    }

    /// The newest published version of `org`'s assessment `key`, unchecked (one row read:
    /// a widget asks this at every load). Every version of a key is of one product, so a key
    /// whose newest version is not an assessment has none. Errors: `not_found`.
    pub(crate) async fn newest_assessment(&self, org: OrgId, key: &str) -> Result<StoredForm> {
        let newest = if check_name("key", key).is_ok() {
            self.store().intake().newest_form_version(org, key).await?
        } else {
            None
        };
        newest
            .filter(|f| f.product == FormProduct::Assessment.as_str())
            .ok_or(Error::NotFound {
                what: "that assessment",
            })
    }
}

impl PublishedAssessment {
    /// A stored version read and checked again.
    pub fn read(form: StoredForm) -> Result<Self> {
        let json: serde_json::Value = serde_json::from_str(&form.definition)
            .map_err(|e| Error::Integrity(format!("a stored assessment is not JSON: {e}")))?;
        let assessment = Assessment::parse(&json)?;
        Ok(Self { form, assessment })
    }
}
