//! Settings of people and access: lifetimes of links, codes and sessions, lockout, and the
//! public origin that links in messages point to. Defaults follow the requirements.

use time::Duration;

#[derive(Debug, Clone)]
pub struct AccessSettings {
    /// The origin links in messages point to, e.g. `https://vote.example.org`.
    pub public_origin: String,
    /// The name authenticator apps show for this service.
    pub issuer: String,
    pub invite_ttl: Duration,
    pub reset_ttl: Duration,
    pub sms_code_ttl: Duration,
    pub sms_code_digits: u32,
    pub sms_code_attempts: i32,
    /// Codes, resets or invitation resends one person can trigger per hour.
    pub sends_per_hour: u64,
    /// Sends that all requesters other than the person's own signed-in devices can set off
    /// together per hour: bounds what a stranger with many addresses can send, while the
    /// person's own devices keep their budget (see `access::requesters`).
    pub untrusted_sends_per_hour: u64,
    pub session_idle: Duration,
    pub session_absolute: Duration,
    /// Wrong passwords from one requester before that requester is locked out for a while.
    pub lockout_after: i32,
    /// The first lock lasts this long; each further failure doubles it, up to `lockout_max`.
    pub lockout_base: Duration,
    pub lockout_max: Duration,
    /// Wrong passwords from all untrusted requesters together before untrusted requesters are
    /// locked out too (a device the person signed in from is not).
    pub untrusted_lockout_after: u64,
    /// Password hashes computed at once; more wait, and past `hash_queue` are refused.
    pub concurrent_hashes: usize,
    pub hash_queue: usize,
    /// Webhooks may go to this machine or a private network (the demo's own receiver, tests);
    /// off in production, where an endpoint must be a public HTTPS address.
    pub allow_internal_webhooks: bool,
}

impl Default for AccessSettings {
    fn default() -> Self {
        Self {
            public_origin: "https://localhost:8443".to_owned(),
            issuer: "Cista".to_owned(),
            invite_ttl: Duration::hours(72),
            reset_ttl: Duration::hours(1),
            sms_code_ttl: Duration::minutes(10),
            sms_code_digits: 6,
            sms_code_attempts: 5,
            sends_per_hour: 3,
            untrusted_sends_per_hour: 10,
            session_idle: Duration::minutes(30),
            session_absolute: Duration::hours(12),
            lockout_after: 5,
            lockout_base: Duration::minutes(1),
            lockout_max: Duration::hours(1),
            untrusted_lockout_after: 20,
            concurrent_hashes: 2,
            hash_queue: 64,
            allow_internal_webhooks: false,
        }
    }
}
