//! The lookup table's macro, [`LookupKind`] (the name of one lookup) and
//! the paginated lookups' page types.
//!
//! The table itself is declared once, in the spec crate
//! (`userpilot_appex_spec::lookups::LOOKUPS`: path, item model, plain or
//! paginated, the `Catalogue` helper); `build.rs` turns it into the
//! `lookup_table!` macro included here, and derives the repairs' hoists
//! (hence progenitor's replacements) from the same rows. Each row carries
//! the lookup's [`LookupKind`] variant, its operation (also its path segment
//! under `lookups/`), its item model, whether it is paginated (with its page
//! type and the names of its page, paginator and stream methods), and, for
//! lookups events refer to, the `Catalogue` helper that maps an id to a name
//! with the entity types interaction events use for it.
//!
//! Everything per lookup comes from these rows: the typed `Client` methods
//! (`client/ops.rs`), the pagination shims (`ext/pagination.rs`), the
//! `Catalogue` fields, fetch and helpers (`ext/lookups.rs`), the page types
//! (below), the CLI's kinds, the simulator's routes, and the drift guard's
//! check that every lookup the spec has is covered. Adding a lookup is one
//! row in the spec crate and its model.

// `lookup_table!`: calls `$then!` with the table's rows. `build.rs` writes
// it from `userpilot_appex_spec::lookups::LOOKUPS`; row grammar:
// `#[doc] Variant operation: Model [plain] [names];` or
// `[paged PageModel page_method paginator_method stream_method]`, where
// `names` is empty or `helper "entity" ...`.
include!(concat!(env!("OUT_DIR"), "/lookup_table.rs"));

pub(crate) use lookup_table;

/// Declares [`LookupKind`] from the table's rows.
macro_rules! declare_lookup_kind {
    ($(
        $(#[$doc:meta])*
        $variant:ident $op:ident : $model:ident [$($paging:tt)*] [$($names:tt)*];
    )*) => {
        /// One lookup of the API (`GET .../lookups/<name>`).
        ///
        /// ```
        /// use userpilot_appex::models::LookupKind;
        ///
        /// let kind: LookupKind = "events-properties".parse()?;
        /// assert_eq!(kind, LookupKind::EventsProperties);
        /// assert_eq!(kind.name(), "events_properties");
        /// assert!(kind.is_paginated());
        /// assert_eq!(kind.path(), "/api/v1/analytics/exports/lookups/events_properties");
        /// # Ok::<(), userpilot_appex::models::UnknownLookup>(())
        /// ```
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum LookupKind {
            $( $(#[$doc])* $variant, )*
        }

        impl LookupKind {
            /// Every lookup, in the table's order.
            pub const ALL: &'static [LookupKind] = &[$(LookupKind::$variant),*];

            /// The operation's name, which is also its path segment
            /// (`user_properties`).
            pub fn name(self) -> &'static str {
                match self {
                    $( LookupKind::$variant => stringify!($op), )*
                }
            }

            /// The request path (`/api/v1/analytics/exports/lookups/<name>`).
            pub fn path(self) -> &'static str {
                match self {
                    $( LookupKind::$variant => concat!("/api/v1/analytics/exports/lookups/", stringify!($op)), )*
                }
            }

            /// Whether the lookup pages through `after_cursor`.
            pub fn is_paginated(self) -> bool {
                match self {
                    $( LookupKind::$variant => lookup_table_is_paged!([$($paging)*]), )*
                }
            }

            /// The lookup with this name (`user_properties`; `-` reads as `_`).
            pub fn from_name(name: &str) -> Option<LookupKind> {
                let name = name.trim().replace('-', "_");
                LookupKind::ALL.iter().copied().find(|k| k.name() == name)
            }
        }
    };
}

/// `true` for a `[paged ...]` row.
macro_rules! lookup_table_is_paged {
    ([plain]) => {
        false
    };
    ([paged $($methods:ident)*]) => {
        true
    };
}

lookup_table!(declare_lookup_kind);

impl std::fmt::Display for LookupKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a lookup of the API.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no lookup named {0:?}")]
pub struct UnknownLookup(pub String);

impl std::str::FromStr for LookupKind {
    type Err = UnknownLookup;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LookupKind::from_name(s).ok_or_else(|| UnknownLookup(s.to_string()))
    }
}
