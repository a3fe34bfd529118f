//! Every lookup of a [`Catalogue`] landed as a table of a dataset
//! (`lookups/<kind>.parquet`), one table per row of the lookup table, so a
//! lookup added there is landed too (cargo feature `dataset`).

use crate::{
    Result,
    dataset::{self, Destination, LookupReport},
    ext::lookups::Catalogue,
    models,
};

macro_rules! catalogue_tables {
    ($(
        $(#[$doc:meta])*
        $variant:ident $op:ident : $model:ident [$($paging:tt)*] [$($names:tt)*];
    )*) => {
        impl Catalogue {
            /// Replaces each lookup's table in `dest` with this catalogue's
            /// items, one atomic replacement per table, in the lookup
            /// table's order; `on_table` sees each table's report as it
            /// lands. The views file is not rewritten (see
            /// [`dataset::write_views`]).
            ///
            /// Errors: the first table that fails to land; the tables
            /// before it stay replaced.
            pub async fn land_tables(
                &self,
                dest: &dyn Destination,
                mut on_table: impl FnMut(&LookupReport),
            ) -> Result<Vec<LookupReport>> {
                let mut landed = Vec::new();
                $(
                    let report = dataset::land_lookup(dest, stringify!($op), &self.$op).await?;
                    on_table(&report);
                    landed.push(report);
                )*
                Ok(landed)
            }
        }
    };
}

models::lookup_table!(catalogue_tables);
