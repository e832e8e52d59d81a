//! Messages to people, queued in the transactional outbox in the same transaction as the event
//! that causes them. What a message says lives here as data; the words are rendered at delivery
//! (`cista-notify`), after the recipient's address is read from the vault. Parameters (links,
//! codes) are sealed under the instance secrets key and wiped once delivered.

use crate::platform::audit::{AuditKind, NewAuditEntry};
use crate::platform::breach::template::{NoticeTemplate, NoticeValues};
use crate::ports::{Channel, OutboxMessage};
use crate::products::assessment::notices::AssessmentNotice;
use crate::products::voting::notices::VotingNotice;
use crate::{Action, Actor, Cista, Error, Result};
use cista_crypto::Sealed;
use cista_crypto::envelope::aad;
use cista_types::{PersonName, SubjectCode, TimeZoneName, Timestamp};
use serde::{Deserialize, Serialize};
use time::Duration;

/// What a message says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "template", rename_all = "kebab-case")]
pub enum Notice {
    /// An invitation with a one-time link to set a password.
    Invitation {
        organization: String,
        role: String,
        link: String,
        expires_at: Timestamp,
    },
    /// Someone Cista already knows is invited to join another organization: the link
    /// accepts (and, for someone yet to choose a password, chooses it).
    JoinInvitation {
        organization: String,
        role: String,
        link: String,
        expires_at: Timestamp,
    },
    /// Someone who already had an account was added to another organization. No longer
    /// queued (a known person is now invited to join); kept so that messages queued before
    /// still go out.
    AddedToOrganization {
        organization: String,
        role: String,
        sign_in_link: String,
    },
    /// A one-time link to choose a new password.
    PasswordReset { link: String, expires_at: Timestamp },
    /// A one-time sign-in code by SMS.
    SmsCode { code: String, minutes: i64 },
    /// A breach notice (GDPR Art. 34): the breach's words and this person's values, rendered
    /// at delivery with their first name.
    BreachNotice {
        words: NoticeTemplate,
        values: NoticeValues,
    },
    /// A message of association voting. Untagged here: its own `template` tag is the one
    /// stored, exactly as before the product had its own enum.
    #[serde(untagged)]
    Voting(VotingNotice),
    /// A message of the embedded assessment, tagged by its own `template` likewise.
    #[serde(untagged)]
    Assessment(AssessmentNotice),
}

impl Notice {
    pub fn channel(&self) -> Channel {
        match self {
            Notice::SmsCode { .. } => Channel::Sms,
            Notice::Invitation { .. }
            | Notice::JoinInvitation { .. }
            | Notice::AddedToOrganization { .. }
            | Notice::PasswordReset { .. }
            | Notice::BreachNotice { .. } => Channel::Email,
            Notice::Voting(notice) => notice.channel(),
            Notice::Assessment(notice) => notice.channel(),
        }
    }

    pub fn template(&self) -> &'static str {
        match self {
            Notice::Invitation { .. } => "invitation",
            Notice::JoinInvitation { .. } => "join-invitation",
            Notice::AddedToOrganization { .. } => "added-to-organization",
            Notice::PasswordReset { .. } => "password-reset",
            Notice::SmsCode { .. } => "sms-code",
            Notice::BreachNotice { .. } => "breach-notice",
            Notice::Voting(notice) => notice.template(),
            Notice::Assessment(notice) => notice.template(),
        }
    }
}

impl From<VotingNotice> for Notice {
    fn from(notice: VotingNotice) -> Self {
        Self::Voting(notice)
    }
}

impl From<AssessmentNotice> for Notice {
    fn from(notice: AssessmentNotice) -> Self {
        Self::Assessment(notice)
    }
}

fn params_aad(id: i64) -> Vec<u8> {
    aad("outbox", "params", &id.to_string())
}

/// A message ready to send: address and greeting read from the vault, parameters opened.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub channel: Channel,
    pub address: String,
    pub first_name: PersonName,
    pub notice: Notice,
    pub attempts: i32,
    /// The zone the message states times in (link expiries): the recipient's organization's
    /// (see `Cista::time_zone_for`). Ballot times come already written in the ballot's zone.
    pub time_zone: TimeZoneName,
}

/// How a delivery attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    /// Worth retrying (the server was down, a timeout). The text must hold no personal data.
    Retry(String),
    /// Will never work (a malformed address, a permanent refusal).
    Abandon(String),
}

/// Attempts before a message is abandoned, and the wait between them: 10 s, doubling, up to
/// an hour.
pub const MAX_ATTEMPTS: i32 = 12;

fn backoff(attempts: i32) -> Duration {
    let seconds = 10i64.saturating_mul(1i64 << attempts.clamp(0, 20));
    Duration::seconds(seconds.min(3600))
}

impl Cista {
    /// A queued message, sealed, for a transaction to enqueue.
    pub(crate) fn message(&self, recipient: SubjectCode, notice: &Notice) -> Result<OutboxMessage> {
        let id = self.rng().id63();
        let plain = serde_json::to_vec(notice).map_err(|e| Error::Internal(e.to_string()))?;
        let sealed =
            self.instance_keys()
                .secrets
                .seal(self.rng().as_ref(), &params_aad(id), &plain)?;
        let now = self.clock().now();
        Ok(OutboxMessage {
            id,
            channel: notice.channel(),
            recipient,
            template: notice.template().to_owned(),
            params: sealed.into_bytes(),
            created_at: now,
            attempts: 0,
            next_attempt_at: now,
            delivered_at: None,
            failed_at: None,
            last_error: None,
        })
    }

    fn open_notice(&self, message: &OutboxMessage) -> Result<Notice> {
        let plain = self.instance_keys().secrets.open(
            &params_aad(message.id),
            &Sealed::from_bytes(message.params.clone()),
        )?;
        serde_json::from_slice(&plain)
            .map_err(|_| Error::Integrity("a queued message is malformed".to_owned()))
    }

    /// Messages due now, opened and addressed. A message whose recipient has no address on
    /// that channel (or was erased) is abandoned on the spot.
    pub async fn due_deliveries(&self, actor: &Actor, limit: u32) -> Result<Vec<Delivery>> {
        actor.authorize(Action::DeliverMessages)?;
        let mut out = Vec::new();
        for message in self.store().due_messages(self.clock().now(), limit).await? {
            let notice = match self.open_notice(&message) {
                Ok(notice) => notice,
                Err(_) => {
                    self.record_delivery(
                        actor,
                        message.id,
                        message.attempts,
                        DeliveryOutcome::Abandon("the message could not be opened".to_owned()),
                    )
                    .await?;
                    continue;
                }
            };
            match self
                .delivery_address(actor, message.recipient, message.channel)
                .await?
            {
                Some((address, first_name)) => out.push(Delivery {
                    id: message.id,
                    channel: message.channel,
                    address,
                    first_name,
                    notice,
                    attempts: message.attempts,
                    time_zone: self.time_zone_of(message.recipient).await?,
                }),
                None => {
                    self.record_delivery(
                        actor,
                        message.id,
                        message.attempts,
                        DeliveryOutcome::Abandon(format!(
                            "the recipient has no {} address, or was erased",
                            message.channel.as_str()
                        )),
                    )
                    .await?;
                }
            }
        }
        Ok(out)
    }

    /// Records how an attempt went: delivered (parameters wiped), retry later, or abandoned.
    pub async fn record_delivery(
        &self,
        actor: &Actor,
        id: i64,
        attempts: i32,
        outcome: DeliveryOutcome,
    ) -> Result<()> {
        actor.authorize(Action::DeliverMessages)?;
        let now = self.clock().now();
        let mut tx = self.store().begin().await?;
        match outcome {
            DeliveryOutcome::Delivered => {
                tx.mark_delivered(id, now).await?;
                tx.commit_housekeeping().await
            }
            DeliveryOutcome::Retry(error) if attempts + 1 < MAX_ATTEMPTS => {
                tx.mark_attempt_failed(id, &error, Some(now.plus(backoff(attempts))), now)
                    .await?;
                tx.commit_housekeeping().await
            }
            DeliveryOutcome::Retry(error) | DeliveryOutcome::Abandon(error) => {
                tx.mark_attempt_failed(id, &error, None, now).await?;
                tx.commit(NewAuditEntry::new(
                    now,
                    actor,
                    None,
                    AuditKind::MessageAbandoned,
                    serde_json::json!({ "message": id.to_string(), "error": error }),
                ))
                .await
                .map(|_| ())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_an_hour() {
        assert_eq!(backoff(0), Duration::seconds(10));
        assert_eq!(backoff(1), Duration::seconds(20));
        assert_eq!(backoff(30), Duration::hours(1));
    }

    #[test]
    fn a_breach_notice_is_stored_tagged_and_read_back() {
        // Queued messages outlive upgrades: the stored shape is pinned.
        let notice = Notice::BreachNotice {
            words: NoticeTemplate {
                subject: "S".into(),
                body: "B".into(),
            },
            values: NoticeValues::sample(),
        };
        let json = serde_json::to_string(&notice).unwrap();
        assert!(
            json.starts_with(
                r#"{"template":"breach-notice","words":{"subject":"S","body":"B"},"values":{"organization":"#
            ),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Notice>(&json).unwrap(), notice);
        assert_eq!(notice.channel(), Channel::Email);
    }

    #[test]
    fn notices_name_their_channel_and_template() {
        let sms = Notice::SmsCode {
            code: "123456".into(),
            minutes: 10,
        };
        assert_eq!(sms.channel(), Channel::Sms);
        let json = serde_json::to_string(&sms).unwrap();
        assert!(json.contains(r#""template":"sms-code""#), "{json}");
    }
}
