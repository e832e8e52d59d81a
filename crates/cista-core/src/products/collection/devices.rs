//! Collectors' devices (issue 13, item 2). A collector's phone signs in with a **device
//! token**, never with the collector's password. Staff (or the signed-in collector) issue a
//! device: Cista makes a one-time **pairing code**, shown as a QR code that opens Cista
//! Collect, valid for minutes; the phone exchanges it once for a device token (256 random
//! bits, stored only as its SHA-256, like every Cista token) that expires after the
//! lifetime chosen at issue (30 days unless told otherwise). The token is bound to one person,
//! one organization and the device's name; it acts as that person with the `Device` access,
//! which allows filling records and reading one's own, nothing else, and only while the
//! person is still a member whose role fills records. Every use is counted and the last one
//! shown; issuing, pairing and revoking (one device, or all of a person's) are audited.

use crate::platform::actor::{Access, PersonActor};
use crate::platform::audit::NewAuditEntry;
use crate::ports::AccountStatus;
use crate::products::collection::audit::CollectionAuditKind;
use crate::{Actor, Cista, Error, OrgAction, Result};
use cista_crypto::Digest32;
use cista_crypto::token::{new_token, token_hash};
use cista_types::{OrgId, Secret, SubjectCode, Timestamp};
use serde::Serialize;
use std::collections::BTreeMap;
use time::Duration;

use super::actions::CollectionAction;

/// What a device token's text starts with (a secret scanner can tell it from an app token).
pub const DEVICE_TOKEN_PREFIX: &str = "cista_dt_";
/// What a pairing code's text starts with.
pub const PAIRING_CODE_PREFIX: &str = "cista_pc_";
/// A device's lifetime when none is asked for, in days.
pub const DEFAULT_DEVICE_DAYS: u32 = 30;
/// The longest lifetime a device may be given, in days.
pub const MAX_DEVICE_DAYS: u32 = 365;
/// How long a pairing code stays usable when none is asked for, in minutes.
pub const DEFAULT_PAIRING_MINUTES: u32 = 15;
/// The longest a pairing code may stay usable, in minutes (a week: printed demo links).
pub const MAX_PAIRING_MINUTES: u32 = 7 * 24 * 60;
/// The longest device name, in characters.
pub const MAX_DEVICE_NAME: usize = 80;

crate::platform::public_id::public_id!(
    /// A device's public id (not a secret), shown as `dv-` and 16 hexadecimal digits.
    DeviceId,
    "dv-",
    "device",
    "a device id"
);

/// A device as stored: the hash of its current secret, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    pub id: DeviceId,
    pub org: OrgId,
    /// The collector it acts for.
    pub subject: SubjectCode,
    /// What the phone called itself when it paired ("" while pending).
    pub name: String,
    /// The pairing code's hash while pending, the device token's once paired.
    #[serde(skip)]
    pub secret_hash: Digest32,
    /// Who issued it, as the audit log names actors.
    pub created_by: String,
    pub created_at: Timestamp,
    /// The pairing code is refused from this moment.
    pub pairing_expires_at: Timestamp,
    /// The token's lifetime from pairing, in days.
    pub lifetime_days: u32,
    pub paired_at: Option<Timestamp>,
    /// Set at pairing: `paired_at` plus the lifetime.
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    /// How many API calls the token has made.
    pub use_count: u64,
}

/// Where a device stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Issued; its pairing code has not been used yet.
    Pending,
    /// Never paired, and its pairing code has expired.
    NeverPaired,
    Active,
    Expired,
    Revoked,
}

impl DeviceState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceState::Pending => "waiting to be paired",
            DeviceState::NeverPaired => "never paired",
            DeviceState::Active => "active",
            DeviceState::Expired => "expired",
            DeviceState::Revoked => "revoked",
        }
    }
}

impl Device {
    pub fn state(&self, now: Timestamp) -> DeviceState {
        if self.revoked_at.is_some() {
            return DeviceState::Revoked;
        }
        match self.expires_at {
            None if self.pairing_expires_at <= now => DeviceState::NeverPaired,
            None => DeviceState::Pending,
            Some(at) if at <= now => DeviceState::Expired,
            Some(_) => DeviceState::Active,
        }
    }
}

/// What staff (or the collector) ask for when they issue a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRequest {
    /// The collector the device will act for.
    pub collector: SubjectCode,
    /// 1 to `MAX_DEVICE_DAYS`.
    pub lifetime_days: u32,
    /// 1 to `MAX_PAIRING_MINUTES`.
    pub pairing_minutes: u32,
}

impl DeviceRequest {
    /// A request with the defaults: 30 days, a code valid for 15 minutes.
    pub fn for_collector(collector: SubjectCode) -> Self {
        Self {
            collector,
            lifetime_days: DEFAULT_DEVICE_DAYS,
            pairing_minutes: DEFAULT_PAIRING_MINUTES,
        }
    }

    fn check(&self) -> Result<()> {
        if !(1..=MAX_DEVICE_DAYS).contains(&self.lifetime_days) {
            return Err(Error::invalid(
                "lifetime_days",
                format!("a device token lives from 1 to {MAX_DEVICE_DAYS} days"),
            ));
        }
        if !(1..=MAX_PAIRING_MINUTES).contains(&self.pairing_minutes) {
            return Err(Error::invalid(
                "pairing_minutes",
                format!("a pairing code lasts from 1 to {MAX_PAIRING_MINUTES} minutes"),
            ));
        }
        Ok(())
    }
}

/// A device just issued: its record and the pairing code to show once (never stored; it
/// never prints).
#[derive(Debug, Clone)]
pub struct NewPairing {
    pub device: Device,
    /// `cista_pc_` and 43 base64url characters.
    pub code: Secret,
}

/// A device just paired: its record and the token for the phone to keep (never stored; it
/// never prints).
#[derive(Debug, Clone)]
pub struct PairedDevice {
    pub device: Device,
    /// `cista_dt_` and 43 base64url characters.
    pub token: Secret,
}

/// The caller of an API route by device token, once checked.
#[derive(Debug, Clone)]
pub struct DeviceCaller {
    /// The collector, with `Access::Device`.
    pub actor: Actor,
    pub device: Device,
}

/// The device's name as given, trimmed: 1 to 80 characters, no control characters.
fn device_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_DEVICE_NAME
        || name.chars().any(char::is_control)
    {
        return Err(Error::invalid(
            "device_name",
            format!("name the phone in 1 to {MAX_DEVICE_NAME} characters, on one line"),
        ));
    }
    Ok(name.to_owned())
}

/// The actor a device acts as: its collector, holding `role` in its organization only.
fn device_actor(device: &Device, role: cista_types::Role) -> Actor {
    Actor::Person(PersonActor {
        subject: device.subject,
        access: Access::Device(device.id),
        roles: BTreeMap::from([(device.org, role)]),
    })
}

impl Cista {
    /// Whether `actor` may act on `subject`'s devices in `org`: staff who manage devices, or
    /// the collector themself (signed in with a password, never with a device).
    fn authorize_devices_of(&self, actor: &Actor, org: OrgId, subject: SubjectCode) -> Result<()> {
        let own = actor
            .person()
            .is_some_and(|p| p.subject == subject && p.access == Access::Full);
        if own && actor.may_in(org, OrgAction::SubmitForms) {
            return Ok(());
        }
        actor.authorize_in(org, CollectionAction::ManageDevices)
    }

    /// Whether the staff member who issued `pending` may still give `role`, the role its
    /// collector holds now: `issue_device`'s rule, checked again when the phone pairs, since
    /// the collector may have been made an owner in between (an administrator's code then
    /// pairs nothing). The collector's own codes, and the operator's, always may.
    async fn issuer_may_give(&self, pending: &Device, role: cista_types::Role) -> Result<bool> {
        let Some(issuer) = pending
            .created_by
            .strip_prefix("subject:")
            .and_then(|code| SubjectCode::parse(code).ok())
        else {
            return Ok(true);
        };
        if issuer == pending.subject {
            return Ok(true);
        }
        Ok(self
            .store()
            .membership(pending.org, issuer)
            .await?
            .is_some_and(|m| crate::platform::actor::role_may(m.role, OrgAction::ChangeRole(role))))
    }

    /// The role `subject` holds in `org`, if they are a live member whose role fills records.
    async fn collecting_role(
        &self,
        org: OrgId,
        subject: SubjectCode,
    ) -> Result<Option<cista_types::Role>> {
        let Some(membership) = self.store().membership(org, subject).await? else {
            return Ok(None);
        };
        let live =
            self.store().account(subject).await?.is_some_and(|a| {
                matches!(a.status, AccountStatus::Active | AccountStatus::Invited)
            });
        let fills = crate::platform::actor::role_may(membership.role, OrgAction::SubmitForms);
        Ok((live && fills).then_some(membership.role))
    }

    /// Issues a device for a collector of `org` and returns its one-time pairing code (shown
    /// once, as a QR code). Refused (`forbidden`) unless the actor is the collector, or
    /// manages devices and may give the collector's role; `invalid_input` when the person does not fill records here or the lifetimes
    /// are out of range.
    pub async fn issue_device(
        &self,
        actor: &Actor,
        org: OrgId,
        request: &DeviceRequest,
    ) -> Result<NewPairing> {
        self.authorize_devices_of(actor, org, request.collector)?;
        request.check()?;
        let Some(role) = self.collecting_role(org, request.collector).await? else {
            return Err(Error::invalid(
                "collector",
                "this person does not fill records here: give them the collector role first",
            ));
        };
        // A phone acts as its collector, and staff read its pairing code: so staff pair one
        // only for someone whose role they could give (an administrator never for an owner,
        // as with roles), or the phone would let them act as that person.
        if actor
            .person()
            .is_none_or(|p| p.subject != request.collector)
        {
            actor.authorize_in(org, OrgAction::ChangeRole(role))?;
        }
        let now = self.clock().now();
        let fresh = new_token(self.rng().as_ref());
        let mut id = [0u8; 8];
        self.rng().fill(&mut id);
        let device = Device {
            id: DeviceId(i64::from_be_bytes(id)),
            org,
            subject: request.collector,
            name: String::new(),
            secret_hash: fresh.hash,
            created_by: actor.audit_name(),
            created_at: now,
            pairing_expires_at: now.plus(Duration::minutes(i64::from(request.pairing_minutes))),
            lifetime_days: request.lifetime_days,
            paired_at: None,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            use_count: 0,
        };
        let mut tx = self.store().begin().await?;
        tx.collection().insert_device(&device).await?;
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(org),
            CollectionAuditKind::DeviceIssued,
            serde_json::json!({
                "device": device.id,
                "collector": device.subject.to_string(),
                "lifetime_days": device.lifetime_days,
                "pairing_expires_at": device.pairing_expires_at.to_string(),
            }),
        ))
        .await?;
        Ok(NewPairing {
            device,
            code: Secret::new(format!("{PAIRING_CODE_PREFIX}{}", fresh.secret)),
        })
    }

    /// Exchanges a pairing code for the device's token, once: `token_invalid` when the code
    /// is malformed, unknown, used, expired or revoked (without saying which), or when its
    /// collector no longer fills records here; `invalid_input` for a bad device name.
    pub async fn pair_device(&self, code: &str, name: &str) -> Result<PairedDevice> {
        let name = device_name(name)?;
        let pairing_hash = code
            .strip_prefix(PAIRING_CODE_PREFIX)
            .and_then(token_hash)
            .ok_or(Error::TokenInvalid)?;
        let pending = self
            .store()
            .collection()
            .device_by_hash(&pairing_hash)
            .await?
            .ok_or(Error::TokenInvalid)?;
        let now = self.clock().now();
        if pending.state(now) != DeviceState::Pending {
            return Err(Error::TokenInvalid);
        }
        let role = self
            .collecting_role(pending.org, pending.subject)
            .await?
            .ok_or(Error::TokenInvalid)?;
        if !self.issuer_may_give(&pending, role).await? {
            return Err(Error::TokenInvalid);
        }
        let fresh = new_token(self.rng().as_ref());
        let expires_at = now.plus(Duration::days(i64::from(pending.lifetime_days)));
        let mut tx = self.store().begin().await?;
        let device = tx
            .collection()
            .pair_device(&pairing_hash, &fresh.hash, &name, now, expires_at)
            .await?
            .ok_or(Error::TokenInvalid)?;
        tx.commit(NewAuditEntry::new(
            now,
            &device_actor(&device, role),
            Some(device.org),
            CollectionAuditKind::DevicePaired,
            serde_json::json!({
                "device": device.id,
                "expires_at": expires_at.to_string(),
            }),
        ))
        .await?;
        Ok(PairedDevice {
            device,
            token: Secret::new(format!("{DEVICE_TOKEN_PREFIX}{}", fresh.secret)),
        })
    }

    /// The live device a presented bearer token is, and the collector it acts as:
    /// `token_invalid` (401) when the token is malformed, unknown, expired or revoked, or its
    /// collector no longer fills records in its organization. The use is counted.
    pub async fn authenticate_device(&self, presented: &str) -> Result<DeviceCaller> {
        let hash = presented
            .strip_prefix(DEVICE_TOKEN_PREFIX)
            .and_then(token_hash)
            .ok_or(Error::BearerTokenInvalid)?;
        let device = self
            .store()
            .collection()
            .device_by_hash(&hash)
            .await?
            .ok_or(Error::BearerTokenInvalid)?;
        let now = self.clock().now();
        if device.state(now) != DeviceState::Active {
            return Err(Error::BearerTokenInvalid);
        }
        let role = self
            .collecting_role(device.org, device.subject)
            .await?
            .ok_or(Error::BearerTokenInvalid)?;
        let mut tx = self.store().begin().await?;
        tx.collection().count_device_use(device.id, now).await?;
        tx.commit_housekeeping().await?;
        Ok(DeviceCaller {
            actor: device_actor(&device, role),
            device,
        })
    }

    /// `org`'s devices, newest first: every collector's for staff who manage devices, or
    /// `subject`'s own for the collector.
    pub async fn devices(
        &self,
        actor: &Actor,
        org: OrgId,
        subject: Option<SubjectCode>,
    ) -> Result<Vec<Device>> {
        match subject {
            Some(s) => self.authorize_devices_of(actor, org, s)?,
            None => actor.authorize_in(org, CollectionAction::ManageDevices)?,
        }
        self.store().collection().devices_of(org, subject).await
    }

    /// Revokes device `id` of `collector` in `org` at once. Returns false if it was revoked
    /// already (nothing is written then); `not_found` if `org` has no such device or it is
    /// another collector's (a page reached it through the wrong person: nothing changes).
    pub async fn revoke_device(
        &self,
        actor: &Actor,
        org: OrgId,
        collector: SubjectCode,
        id: DeviceId,
    ) -> Result<bool> {
        // The right first, so that the answer tells nobody whose a device is.
        self.authorize_devices_of(actor, org, collector)?;
        let device = self
            .store()
            .collection()
            .device(org, id)
            .await?
            .filter(|d| d.subject == collector)
            .ok_or(Error::NotFound {
                what: "that device",
            })?;
        let now = self.clock().now();
        let mut tx = self.store().begin().await?;
        match tx.collection().revoke_device(org, id, now).await? {
            None => Err(Error::NotFound {
                what: "that device",
            }),
            Some(false) => Ok(false),
            Some(true) => {
                tx.commit(NewAuditEntry::new(
                    now,
                    actor,
                    Some(org),
                    CollectionAuditKind::DeviceRevoked,
                    serde_json::json!({ "device": id, "collector": device.subject.to_string() }),
                ))
                .await?;
                Ok(true)
            }
        }
    }

    /// Revokes every live device of `subject` in `org` at once (a lost bag of phones, a
    /// collector who leaves); returns how many. Audited when any was live. `not_found` when
    /// none was and the subject is not a member of `org`.
    pub async fn revoke_devices_of(
        &self,
        actor: &Actor,
        org: OrgId,
        subject: SubjectCode,
    ) -> Result<u64> {
        self.authorize_devices_of(actor, org, subject)?;
        let now = self.clock().now();
        let mut tx = self.store().begin().await?;
        let revoked = tx.collection().revoke_devices_of(org, subject, now).await?;
        if revoked == 0 {
            tx.commit_housekeeping().await?;
            // Nobody of this organization (a subject code from elsewhere, or made up): said
            // as for a device of the wrong person, not as "no phone was signed in".
            if self.store().membership(org, subject).await?.is_none() {
                return Err(Error::NotFound {
                    what: "this person",
                });
            }
            return Ok(0);
        }
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(org),
            CollectionAuditKind::DeviceRevoked,
            serde_json::json!({ "collector": subject.to_string(), "devices": revoked }),
        ))
        .await?;
        Ok(revoked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_parse_back() {
        for raw in [0, 1, -1, i64::MAX, i64::MIN] {
            let id = DeviceId(raw);
            assert_eq!(id.to_string().parse::<DeviceId>().unwrap(), id);
        }
        for bad in [
            "",
            "dv-",
            "dv-12",
            "at-0123456789abcdef",
            "dv-zzzzzzzzzzzzzzzz",
        ] {
            assert!(bad.parse::<DeviceId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_lifetimes_are_checked() {
        assert_eq!(device_name("  Pixel 7 ").unwrap(), "Pixel 7");
        for bad in ["", "  ", "a\nb", &"x".repeat(81)] {
            assert!(device_name(bad).is_err(), "{bad:?}");
        }
        let ok = DeviceRequest::for_collector(SubjectCode::from_i64(1));
        assert!(ok.check().is_ok());
        for (days, minutes) in [(0, 15), (366, 15), (30, 0), (30, MAX_PAIRING_MINUTES + 1)] {
            let bad = DeviceRequest {
                lifetime_days: days,
                pairing_minutes: minutes,
                ..ok
            };
            assert!(bad.check().is_err(), "{days} {minutes}");
        }
    }
}
