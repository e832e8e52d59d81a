//! Column and key shapes shared by the migrations, so every table spells them alike.

use sea_orm_migration::prelude::*;

pub(crate) fn timestamp(name: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

pub(crate) fn timestamp_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

/// A plain (not unique) index `name` on `table`'s `columns`, in that order.
pub(crate) fn index(
    name: &str,
    table: &'static str,
    columns: &[&'static str],
) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(*column);
    }
    index.to_owned()
}

/// Makes each plain index of `indexes`: (name, table, columns), in order.
pub(crate) async fn create_indexes(
    manager: &SchemaManager<'_>,
    indexes: &[(&str, &'static str, &[&'static str])],
) -> Result<(), DbErr> {
    for (name, table, columns) in indexes {
        manager.create_index(index(name, table, columns)).await?;
    }
    Ok(())
}

pub(crate) fn fk(
    name: &str,
    from: (&'static str, &'static str),
    to: (&'static str, &'static str),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

/// A random 63-bit primary key named `id`.
pub(crate) fn random_id() -> ColumnDef {
    ColumnDef::new("id")
        .big_integer()
        .not_null()
        .primary_key()
        .to_owned()
}

pub(crate) fn big(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().to_owned()
}

pub(crate) fn text(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).text().not_null().to_owned()
}

pub(crate) fn blob(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).blob().not_null().to_owned()
}
