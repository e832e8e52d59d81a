//! `cista migrate`: apply pending migrations, forward only.

use crate::runtime::{Failure, Runtime};

pub async fn run(rt: &Runtime) -> Result<(), Failure> {
    let store = rt.store(true, false).await?;
    let applied = store.migrate().await?;
    if applied.is_empty() {
        println!("{}: schema up to date", store.location());
    } else {
        for name in &applied {
            println!("applied {name}");
        }
        println!(
            "{}: {} applied",
            store.location(),
            cista_types::words::count(applied.len(), "migration", "migrations")
        );
    }
    Ok(())
}
