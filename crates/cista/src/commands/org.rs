//! `cista org create`: an organization and its first owner's invitation, from the command line
//! of a running or stopped instance (the database is shared; the running server's worker, or
//! the next start, sends the email).

use crate::cli::OrgCreateArgs;
use crate::runtime::{Failure, Runtime};
use cista_core::platform::access::invitations::Invitee;
use cista_types::{Email, OrgName, OrgSlug, PersonName, Phone, PhoneRegion, Role, TimeZoneName};

/// A slug made from a name: lower case, runs of other characters become one hyphen.
pub fn slug_from(name: &str) -> String {
    let mut slug = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let trimmed: String = slug.trim_end_matches('-').chars().take(40).collect();
    trimmed.trim_end_matches('-').to_owned()
}

fn parsed<T>(what: &str, r: Result<T, cista_types::ParseError>) -> Result<T, Failure> {
    r.map_err(|e| Failure(format!("{what}: the {} {}", e.what, e.message)))
}

pub async fn create(rt: &Runtime, args: &OrgCreateArgs) -> Result<(), Failure> {
    // Everything is parsed before anything is written.
    let name = parsed("--name", OrgName::parse(&args.name))?;
    let slug_text = args.slug.clone().unwrap_or_else(|| slug_from(&args.name));
    let slug = parsed("--slug", OrgSlug::parse(&slug_text))?;
    let time_zone = parsed("--time-zone", TimeZoneName::parse(&args.time_zone))?;
    let phone_region = match &args.phone_region {
        Some(r) => Some(parsed("--phone-region", PhoneRegion::parse(r))?),
        None => None,
    };
    let owner = Invitee {
        first_name: parsed(
            "--owner-first-name",
            PersonName::parse(&args.owner_first_name),
        )?,
        last_name: parsed(
            "--owner-last-name",
            PersonName::parse(&args.owner_last_name),
        )?,
        email: parsed("--owner-email", Email::parse(&args.owner_email))?,
        phone: match &args.owner_phone {
            Some(p) => Some(parsed("--owner-phone", Phone::parse(p, phone_region))?),
            None => None,
        },
        role: Role::Owner,
    };
    let cista = rt.open(true).await?;
    let operator = rt.operator();
    let org = cista
        .create_organization_with(&operator, name, slug, time_zone, phone_region)
        .await?;
    let invited = cista.invite(&operator, org.id, owner).await?;
    println!(
        "created organization  {} ({}, time zone {})",
        org.name, org.slug, org.time_zone
    );
    println!("invited owner         subject {}", invited.subject);
    match invited.link {
        Some(link) => {
            println!();
            println!(
                "The owner's one-time link (also sent by email; it works once, for {} hours):",
                rt.config.access.invite_ttl_hours
            );
            println!("{link}");
        }
        None => println!("The owner already has an account; they were told by email."),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_made_from_names() {
        assert_eq!(
            slug_from("Palm Court Condominium Association"),
            "palm-court-condominium-association"
        );
        assert_eq!(slug_from("  Bayside H.O.A. #2 "), "bayside-h-o-a-2");
        assert!(slug_from(&"x".repeat(80)).len() <= 40);
        assert!(OrgSlug::parse(&slug_from("Élan -- Towers!")).is_ok());
    }
}
