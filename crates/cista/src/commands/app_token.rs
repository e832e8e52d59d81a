//! `cista app-token create|list|revoke`: the API's bearer credentials, managed from the
//! command line as staff manage them on the organization's App tokens page. The operator
//! acts (and is named in the audit log) as `operator:USER`.

use crate::cli::{AppTokenCommand, AppTokenCreateArgs};
use crate::runtime::{Failure, Runtime};
use cista_core::platform::access::app_tokens::{AppPurpose, AppTokenRequest};
use cista_core::ports::AppTokenId;
use cista_types::{Clock as _, SystemClock, TimeZoneName, Timestamp};

pub async fn run(rt: &Runtime, command: &AppTokenCommand) -> Result<(), Failure> {
    match command {
        AppTokenCommand::Create(args) => create(rt, args).await,
        AppTokenCommand::List(args) => list(rt, &args.org).await,
        AppTokenCommand::Revoke(args) => {
            let id: AppTokenId = args.id.parse().map_err(|_| {
                Failure(format!(
                    "--id: `{}` is not a token id (they look like at-0123456789abcdef; see `cista app-token list`)",
                    args.id
                ))
            })?;
            let (cista, org) = rt.open_org(&args.org).await?;
            if cista.revoke_app_token(&rt.operator(), org.id, id).await? {
                println!("revoked {id}: its next call is refused");
            } else {
                println!("{id} was already revoked");
            }
            Ok(())
        }
    }
}

fn when(at: Timestamp) -> String {
    TimeZoneName::utc().format_precise(at)
}

async fn create(rt: &Runtime, args: &AppTokenCreateArgs) -> Result<(), Failure> {
    let purpose = AppPurpose::parse(&args.purpose).ok_or_else(|| {
        let known: Vec<_> = AppPurpose::ALL.iter().map(|p| p.as_str()).collect();
        Failure(format!(
            "--purpose: `{}` is not a purpose; one of: {}",
            args.purpose,
            known.join(", ")
        ))
    })?;
    let (cista, org) = rt.open_org(&args.org).await?;
    let made = cista
        .create_app_token(
            &rt.operator(),
            org.id,
            &AppTokenRequest {
                purpose,
                label: args.label.clone(),
                lifetime_days: args.days,
            },
        )
        .await?;
    println!("created app token {} for {}", made.token.id, org.slug);
    println!("  purpose  {} ({})", purpose.as_str(), purpose.describe());
    println!("  label    {}", made.token.label);
    println!("  expires  {}", when(made.token.expires_at));
    println!();
    println!("The token (shown this once; only its hash is kept):");
    println!("{}", made.secret);
    println!();
    println!("Use it as `Authorization: Bearer <token>` on /api/v1/ (see /api/v1/openapi.json).");
    Ok(())
}

async fn list(rt: &Runtime, slug: &str) -> Result<(), Failure> {
    let (cista, org) = rt.open_org(slug).await?;
    let tokens = cista.app_tokens(&rt.operator(), org.id).await?;
    if tokens.is_empty() {
        println!("{} has no app tokens", org.slug);
        return Ok(());
    }
    let now = SystemClock.now();
    println!(
        "{:<19}  {:<15}  {:<7}  {:<28}  {:<28}  label",
        "id", "purpose", "state", "expires", "last used"
    );
    for t in tokens {
        println!(
            "{:<19}  {:<15}  {:<7}  {:<28}  {:<28}  {}",
            t.id.to_string(),
            t.purpose.as_str(),
            t.state(now).as_str(),
            when(t.expires_at),
            t.last_used_at.map_or_else(|| "never".to_owned(), when),
            t.label
        );
    }
    Ok(())
}
