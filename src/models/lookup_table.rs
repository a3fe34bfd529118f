//! The lookup table: every lookup of the API in one place, and
//! [`LookupKind`], the name of one lookup.
//!
//! Each row names the lookup (its [`LookupKind`] variant and its operation,
//! which is also its path segment under `lookups/`), its item model, whether
//! it is paginated (with the names of its page, paginator and stream
//! methods), and, for lookups events refer to, the `Catalogue` helper that
//! maps an id to a name with the entity types interaction events use for it.
//!
//! Everything per lookup comes from these rows: the typed `Client` methods
//! (`client/ops.rs`), the pagination shims (`ext/pagination.rs`), the
//! `Catalogue` fields, fetch and helpers (`ext/lookups.rs`), the CLI's
//! kinds, the simulator's routes, and the drift guard's check that every
//! lookup the spec has is covered. Adding a lookup is one row here and its
//! model.

/// Calls `$then!` with the rows of the lookup table.
///
/// Row grammar: `doc Variant operation: Model [plain] [names];` or
/// `[paged page_method paginator_method stream_method]`; `names` is empty or
/// `helper "entity" ...`.
macro_rules! lookup_table {
    ($then:ident) => {
        $then! {
            /// User properties available for export.
            UserProperties user_properties: UserProperty [plain] [];
            /// Company properties available for export.
            CompanyProperties company_properties: CompanyProperty [plain] [];
            /// Segments (paginated).
            Segments segments: Segment
                [paged segments_page segments_paginator segments_stream]
                [segment_title "segment"];
            /// Features and events available for export.
            FeaturesEvents features_events: FeatureEvent [plain] [feature_name];
            /// Properties of trackable events (paginated).
            EventsProperties events_properties: EventProperty
                [paged events_properties_page events_properties_paginator events_properties_stream]
                [];
            /// Flows (experiences).
            Flows flows: Flow [plain] [flow_title "flow" "experience"];
            /// Banners.
            Banners banners: Banner [plain] [banner_title "banner"];
            /// Embeds (banners and cards).
            Embeds embeds: Embed [plain] [embed_title "embed" "card"];
            /// Spotlights.
            Spotlights spotlights: Spotlight [plain] [spotlight_title "spotlight"];
            /// Surveys with their modules.
            Surveys surveys: Survey [plain] [survey_title "survey"];
            /// Resource center modules.
            ResourceCenterModules resource_center_modules: ResourceCenterModule
                [plain]
                [resource_center_module_name "resource_center_module"];
            /// Checklists with their tasks.
            Checklists checklists: Checklist [plain] [checklist_name "checklist"];
        }
    };
}

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
