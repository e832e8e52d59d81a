//! Organizations (tenants). Creating one also creates its data key, wrapped by the key
//! provider, in the same transaction as the audit entry.

use crate::platform::audit::{AuditKind, NewAuditEntry};
use crate::ports::{KeyPurpose, Organization, StoredKey, StoredSubmission};
use crate::{Action, Actor, Cista, Error, Result};
use cista_crypto::{DataKey, Sealed};
use cista_types::{KeyId, OrgId, OrgName, OrgSlug, PhoneRegion, Role, TimeZoneName};

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
        let regions = self.store().organization_phone_regions(2).await?;
        Ok(match regions.as_slice() {
            [Some(one)] => PhoneRegion::parse(one).ok(),
            _ => None,
        })
    }

    /// The zone to show times in to `actor`: their organizations' zone when they all share
    /// one; else (a visitor, or someone in organizations of several zones) the zone every
    /// organization here shares; else UTC. Pages and messages print the zone's abbreviation
    /// beside each time, so the reader always knows which one it is.
    pub async fn time_zone_for(&self, actor: &Actor) -> Result<TimeZoneName> {
        let mine: Vec<OrgId> = actor
            .person()
            .map(|p| p.roles.keys().copied().collect())
            .unwrap_or_default();
        self.time_zone_among(&mine).await
    }

    /// The zone for times in messages to `subject` (as `time_zone_for` them).
    pub(crate) async fn time_zone_of(
        &self,
        subject: cista_types::SubjectCode,
    ) -> Result<TimeZoneName> {
        let mine: Vec<OrgId> = self
            .store()
            .memberships_of(subject)
            .await?
            .into_iter()
            .map(|m| m.org)
            .collect();
        self.time_zone_among(&mine).await
    }

    /// Reads at most two zones for `mine`, then for everyone: never every organization.
    async fn time_zone_among(&self, mine: &[OrgId]) -> Result<TimeZoneName> {
        let only = |zones: Vec<String>| match zones.as_slice() {
            [one] => TimeZoneName::parse(one).ok(),
            _ => None,
        };
        if !mine.is_empty() {
            let theirs = self.store().organization_time_zones(Some(mine), 2).await?;
            if let Some(zone) = only(theirs) {
                return Ok(zone);
            }
        }
        let everyone = self.store().organization_time_zones(None, 2).await?;
        Ok(only(everyone).unwrap_or_else(TimeZoneName::utc))
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

    /// The organizations where a signed-in person holds a staff role, with that role, by
    /// name: what the staff portal's front page lists.
    pub async fn staff_organizations(&self, actor: &Actor) -> Result<Vec<(Organization, Role)>> {
        let person = actor.person().ok_or(Error::Unauthenticated)?;
        let mut out = Vec::new();
        for (org, role) in &person.roles {
            if !role.is_staff() || !actor.may_in(*org, crate::OrgAction::ViewOrganization) {
                continue;
            }
            if let Some(found) = self.store().organization(*org).await? {
                out.push((found, *role));
            }
        }
        out.sort_by(|a, b| a.0.name.as_str().cmp(b.0.name.as_str()));
        Ok(out)
    }

    pub async fn organizations(&self, actor: &Actor) -> Result<Vec<Organization>> {
        actor.authorize(Action::ListOrganizations)?;
        self.store().organizations().await
    }

    /// The organization's data key, unwrapped.
    pub(crate) async fn org_data_key(&self, org: OrgId) -> Result<DataKey> {
        let stored = self.store().org_data_key(org).await?;
        self.unwrap_org_data_key(org, stored).await
    }

    /// `stored`, the organization's wrapped data key, unwrapped by the key provider. Errors:
    /// `NotFound` when there is none, the provider's when it cannot unwrap it.
    pub(crate) async fn unwrap_org_data_key(
        &self,
        org: OrgId,
        stored: Option<StoredKey>,
    ) -> Result<DataKey> {
        let stored = stored.ok_or(Error::NotFound {
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

/// A stored submission's payload, opened with its organization's data key, unwrapped by the
/// caller: a list of many submissions unwraps the key once (through a PKCS#11 token each
/// unwrap is a call to the token), not once a row. No check of who asks: callers do that.
pub(crate) fn open_payload_with(
    key: &DataKey,
    stored: &StoredSubmission,
) -> Result<serde_json::Value> {
    let plain = key.open(
        &super::intake::payload_aad(stored.org, stored.id),
        &Sealed::from_bytes(stored.sealed_payload.clone()),
    )?;
    serde_json::from_slice(&plain).map_err(|e| Error::Integrity(e.to_string()))
}
