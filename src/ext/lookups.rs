//! Every lookup at once: the [`Catalogue`] of what exported events refer to,
//! for mapping ids to names.
//!
//! ```no_run
//! # async fn run() -> userpilot_appex::Result<()> {
//! use userpilot_appex::Client;
//!
//! let client = Client::from_env()?;
//! let catalogue = client.catalogue().await?;
//! // An interaction event's `event_name` is `{entity_type}:{entity_id}:{status}`.
//! println!("{:?}", catalogue.interaction_title("checklist:2:SEEN"));
//! println!("{:?}", catalogue.flow_title(123));
//! # Ok(()) }
//! ```

use futures::{StreamExt, TryStreamExt, stream};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    Client,
    error::Result,
    models::{self, LookupKind, lookup_table},
};

/// How many lookups [`Client::catalogue`] fetches at a time.
pub const DEFAULT_CATALOGUE_CONCURRENCY: usize = 4;

/// An item of a lookup that events refer to by id: its id and the name to
/// show for it.
pub trait Named {
    /// The item's id, when sent.
    fn id(&self) -> Option<i64>;
    /// The name to show, when sent.
    fn name(&self) -> Option<&str>;
}

macro_rules! named {
    ($($ty:ty => |$item:ident| $name:expr;)*) => {
        $(
            impl Named for $ty {
                fn id(&self) -> Option<i64> {
                    self.id
                }
                fn name(&self) -> Option<&str> {
                    let $item = self;
                    $name
                }
            }
        )*
    };
}

named! {
    models::Property => |p| p.display_name.as_deref().or(p.key.as_deref());
    models::Segment => |s| s.title.as_deref();
    models::KeyedItem => |k| k.display_name.as_deref().or(k.key.as_deref());
    models::EventProperty => |p| p.display_name.as_deref().or(p.key.as_deref());
    models::Experience => |e| e.title.as_deref();
    models::Embed => |e| e.title.as_deref();
    models::Survey => |s| s.title.as_deref();
    models::Checklist => |c| c.name();
}

/// The name of the item with this id: a linear search.
fn name_of<T: Named>(items: &[T], id: i64) -> Option<&str> {
    items
        .iter()
        .find(|item| item.id() == Some(id))
        .and_then(Named::name)
}

/// Declares [`Catalogue`], [`LookupItems`] and [`Client::lookup`] from the
/// lookup table's rows.
macro_rules! catalogue {
    ($(
        $(#[$doc:meta])*
        $variant:ident $op:ident : $model:ident [$($paging:tt)*] [$($helper:ident $($entity:literal)*)?];
    )*) => {
        /// Every lookup of an environment, fetched by [`Client::catalogue`];
        /// the paginated ones walked to the end.
        ///
        /// It serializes to JSON (and reads back) for caching between runs.
        ///
        /// The id-to-name helpers search linearly: fine for the tens to
        /// hundreds of items an environment has. Build a `HashMap` from the
        /// lists when labelling many events against a large catalogue.
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
        #[serde(default)]
        #[non_exhaustive]
        pub struct Catalogue {
            $(
                #[doc = concat!("`lookups/", stringify!($op), "`, every item.")]
                pub $op: Vec<models::$model>,
            )*
        }

        /// Every item of one lookup, typed: what [`Client::lookup`] returns.
        #[derive(Clone, Debug, PartialEq)]
        #[non_exhaustive]
        pub enum LookupItems {
            $(
                #[doc = concat!("`lookups/", stringify!($op), "`.")]
                $variant(Vec<models::$model>),
            )*
        }

        impl LookupItems {
            /// The lookup these items came from.
            pub fn kind(&self) -> LookupKind {
                match self {
                    $( LookupItems::$variant(_) => LookupKind::$variant, )*
                }
            }

            /// How many items there are.
            pub fn len(&self) -> usize {
                match self {
                    $( LookupItems::$variant(items) => items.len(), )*
                }
            }

            /// `true` when the lookup has no items.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// The items as JSON values (unknown fields kept), e.g. to print.
            pub fn to_json(&self) -> serde_json::Result<Vec<Value>> {
                match self {
                    $( LookupItems::$variant(items) => items.iter().map(serde_json::to_value).collect(), )*
                }
            }
        }

        impl Catalogue {
            /// Stores one lookup's items in their field.
            pub fn set(&mut self, items: LookupItems) {
                match items {
                    $( LookupItems::$variant(items) => self.$op = items, )*
                }
            }

            $($(
                #[doc = concat!("The name of the item of `lookups/", stringify!($op), "` with this id.")]
                pub fn $helper(&self, id: i64) -> Option<&str> {
                    name_of(&self.$op, id)
                }
            )?)*

            /// The name of an entity named by an interaction event's entity
            /// type (`flow`/`experience`, `banner`, `spotlight`,
            /// `embed`/`card`, `survey`, `checklist`, `segment`,
            /// `resource_center_module`; case-insensitive, plural accepted)
            /// and id. `None` for an unknown type or id.
            pub fn title_for(&self, entity_type: &str, id: i64) -> Option<&str> {
                let kind = entity_type.trim().to_ascii_lowercase();
                let kind = kind.strip_suffix('s').unwrap_or(&kind);
                match kind {
                    $($( $( $entity => self.$helper(id), )* )?)*
                    _ => None,
                }
            }
        }

        impl Client {
            /// Every item of one lookup (every page of a paginated one).
            pub async fn lookup(&self, kind: LookupKind) -> Result<LookupItems> {
                match kind {
                    $( LookupKind::$variant => fetch_all!(self, $op [$($paging)*]).map(LookupItems::$variant), )*
                }
            }
        }
    };
}

/// Every item of one lookup row: one request, or a walk of every page.
macro_rules! fetch_all {
    ($client:ident, $op:ident [plain]) => {
        $client.$op().await
    };
    ($client:ident, $op:ident [paged $page_model:ident $page:ident $paginator:ident $stream:ident]) => {
        $client.$paginator().items().try_collect().await
    };
}

lookup_table!(catalogue);

impl Catalogue {
    /// The title of the entity an interaction event's `event_name`
    /// (`{entity_type}:{entity_id}:{status}`, e.g. `checklist:2:SEEN`) refers
    /// to. `None` if the name has another shape or the entity is unknown.
    pub fn interaction_title(&self, event_name: &str) -> Option<&str> {
        let mut parts = event_name.splitn(3, ':');
        let kind = parts.next()?;
        let id = parts.next()?.trim().parse().ok()?;
        self.title_for(kind, id)
    }
}

impl Client {
    /// Fetches every lookup, at most [`DEFAULT_CATALOGUE_CONCURRENCY`]
    /// requests at a time, walking the paginated ones to their end.
    ///
    /// Fails with the first error any lookup returns (the others are then
    /// cancelled); a partial catalogue is never returned.
    pub async fn catalogue(&self) -> Result<Catalogue> {
        self.catalogue_with_concurrency(DEFAULT_CATALOGUE_CONCURRENCY)
            .await
    }

    /// Like [`Client::catalogue`], with at most `concurrency` requests in
    /// flight (`0` reads as `1`).
    pub async fn catalogue_with_concurrency(&self, concurrency: usize) -> Result<Catalogue> {
        let fetched: Vec<LookupItems> = stream::iter(LookupKind::ALL.iter().copied())
            .map(|kind| self.lookup(kind))
            .buffer_unordered(concurrency.max(1))
            .try_collect()
            .await?;
        let mut catalogue = Catalogue::default();
        for items in fetched {
            catalogue.set(items);
        }
        Ok(catalogue)
    }
}
