//! `cista init`: the data directory, the local CA and certificate, the key file, the database
//! and the instance. Safe to run again: what exists is reused and never overwritten.

use crate::certs::{LocalTls, TlsOutcome};
use crate::files::create_private_dir;
use crate::runtime::{Failure, Runtime};
use cista_core::{Actor, Cista};
use cista_types::OsRng;
use std::sync::Arc;

/// What `init` found or made, for the caller to print.
#[derive(Debug)]
pub struct Initialized {
    pub cista: Cista,
    /// The SQLite writers' queue of the store `cista` uses (for the backup shipper).
    pub write_turn: Option<Arc<tokio::sync::Mutex<()>>>,
    pub lines: Vec<String>,
}

fn said(created: bool) -> &'static str {
    if created { "created" } else { "reused " }
}

pub async fn initialize(rt: &Runtime) -> Result<Initialized, Failure> {
    let mut lines = Vec::new();
    let paths = &rt.paths;
    // Check everything that can be checked before writing anything: a refused init leaves no
    // half-made data directory or key file behind.
    let target = rt.target()?;
    let existing_keys = rt.existing_key_provider()?;
    if !paths.generated_tls {
        cista_http::TlsSettings::load(&paths.cert_file, &paths.key_file)?;
    }
    let early_store = match &target {
        cista_store::Target::Postgres(_) => Some(rt.store(false, false).await?),
        cista_store::Target::SqliteFile(path) if path.exists() => {
            Some(rt.store(false, false).await?)
        }
        _ => None,
    };
    // A database that already has an instance can only be opened with its own key file; a
    // new one would never decrypt it, so never make one in its place.
    if existing_keys.is_none()
        && let Some(store) = &early_store
        && !store.schema_status().await?.applied.is_empty()
        && cista_core::Store::instance(store).await?.is_some()
    {
        let restore = match &rt.config.keys {
            crate::config::KeysConfig::Local { .. } => format!(
                "a key file that is not at {}; restore that key file (or set keys.file to \
                 where it is)",
                paths.kek_file.display()
            ),
            crate::config::KeysConfig::Pkcs11 { .. } => format!(
                "keys that are not on the {}; restore them to the token (or set \
                 keys.token_label to the token that holds them)",
                rt.keys_location()
            ),
        };
        return Err(Failure(format!(
            "the database {} was initialized with {restore}: new keys cannot decrypt this \
             database",
            store.location()
        )));
    }

    let dir_existed = paths.data_dir.exists();
    create_private_dir(&paths.data_dir)?;
    lines.push(format!(
        "{} data directory  {}",
        said(!dir_existed),
        paths.data_dir.display()
    ));

    if paths.generated_tls {
        let tls = LocalTls::in_dir(&paths.data_dir.join("tls"));
        let id = {
            let mut raw = [0u8; 4];
            cista_types::Rng::fill(&OsRng, &mut raw);
            raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        let outcome = tls.ensure(rt.now().as_offset(), &id)?;
        let word = match outcome {
            TlsOutcome::Created => "created",
            TlsOutcome::Renewed => "renewed",
            TlsOutcome::Reused => "reused ",
        };
        lines.push(format!("{word} local CA        {}", tls.ca_cert.display()));
        lines.push(format!(
            "{word} certificate     {}",
            tls.server_cert.display()
        ));
    } else {
        lines.push(format!(
            "checked certificate     {}",
            paths.cert_file.display()
        ));
    }

    let key_created = existing_keys.is_none();
    let keys = match existing_keys {
        Some(keys) => keys,
        None => rt.create_key_provider()?,
    };
    lines.push(format!(
        "{} keys            {}",
        said(key_created),
        rt.keys_location()
    ));

    let store = match early_store {
        Some(store) => {
            store.migrate().await?;
            store
        }
        None => rt.store(true, true).await?,
    };
    let location = store.location().to_owned();
    let write_turn = store.write_turn();
    let (cista, created) = Cista::open_or_initialize(
        rt.deps(store, keys, true, true).await?,
        &rt.operator(),
        rt.config.audit.origin.as_deref(),
    )
    .await?;
    lines.push(format!("{} database        {location}", said(created)));
    cista.sign_checkpoint(&Actor::System).await?;
    Ok(Initialized {
        cista,
        write_turn,
        lines,
    })
}

pub async fn run(rt: &Runtime) -> Result<(), Failure> {
    let done = initialize(rt).await?;
    for line in &done.lines {
        println!("{line}");
    }
    match &rt.config.keys {
        crate::config::KeysConfig::Local { .. } => println!(
            "\nKeep the key file {} apart from the data directory and back it up separately: \
             without it the data cannot be decrypted.",
            rt.paths.kek_file.display()
        ),
        crate::config::KeysConfig::Pkcs11 { .. } => println!(
            "\nThe key-encryption keys stay on the {}: keep the token (or its backup, as the \
             HSM's vendor describes) and its PIN; without them the data cannot be decrypted.",
            rt.keys_location()
        ),
    }
    println!(
        "Start the server with: cista serve --data-dir {}{}",
        rt.paths.data_dir.display(),
        match &rt.config.keys {
            crate::config::KeysConfig::Local { .. } => "",
            // Every command needs the token: without these settings it looks for a key file.
            crate::config::KeysConfig::Pkcs11 { .. } =>
                " (with the same [keys] settings: provider pkcs11, token_label, pin_file)",
        }
    );
    Ok(())
}
