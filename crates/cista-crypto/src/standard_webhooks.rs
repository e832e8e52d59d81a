//! Webhook signatures as the Standard Webhooks specification defines them
//! (<https://www.standardwebhooks.com/>, `spec/standard-webhooks.md`): a secret is `whsec_`
//! followed by the base64 of 24 to 64 random bytes; a message is signed by HMAC-SHA256 over
//! `{webhook-id}.{webhook-timestamp}.{body}` with those bytes, sent as `webhook-signature:
//! v1,{base64 of the MAC}` (several space-separated signatures may be sent while a secret
//! rotates). A receiver recomputes the MAC, compares it in constant time and refuses a
//! timestamp far from its own clock (replay).

use crate::CryptoError;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::Mac as _;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The prefix of a secret's text form.
pub const SECRET_PREFIX: &str = "whsec_";

/// How far a message's timestamp may be from the receiver's clock, in seconds (the
/// specification's reference libraries use five minutes).
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// A secret's text form, `whsec_` and the base64 of `key`.
pub fn secret_text(key: &[u8]) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The key bytes of a secret's text form (`whsec_…`; the bare base64 is accepted too, as the
/// reference libraries do). `Malformed` if it is not base64 of 24 to 64 bytes.
pub fn secret_key(text: &str) -> Result<Vec<u8>, CryptoError> {
    let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
    let key = STANDARD
        .decode(encoded)
        .map_err(|_| CryptoError::Malformed("webhook secret"))?;
    if !(24..=64).contains(&key.len()) {
        return Err(CryptoError::Malformed("webhook secret"));
    }
    Ok(key)
}

fn mac(
    key: &[u8],
    message_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<HmacSha256, CryptoError> {
    let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(key)
        .map_err(|_| CryptoError::Malformed("webhook secret"))?;
    mac.update(message_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(mac)
}

/// The `webhook-signature` header's value for a message: `v1,{base64}`.
pub fn sign(
    key: &[u8],
    message_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, CryptoError> {
    let tag = mac(key, message_id, timestamp, body)?
        .finalize()
        .into_bytes();
    Ok(format!("v1,{}", STANDARD.encode(tag)))
}

/// Why a received message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The timestamp is more than `TOLERANCE_SECONDS` from `now`.
    Stale,
    /// No `v1` signature in the header matches.
    BadSignature,
}

/// Checks a received message as a receiver must: the timestamp within `TOLERANCE_SECONDS` of
/// `now` (Unix seconds) and one of the header's space-separated `v1,…` signatures equal, in
/// constant time, to the MAC of the message under `key`.
pub fn verify(
    key: &[u8],
    message_id: &str,
    timestamp: i64,
    body: &[u8],
    signature_header: &str,
    now: i64,
) -> Result<(), Refusal> {
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(Refusal::Stale);
    }
    for candidate in signature_header.split(' ') {
        let Some(encoded) = candidate.strip_prefix("v1,") else {
            continue;
        };
        let Ok(tag) = STANDARD.decode(encoded) else {
            continue;
        };
        let Ok(mac) = mac(key, message_id, timestamp, body) else {
            return Err(Refusal::BadSignature);
        };
        if mac.verify_slice(&tag).is_ok() {
            return Ok(());
        }
    }
    Err(Refusal::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example in the specification's reference implementations (svix/standard-webhooks,
    /// `python/standardwebhooks/tests`): this secret, id, timestamp and body sign to this value.
    #[test]
    fn matches_the_reference_example() {
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let signature = sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_eq!(
            verify(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                body,
                &format!("v1,bm90IHRoaXMgb25l {signature}"),
                1614265330 + 10
            ),
            Ok(())
        );
    }

    #[test]
    fn refuses_other_bodies_keys_and_old_timestamps() {
        let key = [7u8; 32];
        let signature = sign(&key, "msg_1", 1000, b"{}").unwrap();
        assert_eq!(verify(&key, "msg_1", 1000, b"{}", &signature, 1000), Ok(()));
        assert_eq!(
            verify(&key, "msg_1", 1000, b"{ }", &signature, 1000),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            verify(&key, "msg_2", 1000, b"{}", &signature, 1000),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            verify(&[8u8; 32], "msg_1", 1000, b"{}", &signature, 1000),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            verify(&key, "msg_1", 1000, b"{}", &signature, 1000 + 301),
            Err(Refusal::Stale)
        );
        assert_eq!(
            verify(&key, "msg_1", 1000, b"{}", "v2,abc", 1000),
            Err(Refusal::BadSignature)
        );
    }

    #[test]
    fn secrets_round_trip_and_short_ones_are_refused() {
        let key = [9u8; 32];
        assert_eq!(secret_key(&secret_text(&key)).unwrap(), key);
        assert!(secret_key("whsec_c2hvcnQ=").is_err());
        assert!(secret_key("whsec_!!!").is_err());
    }
}
