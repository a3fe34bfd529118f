//! The lookup table: every lookup of the API, declared once.
//!
//! Each row names the lookup's path (after [`API_PREFIX`]), its item
//! model in `crate::models`, whether it pages through `after_cursor`, a
//! line of documentation and, for lookups events refer to, the
//! `Catalogue` helper that maps an id to a name with the entity types
//! interaction events use for it. The rest is derived: the operation id
//! (the path's last segment, as [`repairs::operation_id_for`] names it),
//! the `LookupKind` variant, the page methods and the page type.
//!
//! From these rows come the repairs' hoists of each lookup's inline
//! schemas ([`repairs::hoists`]), hence the models progenitor is told to
//! use; and the `lookup_table!` macro `build.rs` writes for the crate
//! ([`render_macro`]), from which the typed `Client` methods, the
//! pagination shims, the `Catalogue`, the CLI's kinds, the simulator's
//! routes and the page types are expanded. Adding a lookup is one row here
//! and its model.
//!
//! [`API_PREFIX`]: crate::repairs::API_PREFIX
//! [`repairs::operation_id_for`]: crate::repairs::operation_id_for
//! [`repairs::hoists`]: crate::repairs::hoists

use std::fmt::Write as _;

/// How a lookup returns its items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paging {
    /// Every item in one answer (a JSON array).
    Plain,
    /// Pages of `{data, metadata}`, the next one through `after_cursor`.
    Paged,
}

/// One row of the lookup table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// The request path after the API prefix (`/lookups/flows`).
    pub path: &'static str,
    /// The item model, `crate::models::<model>`.
    pub model: &'static str,
    /// Plain or paginated.
    pub paging: Paging,
    /// One line of documentation (the `LookupKind` variant's).
    pub doc: &'static str,
    /// The `Catalogue` method that maps an item's id to its name, and the
    /// entity types of interaction events that name this lookup's items.
    pub names: Option<(&'static str, &'static [&'static str])>,
}

use Paging::{Paged, Plain};

const fn lookup(
    path: &'static str,
    model: &'static str,
    paging: Paging,
    doc: &'static str,
    names: Option<(&'static str, &'static [&'static str])>,
) -> Lookup {
    Lookup {
        path,
        model,
        paging,
        doc,
        names,
    }
}

/// Every lookup of the API, in the order the crate lists them.
#[rustfmt::skip]
pub const LOOKUPS: &[Lookup] = &[
    lookup("/lookups/user_properties", "UserProperty", Plain, "User properties available for export.", None),
    lookup("/lookups/company_properties", "CompanyProperty", Plain, "Company properties available for export.", None),
    lookup("/lookups/segments", "Segment", Paged, "Segments (paginated).", Some(("segment_title", &["segment"]))),
    lookup("/lookups/features_events", "FeatureEvent", Plain, "Features and events available for export.", Some(("feature_name", &[]))),
    lookup("/lookups/events_properties", "EventProperty", Paged, "Properties of trackable events (paginated).", None),
    lookup("/lookups/flows", "Flow", Plain, "Flows (experiences).", Some(("flow_title", &["flow", "experience"]))),
    lookup("/lookups/banners", "Banner", Plain, "Banners.", Some(("banner_title", &["banner"]))),
    lookup("/lookups/embeds", "Embed", Plain, "Embeds (banners and cards).", Some(("embed_title", &["embed", "card"]))),
    lookup("/lookups/spotlights", "Spotlight", Plain, "Spotlights.", Some(("spotlight_title", &["spotlight"]))),
    lookup("/lookups/surveys", "Survey", Plain, "Surveys with their modules.", Some(("survey_title", &["survey"]))),
    lookup("/lookups/resource_center_modules", "ResourceCenterModule", Plain, "Resource center modules.", Some(("resource_center_module_name", &["resource_center_module"]))),
    lookup("/lookups/checklists", "Checklist", Plain, "Checklists with their tasks.", Some(("checklist_name", &["checklist"]))),
];

impl Lookup {
    /// The operation's name, which is also the path's last segment
    /// (`flows`).
    pub fn name(&self) -> &'static str {
        self.path.rsplit('/').next().unwrap_or(self.path)
    }

    /// The `LookupKind` variant (`ResourceCenterModules`).
    pub fn variant(&self) -> String {
        self.name()
            .split('_')
            .map(|word| {
                let mut chars = word.chars();
                chars.next().map_or(String::new(), |first| {
                    first.to_ascii_uppercase().to_string() + chars.as_str()
                })
            })
            .collect()
    }

    /// The page type of a paginated lookup (`SegmentPage`).
    pub fn page_model(&self) -> Option<String> {
        (self.paging == Paged).then(|| format!("{}Page", self.model))
    }
}

/// The `lookup_table!` macro for the crate (`build.rs` writes it to
/// `OUT_DIR/lookup_table.rs`): `lookup_table!(then)` calls `then!` with one
/// row per lookup.
///
/// Row grammar: `#[doc] Variant operation: Model [plain] [names];` or
/// `[paged PageModel page_method paginator_method stream_method]`; `names`
/// is empty or `helper "entity" ...`.
pub fn render_macro() -> String {
    let mut rows = String::new();
    for lookup in LOOKUPS {
        let name = lookup.name();
        let paging = match lookup.page_model() {
            None => "plain".to_string(),
            Some(page) => format!("paged {page} {name}_page {name}_paginator {name}_stream"),
        };
        let names = lookup.names.map_or(String::new(), |(helper, entities)| {
            let mut names = helper.to_string();
            for entity in entities {
                let _ = write!(names, " {entity:?}");
            }
            names
        });
        let _ = writeln!(
            rows,
            "            #[doc = {doc:?}]\n            {variant} {name}: {model} [{paging}] [{names}];",
            doc = lookup.doc,
            variant = lookup.variant(),
            model = lookup.model,
        );
    }
    format!(
        "// Generated by build.rs from userpilot_appex_spec::lookups::LOOKUPS: do not edit.\n\
         /// Calls `$then!` with the rows of the lookup table\n\
         /// (`userpilot_appex_spec::lookups::LOOKUPS`).\n\
         ///\n\
         /// Row grammar: `#[doc] Variant operation: Model [plain] [names];` or\n\
         /// `[paged PageModel page_method paginator_method stream_method]`;\n\
         /// `names` is empty or `helper \"entity\" ...`.\n\
         macro_rules! lookup_table {{\n    ($then:ident) => {{\n        $then! {{\n{rows}        }}\n    }};\n}}\n"
    )
}
