//! Receipts: what a voter takes away from a cast, the signed part that names the ballot, the
//! tracker and the checkpoint (never the unit or the choices), and the short-lived sealed copy
//! that lets the voter's browser show it again.

use crate::ports::VoteChannel;
use crate::products::voting::Ballot;
use crate::products::voting::bundle::checkpoint_origin;
use crate::products::voting::definition::{Choices, Secrecy};
use crate::{Actor, Cista, Error, Result};
use cista_crypto::Digest32;
use cista_types::{BallotId, Timestamp, Tracker, UnitId};

/// What the voter takes away: shown once, never stored.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub ballot: BallotId,
    pub ballot_title: String,
    pub organization: String,
    pub unit: String,
    pub tracker: Tracker,
    pub cast_at: Timestamp,
    /// `cast_at` in the ballot's time zone, with seconds.
    pub cast_at_local: String,
    pub channel: VoteChannel,
    pub secrecy: Secrecy,
    /// Each contest's title and the chosen option(s).
    pub choices: Vec<(String, Vec<String>)>,
    pub definition_hash: Digest32,
    /// The origin of the signed checkpoint the bulletin will publish at the close, under
    /// which the tracker is to be found.
    pub checkpoint_origin: String,
    /// The signed part (checkable with the instance's verifier key): ballot, tracker and
    /// checkpoint origin, never the unit or the choices.
    pub signed: String,
    /// This answers a repeat of the submission that cast the vote: the receipt is the first
    /// cast's.
    pub repeated: bool,
    /// The choices as cast, for sealing the receipt into the voter's browser.
    pub answers: Choices,
}

/// How long a receipt sealed into the voter's browser can be shown again (a reload, the back
/// button) before it is gone for good, as a receipt shown once should be.
pub const RECEIPT_TTL: time::Duration = time::Duration::minutes(30);

/// What a sealed receipt carries: enough to show it again, nothing the ballot does not say.
#[derive(serde::Serialize, serde::Deserialize)]
struct SealedReceipt {
    tracker: i64,
    cast_at: i64,
    channel: VoteChannel,
    answers: Choices,
}

impl Cista {
    /// A receipt for a cast: what the voter reads, and the signed part.
    pub(super) fn receipt(
        &self,
        ballot: &Ballot,
        organization: String,
        unit: &str,
        (tracker, cast_at, channel): (Tracker, Timestamp, VoteChannel),
        choices: &Choices,
        repeated: bool,
    ) -> Receipt {
        let checkpoint_origin =
            checkpoint_origin(&self.instance().audit_origin, &ballot.id().to_string());
        let signed = self.sign_receipt(ballot, &organization, tracker, &checkpoint_origin);
        Receipt {
            ballot: ballot.id(),
            ballot_title: ballot.definition.title.clone(),
            organization,
            unit: unit.to_owned(),
            tracker,
            cast_at,
            cast_at_local: ballot.definition.time_zone.format_precise(cast_at),
            channel,
            secrecy: ballot.definition.secrecy,
            choices: choices.describe(&ballot.definition),
            definition_hash: ballot.stored.definition_hash,
            checkpoint_origin,
            signed,
            repeated,
            answers: choices.clone(),
        }
    }

    /// Seals a receipt for the voter's browser (a short-lived cookie bound to the session), so
    /// the page after the cast's redirect can show it while the server keeps no copy.
    pub fn seal_receipt(&self, receipt: &Receipt, unit: UnitId, session: &str) -> Result<String> {
        let parts = SealedReceipt {
            tracker: receipt.tracker.as_i64(),
            cast_at: receipt.cast_at.unix_micros(),
            channel: receipt.channel,
            answers: receipt.answers.clone(),
        };
        let json = serde_json::to_vec(&parts).map_err(|e| Error::Internal(e.to_string()))?;
        self.seal_for_browser(
            &format!("receipt/{}/{unit}", receipt.ballot),
            session,
            RECEIPT_TTL,
            &json,
        )
    }

    /// The receipt sealed by `seal_receipt` for this ballot, unit and session; `None` when it
    /// is absent, expired, altered or someone else's. The unit must still be one the voter
    /// votes for.
    pub async fn open_receipt(
        &self,
        actor: &Actor,
        ballot: BallotId,
        unit: UnitId,
        session: &str,
        sealed: &str,
    ) -> Result<Option<Receipt>> {
        let Some(json) =
            self.open_from_browser(&format!("receipt/{ballot}/{unit}"), session, sealed)
        else {
            return Ok(None);
        };
        let Ok(parts) = serde_json::from_slice::<SealedReceipt>(&json) else {
            return Ok(None);
        };
        let mine = self.my_ballot(actor, ballot).await?;
        let Some((unit, _)) = mine.units.iter().find(|(u, _)| u.id == unit) else {
            return Ok(None);
        };
        let cast_at = Timestamp::from_unix_micros(parts.cast_at)?;
        let organization = self.organization_name(mine.ballot.org()).await?;
        Ok(Some(self.receipt(
            &mine.ballot,
            organization,
            unit.label.as_str(),
            (Tracker::from_i64(parts.tracker), cast_at, parts.channel),
            &parts.answers,
            false,
        )))
    }

    /// The signed part of a receipt: which ballot (and its exact definition), the tracker, and
    /// the checkpoint it will be found under on the bulletin. Deliberately not the unit, the
    /// time or the choices (see the module docs).
    fn sign_receipt(
        &self,
        ballot: &Ballot,
        organization: &str,
        tracker: Tracker,
        checkpoint_origin: &str,
    ) -> String {
        let one_line = |s: &str| s.replace(['\n', '\r'], " ");
        let mut body = String::from("Cista ballot receipt\n");
        body.push_str(&format!("organization {}\n", one_line(organization)));
        body.push_str(&format!(
            "ballot {} {}\n",
            ballot.id(),
            one_line(&ballot.definition.title)
        ));
        body.push_str(&format!(
            "definition {}\n",
            ballot.stored.definition_hash.to_hex()
        ));
        body.push_str(&format!("tracker {tracker}\n"));
        body.push_str(&format!("checkpoint {}\n", one_line(checkpoint_origin)));
        self.signer().sign_text(&body)
    }

    /// Checks a receipt's signature with this instance's key; returns its text.
    pub fn verify_receipt(&self, signed: &str) -> Result<String> {
        let body = self.signer().verifier().verify_text(signed)?;
        if !body.starts_with("Cista ballot receipt\n") {
            return Err(Error::invalid("receipt", "is not a Cista ballot receipt"));
        }
        Ok(body)
    }
}
