//! The record forms a collector or a partner system may fill: the newest version of each of
//! an organization's record forms, and any one version by id (a phone keeps filling the
//! version it downloaded; a record names the version it answers).

use crate::ports::StoredForm;
use crate::products::collection::RecordForm;
use crate::{Actor, Cista, Error, OrgAction, Result};
use cista_types::{FormId, OrgId};

/// One published version of a record form, read.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordFormVersion {
    pub form: StoredForm,
    pub definition: RecordForm,
}

fn may_read_forms(actor: &Actor, org: OrgId) -> Result<()> {
    if actor.may_in(org, OrgAction::SubmitForms) || actor.may_in(org, OrgAction::ViewSubmissions) {
        Ok(())
    } else {
        Err(Error::Forbidden {
            action: "read this organization's record forms",
        })
    }
}

impl Cista {
    /// The newest version of each of `org`'s record forms, by key. For those who fill
    /// records and those who read them.
    pub async fn record_forms(&self, actor: &Actor, org: OrgId) -> Result<Vec<RecordFormVersion>> {
        may_read_forms(actor, org)?;
        let all = self.store().intake().forms_of(org).await?;
        let mut newest: Vec<StoredForm> = Vec::new();
        for form in all.into_iter().filter(|f| f.product == "collection") {
            match newest.last_mut() {
                Some(last) if last.key == form.key => {
                    if form.version > last.version {
                        *last = form;
                    }
                }
                _ => newest.push(form),
            }
        }
        newest
            .into_iter()
            .map(|form| {
                let definition = crate::platform::intake::record_form(&form)?;
                Ok(RecordFormVersion { form, definition })
            })
            .collect()
    }

    /// Version `id` of one of `org`'s record forms; `not_found` for another organization's
    /// form or an assessment.
    pub async fn record_form_version(
        &self,
        actor: &Actor,
        org: OrgId,
        id: FormId,
    ) -> Result<RecordFormVersion> {
        may_read_forms(actor, org)?;
        let form = self.published_form(org, id).await?;
        if form.product != "collection" {
            return Err(Error::NotFound { what: "that form" });
        }
        let definition = crate::platform::intake::record_form(&form)?;
        Ok(RecordFormVersion { form, definition })
    }
}
