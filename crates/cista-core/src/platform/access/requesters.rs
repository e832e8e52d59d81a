//! Who is asking (issue 10, item 11): a stranger who knows a person's email address or mobile
//! number must not be able to keep that person from signing in. Everything a stranger can set
//! off against a known person — an SMS code, a reset link, an invitation re-send, a wrong
//! password — is counted against the *requester* that set it off, never against the person as a
//! whole, following OWASP's "Slow brute force and lockout: device cookies" and the
//! Authentication Cheat Sheet's account-lockout advice:
//!
//! - A browser that has signed in as a person before holds a device cookie: an HMAC over a
//!   random device id and that person's subject code, so it cannot be forged. For that person
//!   the device is *trusted*: it has its own budget and its own lockout, which nobody else's
//!   attempts touch.
//! - Any other requester is known by its network address (IPv4 address, IPv6 /64) or by its
//!   device cookie, and has a budget and lockout of its own. All untrusted requesters together
//!   also share a wider cap, so a stranger with many addresses cannot send a person unbounded
//!   SMS (they cost money) or guess passwords unbounded — but that cap never applies to the
//!   person's own devices.
//!
//! Only keyed hashes of requesters are stored, never an address or a device id.

use crate::Cista;
use crate::Result;
use crate::ports::{AttemptKind, AttemptScope, AttemptTally, StoreTx};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cista_crypto::Digest32;
use cista_types::{SubjectCode, Timestamp};
use std::net::IpAddr;
use time::Duration;

/// The name of the device cookie (RFC 6265bis `__Host-` prefix: Secure, Path=/, no Domain).
pub const DEVICE_COOKIE: &str = "__Host-cista_device";

/// How long a device stays trusted after it last signed in.
pub const DEVICE_TRUST: Duration = Duration::days(180);

/// How far back wrong passwords count toward a lockout.
const FAILURE_WINDOW: Duration = Duration::hours(24);

/// How far back sends count toward a budget.
const SEND_WINDOW: Duration = Duration::hours(1);

/// Where a request comes from, as far as budgets and lockouts are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    /// Keyed hash of the device id, or of the network address.
    key: Digest32,
    /// The device id (16 random bytes) when the request carried a valid device cookie.
    device: Option<[u8; 16]>,
    /// The person the device cookie was issued to.
    trusted_for: Option<SubjectCode>,
}

impl Requester {
    /// A requester that cannot say where it comes from (the command line, a test): all such
    /// requests share one budget.
    pub fn unknown() -> Self {
        Self {
            key: Digest32::sha256(&[b"cista requester: unknown"]),
            device: None,
            trusted_for: None,
        }
    }

    /// Whether this is a device `subject` signed in from before.
    pub fn trusted_for(&self, subject: SubjectCode) -> bool {
        self.trusted_for == Some(subject)
    }

    /// The keyed hash budgets are counted under.
    pub fn key(&self) -> &Digest32 {
        &self.key
    }
}

/// The network that names one requester, as an address: the whole IPv4 address (an IPv4
/// address mapped into IPv6 too), or the /64 prefix of an IPv6 address with its host part
/// zeroed (one subscriber's network, RFC 6177: a client rotating through its own /64 is one
/// requester). The per-address rate limits key on it.
pub fn requester_network(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The part of a network address that names one requester: the whole IPv4 address, or the
/// /64 prefix of an IPv6 address (one subscriber's network, RFC 6177).
/// The text is hashed into stored requester keys, so it keeps its first form.
fn network_part(address: IpAddr) -> String {
    match requester_network(address) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

impl Cista {
    fn device_mac(&self, device: &[u8; 16], subject: SubjectCode) -> Result<[u8; 32]> {
        let mut message = Vec::with_capacity(24);
        message.extend_from_slice(device);
        message.extend_from_slice(&subject.as_i64().to_be_bytes());
        Ok(cista_crypto::mac::keyed_hash(
            self.instance_keys().mac.expose(),
            "device-cookie",
            &message,
        )?)
    }

    /// Reads a device cookie: `v1.<device id>.<subject>.<mac>` (base64url without padding);
    /// `None` when it is malformed or its MAC does not match.
    fn read_device_cookie(&self, cookie: &str) -> Option<([u8; 16], SubjectCode)> {
        let mut parts = cookie.split('.');
        let (Some("v1"), Some(device), Some(subject), Some(mac), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let device: [u8; 16] = URL_SAFE_NO_PAD.decode(device).ok()?.try_into().ok()?;
        let subject = SubjectCode::from_i64(subject.parse().ok()?);
        let mac: [u8; 32] = URL_SAFE_NO_PAD.decode(mac).ok()?.try_into().ok()?;
        let expected = Digest32(self.device_mac(&device, subject).ok()?);
        expected.ct_eq(&Digest32(mac)).then_some((device, subject))
    }

    /// The requester of a request from `address` carrying the device cookie `device_cookie`.
    pub fn requester(&self, address: Option<IpAddr>, device_cookie: Option<&str>) -> Requester {
        let key = self.instance_keys().mac.expose();
        if let Some((device, subject)) = device_cookie.and_then(|c| self.read_device_cookie(c))
            && let Ok(hash) = cista_crypto::mac::keyed_hash(key, "requester-device", &device)
        {
            return Requester {
                key: Digest32(hash),
                device: Some(device),
                trusted_for: Some(subject),
            };
        }
        let Some(address) = address else {
            return Requester::unknown();
        };
        match cista_crypto::mac::keyed_hash(
            key,
            "requester-network",
            network_part(address).as_bytes(),
        ) {
            Ok(hash) => Requester {
                key: Digest32(hash),
                device: None,
                trusted_for: None,
            },
            Err(_) => Requester::unknown(),
        }
    }

    /// Deletes counted attempts too old to count toward any budget or lockout (older than a
    /// day); returns how many. Run hourly by `cista serve`.
    pub async fn purge_access_attempts(&self) -> Result<u64> {
        let before = self.clock().now().plus(-FAILURE_WINDOW.max(SEND_WINDOW));
        self.store().purge_access_attempts(before).await
    }

    /// A device cookie that makes this requester's device trusted for `subject` from now on;
    /// a device that had one keeps its id.
    pub fn device_cookie(&self, subject: SubjectCode, requester: &Requester) -> Result<String> {
        let device = requester.device.unwrap_or_else(|| {
            let mut id = [0u8; 16];
            self.rng().fill(&mut id);
            id
        });
        let mac = self.device_mac(&device, subject)?;
        Ok(format!(
            "v1.{}.{}.{}",
            URL_SAFE_NO_PAD.encode(device),
            subject.as_i64(),
            URL_SAFE_NO_PAD.encode(mac)
        ))
    }

    /// Whether `requester` may still set off a send of `kind` to `subject`: its own hourly
    /// budget (`sends_per_hour`), and for requesters that are not the person's own device, the
    /// hourly cap of all of them together (`untrusted_sends_per_hour`). Counted inside `tx`,
    /// under the person's lock, so the send recorded in the same transaction is counted by the
    /// next request even when both arrive at once.
    pub(crate) async fn within_send_budget(
        &self,
        tx: &mut dyn StoreTx,
        subject: SubjectCode,
        kind: AttemptKind,
        requester: &Requester,
    ) -> Result<bool> {
        let since = self.clock().now().plus(-SEND_WINDOW);
        let own = tx
            .access_attempts(
                subject,
                kind,
                AttemptScope::Requester(&requester.key),
                since,
            )
            .await?;
        if own.count >= self.settings().sends_per_hour {
            return Ok(false);
        }
        if requester.trusted_for(subject) {
            return Ok(true);
        }
        let strangers = tx
            .access_attempts(subject, kind, AttemptScope::Untrusted, since)
            .await?;
        Ok(strangers.count < self.settings().untrusted_sends_per_hour)
    }

    /// The attempt to record with a send or a failure of `requester`.
    pub(crate) fn attempt(
        &self,
        subject: SubjectCode,
        kind: AttemptKind,
        requester: &Requester,
        at: Timestamp,
    ) -> crate::ports::AccessAttempt {
        crate::ports::AccessAttempt {
            subject,
            kind,
            requester: requester.key,
            trusted: requester.trusted_for(subject),
            at,
        }
    }

    /// Until when `requester` may not try a password for `subject`: its own wrong passwords
    /// lock it after `lockout_after`, for `lockout_base` doubling up to `lockout_max`; the
    /// wrong passwords of all untrusted requesters together lock untrusted requesters after
    /// `untrusted_lockout_after`. A device the person signed in from is locked only by its own.
    /// Counted inside `tx`, under the person's lock (see `within_send_budget`).
    pub(crate) async fn password_locked_until(
        &self,
        tx: &mut dyn StoreTx,
        subject: SubjectCode,
        requester: &Requester,
        now: Timestamp,
    ) -> Result<Option<Timestamp>> {
        let since = now.plus(-FAILURE_WINDOW);
        let settings = self.settings();
        let own = tx
            .access_attempts(
                subject,
                AttemptKind::Password,
                AttemptScope::Requester(&requester.key),
                since,
            )
            .await?;
        let mut until = self.lock_end(own, u64::try_from(settings.lockout_after).unwrap_or(0));
        if !requester.trusted_for(subject) {
            let strangers = tx
                .access_attempts(
                    subject,
                    AttemptKind::Password,
                    AttemptScope::Untrusted,
                    since,
                )
                .await?;
            until = until.max(self.lock_end(strangers, settings.untrusted_lockout_after));
        }
        Ok(until.filter(|t| *t > now))
    }

    /// When a lock set by `tally` failures ends (`None`: not locked).
    fn lock_end(&self, tally: AttemptTally, after: u64) -> Option<Timestamp> {
        let over = tally.count.checked_sub(after)?;
        tally.latest.map(|t| t.plus(self.lockout_for(over)))
    }

    /// How long a lock lasts after `over` failures beyond the one that set it:
    /// `lockout_base`, doubled for each, up to `lockout_max` (wrong passwords and wrong
    /// second factors alike).
    pub(crate) fn lockout_for(&self, over: u64) -> Duration {
        let settings = self.settings();
        let seconds = settings
            .lockout_base
            .whole_seconds()
            .saturating_mul(1i64 << over.min(30))
            .min(settings.lockout_max.whole_seconds());
        Duration::seconds(seconds)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_requesters_network_is_its_ipv4_address_or_its_ipv6_slash_64() {
        use super::requester_network;
        use std::net::IpAddr;
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        assert_eq!(requester_network(ip("203.0.113.7")), ip("203.0.113.7"));
        assert_eq!(
            requester_network(ip("::ffff:203.0.113.7")),
            ip("203.0.113.7")
        );
        let prefix = ip("2001:db8:1:2::");
        assert_eq!(
            requester_network(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            prefix
        );
        assert_eq!(requester_network(ip("2001:db8:1:2::1")), prefix);
        assert_ne!(requester_network(ip("2001:db8:1:3::1")), prefix);
    }

    use super::*;

    #[test]
    fn an_ipv6_requester_is_its_slash_64_and_a_mapped_ipv4_is_its_address() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(network_part(a), network_part(b));
        assert_ne!(network_part(a), network_part(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(network_part(mapped), "192.0.2.7");
    }
}
