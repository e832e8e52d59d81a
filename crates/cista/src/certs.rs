//! The local certificate authority for the demo and for `cista init`: an ECDSA P-256 CA that
//! signs a server certificate for localhost. The server certificate lives 365 days (the limit
//! Mozilla's TLS guidance sets) and is renewed from the CA when fewer than 30 days remain.

use crate::files::{write_private, write_public};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

const CA_LIFETIME_DAYS: i64 = 5 * 365;
const SERVER_LIFETIME_DAYS: i64 = 365;
const RENEW_WHEN_DAYS_LEFT: i64 = 30;

/// The generated files of the local CA.
#[derive(Debug, Clone)]
pub struct LocalTls {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    meta: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsOutcome {
    Created,
    Renewed,
    Reused,
}

/// What we need to re-create the CA's issuer without parsing certificates.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    ca_common_name: String,
    ca_not_before: i64,
    ca_not_after: i64,
    server_not_after: i64,
}

impl LocalTls {
    pub fn in_dir(tls_dir: &Path) -> Self {
        Self {
            ca_cert: tls_dir.join("ca.pem"),
            ca_key: tls_dir.join("ca-key.pem"),
            server_cert: tls_dir.join("server.pem"),
            server_key: tls_dir.join("server-key.pem"),
            meta: tls_dir.join("local-ca.toml"),
        }
    }

    /// Creates the CA and certificate, renews the certificate, or reuses both.
    pub fn ensure(&self, now: OffsetDateTime, id_hex: &str) -> Result<TlsOutcome, String> {
        let complete = [
            &self.ca_cert,
            &self.ca_key,
            &self.server_cert,
            &self.server_key,
            &self.meta,
        ]
        .iter()
        .all(|p| p.exists());
        if complete {
            let meta = self.read_meta()?;
            let left = OffsetDateTime::from_unix_timestamp(meta.server_not_after)
                .map_err(|e| e.to_string())?
                - now;
            if left > Duration::days(RENEW_WHEN_DAYS_LEFT) {
                return Ok(TlsOutcome::Reused);
            }
            let ca_key_pem = std::fs::read_to_string(&self.ca_key)
                .map_err(|e| format!("{}: {e}", self.ca_key.display()))?;
            let ca_key = KeyPair::from_pem(&ca_key_pem).map_err(|e| e.to_string())?;
            let ca_params = ca_params(
                &meta.ca_common_name,
                OffsetDateTime::from_unix_timestamp(meta.ca_not_before)
                    .map_err(|e| e.to_string())?,
                OffsetDateTime::from_unix_timestamp(meta.ca_not_after)
                    .map_err(|e| e.to_string())?,
            );
            let server_not_after = self.issue_server(ca_params, ca_key, now)?;
            self.write_meta(&Meta {
                server_not_after,
                ..meta
            })?;
            return Ok(TlsOutcome::Renewed);
        }
        if [&self.ca_cert, &self.server_cert]
            .iter()
            .any(|p| p.exists())
        {
            return Err(format!(
                "the TLS directory {} is incomplete (some generated files are missing); move it \
                 aside and run again to generate a new local CA",
                self.ca_cert
                    .parent()
                    .map(Path::display)
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            ));
        }
        let name = format!("Cista local CA {id_hex}");
        let not_before = now - Duration::minutes(5);
        let not_after = now + Duration::days(CA_LIFETIME_DAYS);
        let params = ca_params(&name, not_before, not_after);
        let ca_key =
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?;
        let ca_cert = params.self_signed(&ca_key).map_err(|e| e.to_string())?;
        write_private(&self.ca_key, ca_key.serialize_pem().as_bytes())?;
        write_public(&self.ca_cert, ca_cert.pem().as_bytes())?;
        let server_not_after = self.issue_server(params, ca_key, now)?;
        self.write_meta(&Meta {
            ca_common_name: name,
            ca_not_before: not_before.unix_timestamp(),
            ca_not_after: not_after.unix_timestamp(),
            server_not_after,
        })?;
        Ok(TlsOutcome::Created)
    }

    fn issue_server(
        &self,
        ca_params: CertificateParams,
        ca_key: KeyPair,
        now: OffsetDateTime,
    ) -> Result<i64, String> {
        let issuer = Issuer::new(ca_params, ca_key);
        let mut params = CertificateParams::new(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ])
        .map_err(|e| e.to_string())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        // RFC 5280 §4.2.1.1: strict validators refuse a leaf without the issuer's key id.
        params.use_authority_key_identifier_extension = true;
        params.not_before = now - Duration::minutes(5);
        let not_after = now + Duration::days(SERVER_LIFETIME_DAYS);
        params.not_after = not_after;
        let key =
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?;
        let cert = params.signed_by(&key, &issuer).map_err(|e| e.to_string())?;
        write_private(&self.server_key, key.serialize_pem().as_bytes())?;
        write_public(&self.server_cert, cert.pem().as_bytes())?;
        Ok(not_after.unix_timestamp())
    }

    fn read_meta(&self) -> Result<Meta, String> {
        let text = std::fs::read_to_string(&self.meta)
            .map_err(|e| format!("{}: {e}", self.meta.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", self.meta.display()))
    }

    fn write_meta(&self, meta: &Meta) -> Result<(), String> {
        let text = toml::to_string(meta).map_err(|e| e.to_string())?;
        write_public(&self.meta, text.as_bytes())
    }
}

fn ca_params(
    name: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Cista (local)");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = not_before;
    params.not_after = not_after;
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_is_made_once_and_the_server_certificate_renewed_near_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let tls = LocalTls::in_dir(dir.path());
        let now = OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
        assert_eq!(tls.ensure(now, "abcd").unwrap(), TlsOutcome::Created);
        let ca = std::fs::read(&tls.ca_cert).unwrap();
        let server = std::fs::read(&tls.server_cert).unwrap();
        assert_eq!(
            tls.ensure(now + Duration::days(100), "abcd").unwrap(),
            TlsOutcome::Reused
        );
        assert_eq!(
            tls.ensure(now + Duration::days(340), "abcd").unwrap(),
            TlsOutcome::Renewed
        );
        assert_eq!(
            std::fs::read(&tls.ca_cert).unwrap(),
            ca,
            "the CA stays the same"
        );
        assert_ne!(std::fs::read(&tls.server_cert).unwrap(), server);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&tls.server_key)
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600);
        }
        // The renewed certificate still loads into the TLS server configuration.
        cista_http::TlsSettings::load(&tls.server_cert, &tls.server_key).unwrap();
    }
}
