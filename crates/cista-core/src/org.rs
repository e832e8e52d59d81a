//! Organizations (tenants). Creating one also creates its data key, wrapped by the key
//! provider, in the same transaction as the audit entry.

use crate::audit::{AuditKind, NewAuditEntry};
use crate::ports::{KeyPurpose, Organization, StoredKey};
use crate::{Action, Actor, Cista, Error, Result};
use cista_crypto::{DataKey, Sealed};
use cista_types::{KeyId, OrgId, OrgName, OrgSlug, PhoneRegion, TimeZoneName};

impl Cista {
    /// Creates an organization whose ballots use UTC (see `create_organization_in_zone`).
    pub async fn create_organization(
        &self,
        actor: &Actor,
        name: OrgName,
        slug: OrgSlug,
    ) -> Result<Organization> {
        self.create_organization_in_zone(actor, name, slug, TimeZoneName::utc())
            .await
    }

    /// Creates an organization with no country for phone numbers (every number then needs
    /// its country code; see `create_organization_with`).
    pub async fn create_organization_in_zone(
        &self,
        actor: &Actor,
        name: OrgName,
        slug: OrgSlug,
        time_zone: TimeZoneName,
    ) -> Result<Organization> {
        self.create_organization_with(actor, name, slug, time_zone, None)
            .await
    }

    /// Creates an organization, its data key and its audit entry in one transaction.
    /// `phone_region` is the country whose national phone numbers are accepted.
    pub async fn create_organization_with(
        &self,
        actor: &Actor,
        name: OrgName,
        slug: OrgSlug,
        time_zone: TimeZoneName,
        phone_region: Option<PhoneRegion>,
    ) -> Result<Organization> {
        actor.authorize(Action::CreateOrganization)?;
        // The name heads every certified results PDF: refuse now what no font can print.
        cista_types::glyphs::check_printable(name.as_str())
            .map_err(|e| Error::invalid("organization name", e.to_string()))?;
        let store = self.store();
        if store.organization_by_slug(&slug).await?.is_some() {
            return Err(Error::Conflict(format!(
                "an organization with the slug `{slug}` exists already"
            )));
        }
        let now = self.clock().now();
        let org = Organization {
            id: OrgId::new(self.rng().as_ref()),
            slug,
            name,
            time_zone,
            phone_region,
            created_at: now,
        };
        let key_id = KeyId::new(self.rng().as_ref());
        let aad = StoredKey::wrap_aad(key_id, KeyPurpose::OrgData, Some(org.id));
        let data_key = DataKey::generate(self.rng().as_ref());
        let wrapped = self.key_provider().wrap(&data_key, &aad).await?;
        let stored = StoredKey {
            id: key_id,
            purpose: KeyPurpose::OrgData,
            org: Some(org.id),
            wrapped,
            created_at: now,
        };
        let audit = NewAuditEntry::new(
            now,
            actor,
            Some(org.id),
            AuditKind::OrganizationCreated,
            serde_json::json!({
                "slug": org.slug.as_str(),
                "data_key": key_id.to_string(),
                "time_zone": org.time_zone.as_str(),
                "phone_region": org.phone_region.map(String::from),
            }),
        );
        store.create_organization(&org, &stored, audit).await?;
        Ok(org)
    }

    /// Changes the zone ballot windows are set and shown in (ballots already made keep the
    /// zone they were made in).
    pub async fn set_time_zone(
        &self,
        actor: &Actor,
        org: OrgId,
        time_zone: TimeZoneName,
    ) -> Result<()> {
        actor.authorize_in(org, crate::OrgAction::ManageSettings)?;
        let audit = NewAuditEntry::new(
            self.clock().now(),
            actor,
            Some(org),
            AuditKind::OrganizationChanged,
            serde_json::json!({ "time_zone": time_zone.as_str() }),
        );
        self.store().set_time_zone(org, &time_zone, audit).await
    }

    /// Sets (or clears) the country whose national phone numbers the organization accepts;
    /// numbers already on file are in international form and do not change.
    pub async fn set_phone_region(
        &self,
        actor: &Actor,
        org: OrgId,
        region: Option<PhoneRegion>,
    ) -> Result<()> {
        actor.authorize_in(org, crate::OrgAction::ManageSettings)?;
        let audit = NewAuditEntry::new(
            self.clock().now(),
            actor,
            Some(org),
            AuditKind::OrganizationChanged,
            serde_json::json!({ "phone_region": region.map(String::from) }),
        );
        self.store().set_phone_region(org, region, audit).await
    }

    /// The region for a phone number typed where no organization is known (the SMS sign-in
    /// form): the organizations' region when they all have the same one, else none (the
    /// number then needs its country code).
    pub(crate) async fn instance_phone_region(&self) -> Result<Option<PhoneRegion>> {
        let regions: std::collections::BTreeSet<Option<String>> = self
            .store()
            .organizations()
            .await?
            .into_iter()
            .map(|o| o.phone_region.map(String::from))
            .collect();
        let mut only = regions.into_iter();
        Ok(match (only.next(), only.next()) {
            (Some(Some(one)), None) => PhoneRegion::parse(&one).ok(),
            _ => None,
        })
    }

    /// An organization that must exist (for the core's own use; callers authorize).
    pub(crate) async fn existing_organization(&self, org: OrgId) -> Result<Organization> {
        self.store()
            .organization(org)
            .await?
            .ok_or(Error::NotFound {
                what: "the organization",
            })
    }

    pub async fn organizations(&self, actor: &Actor) -> Result<Vec<Organization>> {
        actor.authorize(Action::ListOrganizations)?;
        self.store().organizations().await
    }

    /// The organization's data key, unwrapped.
    pub(crate) async fn org_data_key(&self, org: OrgId) -> Result<DataKey> {
        let stored = self
            .store()
            .org_data_key(org)
            .await?
            .ok_or(Error::NotFound {
                what: "the organization's data key",
            })?;
        let aad = StoredKey::wrap_aad(stored.id, KeyPurpose::OrgData, Some(org));
        Ok(self.key_provider().unwrap(&stored.wrapped, &aad).await?)
    }

    /// Encrypts a value under the organization's data key, bound to its place (`aad`).
    pub async fn seal_for_org(&self, org: OrgId, aad: &[u8], plaintext: &[u8]) -> Result<Sealed> {
        let key = self.org_data_key(org).await?;
        Ok(key.seal(self.rng().as_ref(), aad, plaintext)?)
    }

    /// Decrypts a value sealed with `seal_for_org`.
    pub async fn open_for_org(&self, org: OrgId, aad: &[u8], sealed: &Sealed) -> Result<Vec<u8>> {
        let key = self.org_data_key(org).await?;
        Ok(key.open(aad, sealed)?)
    }
}
