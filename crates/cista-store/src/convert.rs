//! Conversions between rows and core records, and from database errors to core errors.

use crate::entity::{audit_checkpoint, audit_entry, instance, organization, stored_key};
use cista_core::Error;
use cista_core::ports::{
    Account, AccountStatus, AuditEntry, Channel, Credential, CredentialPurpose, Instance,
    KeyPurpose, Membership, Organization, OutboxMessage, Session, SessionStage, StoredCheckpoint,
    StoredKey, VaultPerson,
};
use cista_crypto::{Digest32, KekId, WrappedKey};
use cista_types::{
    BallotId, KeyId, OrgId, OrgName, OrgSlug, PhoneRegion, Role, SubjectCode, TimeZoneName,
    Timestamp, Tracker, UnitId, UnitLabel, Weight,
};
use sea_orm::{DbErr, SqlErr};
use time::OffsetDateTime;

/// A time as the columns take it: the instant, plus one nanosecond that only SQLite's text keeps.
///
/// PostgreSQL keeps `timestamptz` at microsecond resolution and compares instants. SQLite keeps
/// the text sqlx writes, RFC 3339 with the fraction's trailing zeros dropped and `Z` after it,
/// so within one second text order is not time order (`…:39Z` sorts after `…:39.5Z`, `…:39.12Z`
/// after `…:39.123Z`), and a message due at `.12` was not yet due at `.123`. A last nanosecond
/// digit that is never zero keeps all nine fraction digits (`…:39.120000001Z`), so every text is
/// 30 characters long and text order is time order. `Timestamp` holds whole microseconds, so
/// the nanosecond is free; PostgreSQL truncates it (exactly, for instants after its epoch
/// 2000-01-01, and Cista stores none before) and [`from_db_time`] drops it on the way back.
/// Rows written before this rule are rewritten by the `sortable_times` migration.
pub(crate) fn to_db_time(t: Timestamp) -> OffsetDateTime {
    let at = t.as_offset();
    at.replace_nanosecond(at.nanosecond() + 1).unwrap_or(at)
}

pub(crate) fn from_db_time(t: OffsetDateTime) -> Timestamp {
    Timestamp::from_offset(t)
}

/// A database error as the core's: `StoreUnavailable` (503, worth retrying) when the database
/// could not be reached or the connection broke ([`lost_the_database`]); `BadRequest` (400)
/// when PostgreSQL refused text it cannot store ([`unstorable_text`]), which only a caller's
/// input brings; `Store` (500) for the rest.
pub(crate) fn db_err(e: DbErr) -> Error {
    if lost_the_database(&e) {
        Error::store_unavailable(e)
    } else if unstorable_text(&e) {
        Error::BadRequest {
            reason: "the text holds a character that cannot be stored (a NUL byte)".to_owned(),
        }
    } else {
        Error::store(e)
    }
}

/// Whether PostgreSQL refused a text value for its characters: SQLSTATE `22021`
/// (character_not_in_repertoire: a NUL byte, which PostgreSQL text never holds while SQLite's
/// does) or `22P05` (untranslatable_character). The text came from outside, since Cista's own
/// never holds one: a key in a path, a header, a field no rule of its own checked. Input
/// rules answer first where they exist (a form key that breaks the key rule is `not_found`
/// before any read); this keeps any text they miss a client's error, not a 500.
fn unstorable_text(e: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    let (DbErr::Query(RuntimeErr::SqlxError(cause)) | DbErr::Exec(RuntimeErr::SqlxError(cause))) =
        e
    else {
        return false;
    };
    match cause.as_ref() {
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("22021" | "22P05")),
        _ => false,
    }
}

/// Whether `e` says the database was out of reach rather than that a statement failed: no
/// connection to be had (the pool's, or a new one), a connection that broke during the
/// statement (an I/O or TLS error, sqlx-sqlite's worker gone), PostgreSQL's SQLSTATE class
/// 08 (connection exception) or 57P (the server shutting down, restarting or not yet
/// accepting: `57P01` admin_shutdown, `57P02` crash_shutdown, `57P03` cannot_connect_now), or
/// SQLite's `SQLITE_BUSY` (result code 5 and its extended codes: another connection held the
/// lock past the busy timeout), as a writer that found no turn within its wait already is.
/// A statement that a broken connection fails is one such: sqlx hands back the error of the
/// statement, not of the connection.
/// SQLite's primary result code for a database locked by another connection.
const SQLITE_BUSY: i32 = 5;

pub(crate) fn lost_the_database(e: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Query(RuntimeErr::SqlxError(cause)) | DbErr::Exec(RuntimeErr::SqlxError(cause)) => {
            match cause.as_ref() {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                sqlx::Error::Database(db) => {
                    let code = db.code().unwrap_or_default();
                    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                        // Extended result codes keep the primary code in the low byte.
                        code.parse::<i32>().is_ok_and(|c| c & 0xff == SQLITE_BUSY)
                    } else {
                        code.starts_with("08") || code.starts_with("57P")
                    }
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// A unique-constraint violation becomes a `conflict` with the given message.
pub(crate) fn conflict_or(e: DbErr, message: &str) -> Error {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => Error::Conflict(message.to_owned()),
        _ => db_err(e),
    }
}

pub(crate) fn corrupt(what: &str) -> Error {
    Error::Integrity(format!("a stored {what} is malformed"))
}

pub(crate) fn instance(m: instance::Model) -> Result<Instance, Error> {
    Ok(Instance {
        id: m.id,
        created_at: from_db_time(m.created_at),
        audit_origin: m.audit_origin,
        audit_public_key: m.audit_public_key,
        audit_signing_key: KeyId::from_i64(m.audit_signing_key),
    })
}

pub(crate) fn organization(m: organization::Model) -> Result<Organization, Error> {
    Ok(Organization {
        id: OrgId::from_i64(m.id),
        slug: OrgSlug::parse(&m.slug).map_err(|_| corrupt("organization slug"))?,
        name: OrgName::from_stored(&m.name).map_err(|_| corrupt("organization name"))?,
        time_zone: TimeZoneName::parse(&m.time_zone).map_err(|_| corrupt("time zone"))?,
        phone_region: m
            .phone_region
            .map(|r| PhoneRegion::parse(&r).map_err(|_| corrupt("phone region")))
            .transpose()?,
        created_at: from_db_time(m.created_at),
    })
}

pub(crate) fn stored_key(m: stored_key::Model) -> Result<StoredKey, Error> {
    Ok(StoredKey {
        id: KeyId::from_i64(m.id),
        purpose: KeyPurpose::parse(&m.purpose).ok_or_else(|| corrupt("key purpose"))?,
        org: m.org_id.map(OrgId::from_i64),
        wrapped: WrappedKey {
            kek: KekId::new(m.kek_id),
            ciphertext: m.wrapped,
        },
        created_at: from_db_time(m.created_at),
    })
}

pub(crate) fn audit_entry(m: audit_entry::Model) -> Result<AuditEntry, Error> {
    Ok(AuditEntry {
        seq: u64::try_from(m.seq).map_err(|_| corrupt("audit sequence number"))?,
        at: from_db_time(m.at),
        actor: m.actor,
        org: m.org_id.map(OrgId::from_i64),
        kind: m.kind,
        details: m.details,
        // A hash of the wrong length cannot match anything; verification names the entry.
        leaf_hash: Digest32::from_slice(&m.leaf_hash).unwrap_or(Digest32([0; 32])),
    })
}

pub(crate) fn checkpoint(m: audit_checkpoint::Model) -> Result<StoredCheckpoint, Error> {
    Ok(StoredCheckpoint {
        size: u64::try_from(m.tree_size).map_err(|_| corrupt("checkpoint size"))?,
        root: Digest32::from_slice(&m.root_hash).ok_or_else(|| corrupt("checkpoint root"))?,
        note: m.note,
        signed_at: from_db_time(m.signed_at),
    })
}

pub(crate) fn digest(bytes: &[u8], what: &str) -> Result<Digest32, Error> {
    Digest32::from_slice(bytes).ok_or_else(|| corrupt(what))
}

fn time_opt(t: Option<OffsetDateTime>) -> Option<Timestamp> {
    t.map(from_db_time)
}

pub(crate) fn account(m: crate::entity::account::Model) -> Result<Account, Error> {
    Ok(Account {
        subject: SubjectCode::from_i64(m.subject),
        status: AccountStatus::parse(&m.status).ok_or_else(|| corrupt("account status"))?,
        password_hash: m.password_hash,
        password_changed_at: time_opt(m.password_changed_at),
        totp_secret: m.totp_secret,
        totp_pending: m.totp_pending,
        totp_last_step: m.totp_last_step,
        failed_attempts: m.failed_attempts,
        locked_until: time_opt(m.locked_until),
        created_at: from_db_time(m.created_at),
    })
}

pub(crate) fn membership(m: crate::entity::membership::Model) -> Result<Membership, Error> {
    Ok(Membership {
        org: OrgId::from_i64(m.org_id),
        subject: SubjectCode::from_i64(m.subject),
        role: Role::parse(&m.role).map_err(|_| corrupt("role"))?,
        created_at: from_db_time(m.created_at),
    })
}

pub(crate) fn credential(m: crate::entity::credential::Model) -> Result<Credential, Error> {
    Ok(Credential {
        token_hash: digest(&m.token_hash, "credential hash")?,
        purpose: CredentialPurpose::parse(&m.purpose)
            .ok_or_else(|| corrupt("credential purpose"))?,
        subject: SubjectCode::from_i64(m.subject),
        org: m.org_id.map(OrgId::from_i64),
        code_hash: m.code_hash.map(|c| digest(&c, "code hash")).transpose()?,
        created_at: from_db_time(m.created_at),
        expires_at: from_db_time(m.expires_at),
        used_at: time_opt(m.used_at),
        attempts: m.attempts,
        role: m
            .role
            .map(|r| Role::parse(&r).map_err(|_| corrupt("credential role")))
            .transpose()?,
    })
}

pub(crate) fn session(m: crate::entity::session::Model) -> Result<Session, Error> {
    Ok(Session {
        id_hash: digest(&m.id_hash, "session hash")?,
        subject: SubjectCode::from_i64(m.subject),
        stage: SessionStage::parse(&m.stage).ok_or_else(|| corrupt("session stage"))?,
        created_at: from_db_time(m.created_at),
        last_seen_at: from_db_time(m.last_seen_at),
        expires_at: from_db_time(m.expires_at),
    })
}

pub(crate) fn message(m: crate::entity::outbox::Model) -> Result<OutboxMessage, Error> {
    Ok(OutboxMessage {
        id: m.id,
        channel: Channel::parse(&m.channel).ok_or_else(|| corrupt("message channel"))?,
        recipient: SubjectCode::from_i64(m.recipient),
        template: m.template,
        params: m.params,
        created_at: from_db_time(m.created_at),
        attempts: m.attempts,
        next_attempt_at: from_db_time(m.next_attempt_at),
        delivered_at: time_opt(m.delivered_at),
        failed_at: time_opt(m.failed_at),
        last_error: m.last_error,
    })
}

fn index(bytes: Option<Vec<u8>>, what: &str) -> Result<Option<[u8; 32]>, Error> {
    bytes
        .map(|b| <[u8; 32]>::try_from(b.as_slice()).map_err(|_| corrupt(what)))
        .transpose()
}

pub(crate) fn vault_person(m: crate::entity::vault_person::Model) -> Result<VaultPerson, Error> {
    Ok(VaultPerson {
        subject: SubjectCode::from_i64(m.subject),
        kek_id: m.kek_id,
        wrapped_key: m.wrapped_key,
        fields: m.fields,
        email_index: index(m.email_index, "email index")?,
        phone_index: index(m.phone_index, "phone index")?,
        created_at: from_db_time(m.created_at),
        updated_at: from_db_time(m.updated_at),
    })
}

// --- voting ------------------------------------------------------------------------------

use cista_core::ports::{
    BallotStatus, BoxEntry, ConsentStatus, EligibleUnit, Participation, Refusal, StoredBallot,
    Unit, UnitOwner, VoteChannel, VoteOrigin,
};

pub(crate) fn unit(m: crate::entity::unit::Model) -> Result<Unit, Error> {
    Ok(Unit {
        id: UnitId::from_i64(m.id),
        org: OrgId::from_i64(m.org_id),
        label: UnitLabel::from_stored(&m.label).map_err(|_| corrupt("unit label"))?,
        weight: Weight::from_micros(m.weight_micros),
        consent: ConsentStatus::parse(&m.consent).ok_or_else(|| corrupt("consent"))?,
        consent_at: time_opt(m.consent_at),
        consent_method: m.consent_method,
        created_at: from_db_time(m.created_at),
        retired_at: time_opt(m.retired_at),
    })
}

pub(crate) fn unit_owner(m: crate::entity::unit_owner::Model) -> UnitOwner {
    UnitOwner {
        unit: UnitId::from_i64(m.unit_id),
        subject: SubjectCode::from_i64(m.subject),
        designated: m.designated,
    }
}

pub(crate) fn ballot(m: crate::entity::ballot::Model) -> Result<StoredBallot, Error> {
    Ok(StoredBallot {
        id: BallotId::from_i64(m.id),
        org: OrgId::from_i64(m.org_id),
        status: BallotStatus::parse(&m.status).ok_or_else(|| corrupt("ballot status"))?,
        definition: m.definition,
        definition_hash: digest(&m.definition_hash, "ballot definition hash")?,
        created_at: from_db_time(m.created_at),
        published_at: time_opt(m.published_at),
        closed_at: time_opt(m.closed_at),
        cancelled_at: time_opt(m.cancelled_at),
        replaces: m.replaces.map(BallotId::from_i64),
        closes_at: from_db_time(m.closes_at),
        shuffled_count: m.shuffled_count,
        results: m.results,
        checkpoint: m.checkpoint,
    })
}

pub(crate) fn eligible(m: crate::entity::ballot_roll::Model) -> Result<EligibleUnit, Error> {
    Ok(EligibleUnit {
        ballot: BallotId::from_i64(m.ballot_id),
        unit: UnitId::from_i64(m.unit_id),
        label: UnitLabel::from_stored(&m.label).map_err(|_| corrupt("unit label"))?,
        weight: Weight::from_micros(m.weight_micros),
    })
}

fn origin(ip: Option<String>, user_agent: Option<String>, staff: Option<i64>) -> VoteOrigin {
    VoteOrigin {
        ip,
        user_agent,
        staff: staff.map(SubjectCode::from_i64),
    }
}

pub(crate) fn participation(
    m: crate::entity::participation::Model,
) -> Result<Participation, Error> {
    Ok(Participation {
        ballot: BallotId::from_i64(m.ballot_id),
        unit: UnitId::from_i64(m.unit_id),
        channel: VoteChannel::parse(&m.channel).ok_or_else(|| corrupt("vote channel"))?,
        voter: m.voter_subject.map(SubjectCode::from_i64),
        origin: origin(m.ip, m.user_agent, m.staff_subject),
        at: from_db_time(m.at),
        roll_weight: Weight::from_micros(m.roll_weight_micros),
        submission: m
            .submission_sha256
            .as_deref()
            .and_then(Digest32::from_slice),
    })
}

pub(crate) fn box_entry(m: crate::entity::ballot_box::Model) -> BoxEntry {
    BoxEntry {
        ballot: BallotId::from_i64(m.ballot_id),
        tracker: Tracker::from_i64(m.tracker),
        weight: Weight::from_micros(m.weight_micros),
        sealed_choices: m.choices,
        unit: m.unit_id.map(UnitId::from_i64),
        cast_at: time_opt(m.cast_at),
    }
}

pub(crate) fn refusal(m: crate::entity::vote_refusal::Model) -> Result<Refusal, Error> {
    Ok(Refusal {
        id: m.id,
        ballot: BallotId::from_i64(m.ballot_id),
        unit: UnitId::from_i64(m.unit_id),
        channel: VoteChannel::parse(&m.channel).ok_or_else(|| corrupt("vote channel"))?,
        voter: m.voter_subject.map(SubjectCode::from_i64),
        origin: origin(m.ip, m.user_agent, m.staff_subject),
        at: from_db_time(m.at),
        reason: m.reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::format_description::well_known::Rfc3339;

    /// The text sqlx writes for SQLite (RFC 3339) sorts as the instants do, and the round trip
    /// gives the same instant back.
    #[test]
    fn stored_time_text_sorts_in_time_order_and_round_trips() {
        let times = [
            "2026-11-22T14:03:59.999999Z",
            "2026-11-22T14:04:00Z",
            "2026-11-22T14:04:00.000001Z",
            "2026-11-22T14:04:00.1Z",
            "2026-11-22T14:04:00.100001Z",
            "2026-11-22T14:04:00.12Z",
            "2026-11-22T14:04:00.123Z",
            "2026-11-22T14:04:01Z",
        ]
        .map(|t| Timestamp::parse_rfc3339(t).unwrap());
        let texts = times.map(|t| to_db_time(t).format(&Rfc3339).unwrap());
        for pair in texts.windows(2) {
            assert!(pair[0] < pair[1], "{} sorts before {}", pair[0], pair[1]);
            assert_eq!(pair[0].len(), 30, "{}", pair[0]);
        }
        for t in times {
            assert_eq!(from_db_time(to_db_time(t)), t);
        }
    }
}
