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

use futures::{
    StreamExt, TryStreamExt,
    future::BoxFuture,
    stream::{self},
};
use serde::{Deserialize, Serialize};

use crate::{
    Client,
    error::Result,
    models::{
        Banner, Checklist, CompanyProperty, Embed, EventProperty, FeatureEvent, Flow,
        ResourceCenterModule, Segment, Spotlight, Survey, UserProperty,
    },
};

/// How many lookups [`Client::catalogue`] fetches at a time.
pub const DEFAULT_CATALOGUE_CONCURRENCY: usize = 4;

/// Every lookup of an environment, fetched by [`Client::catalogue`]; the two
/// paginated ones (`segments`, `events_properties`) walked to the end.
///
/// It serializes to JSON (and reads back) for caching between runs.
///
/// The `*_title` helpers map an id to a name by a linear search: fine for
/// the tens to hundreds of items an environment has. Build a `HashMap` from
/// the lists when labelling many events against a large catalogue.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Catalogue {
    /// `lookups/user_properties`.
    pub user_properties: Vec<UserProperty>,
    /// `lookups/company_properties`.
    pub company_properties: Vec<CompanyProperty>,
    /// `lookups/segments`, every page.
    pub segments: Vec<Segment>,
    /// `lookups/features_events`.
    pub features_events: Vec<FeatureEvent>,
    /// `lookups/events_properties`, every page.
    pub events_properties: Vec<EventProperty>,
    /// `lookups/flows`.
    pub flows: Vec<Flow>,
    /// `lookups/banners`.
    pub banners: Vec<Banner>,
    /// `lookups/embeds`.
    pub embeds: Vec<Embed>,
    /// `lookups/spotlights`.
    pub spotlights: Vec<Spotlight>,
    /// `lookups/surveys`, with their modules.
    pub surveys: Vec<Survey>,
    /// `lookups/resource_center_modules`.
    pub resource_center_modules: Vec<ResourceCenterModule>,
    /// `lookups/checklists`, with their tasks.
    pub checklists: Vec<Checklist>,
}

impl Catalogue {
    /// The title of the flow with this id.
    pub fn flow_title(&self, id: i64) -> Option<&str> {
        title_of(&self.flows, id, |f| f.id, |f| f.title.as_deref())
    }

    /// The title of the banner with this id.
    pub fn banner_title(&self, id: i64) -> Option<&str> {
        title_of(&self.banners, id, |b| b.id, |b| b.title.as_deref())
    }

    /// The title of the spotlight with this id.
    pub fn spotlight_title(&self, id: i64) -> Option<&str> {
        title_of(&self.spotlights, id, |s| s.id, |s| s.title.as_deref())
    }

    /// The title of the embed (banner or card) with this id.
    pub fn embed_title(&self, id: i64) -> Option<&str> {
        title_of(&self.embeds, id, |e| e.id, |e| e.title.as_deref())
    }

    /// The title of the survey with this id.
    pub fn survey_title(&self, id: i64) -> Option<&str> {
        title_of(&self.surveys, id, |s| s.id, |s| s.title.as_deref())
    }

    /// The title of the segment with this id.
    pub fn segment_title(&self, id: i64) -> Option<&str> {
        title_of(&self.segments, id, |s| s.id, |s| s.title.as_deref())
    }

    /// The name of the checklist with this id ([`Checklist::name`]).
    pub fn checklist_name(&self, id: i64) -> Option<&str> {
        title_of(&self.checklists, id, |c| c.id, Checklist::name)
    }

    /// The display name of the feature with this id (a `track_feature`
    /// event's `event_name`).
    pub fn feature_name(&self, id: i64) -> Option<&str> {
        title_of(
            &self.features_events,
            id,
            |f| f.id,
            |f| f.display_name.as_deref().or(f.key.as_deref()),
        )
    }

    /// The display name of the resource center module with this id.
    pub fn resource_center_module_name(&self, id: i64) -> Option<&str> {
        title_of(
            &self.resource_center_modules,
            id,
            |m| m.id,
            |m| m.display_name.as_deref().or(m.key.as_deref()),
        )
    }

    /// The title of an entity named by an interaction event's entity type
    /// (`flow`, `banner`, `spotlight`, `embed`/`card`, `survey`,
    /// `checklist`, `segment`, `resource_center_module`; case-insensitive,
    /// plural accepted) and id. `None` for an unknown type or id.
    pub fn title_for(&self, entity_type: &str, id: i64) -> Option<&str> {
        let kind = entity_type.trim().to_ascii_lowercase();
        let kind = kind.strip_suffix('s').unwrap_or(&kind);
        match kind {
            "flow" | "experience" => self.flow_title(id),
            "banner" => self.banner_title(id),
            "spotlight" => self.spotlight_title(id),
            "embed" | "card" => self.embed_title(id),
            "survey" => self.survey_title(id),
            "checklist" => self.checklist_name(id),
            "segment" => self.segment_title(id),
            "resource_center_module" => self.resource_center_module_name(id),
            _ => None,
        }
    }

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

fn title_of<'a, T>(
    items: &'a [T],
    id: i64,
    id_of: impl Fn(&T) -> Option<i64>,
    title: impl Fn(&'a T) -> Option<&'a str>,
) -> Option<&'a str> {
    items
        .iter()
        .find(|item| id_of(item) == Some(id))
        .and_then(title)
}

/// One fetched lookup, on its way into the [`Catalogue`].
enum Part {
    UserProperties(Vec<UserProperty>),
    CompanyProperties(Vec<CompanyProperty>),
    Segments(Vec<Segment>),
    FeaturesEvents(Vec<FeatureEvent>),
    EventsProperties(Vec<EventProperty>),
    Flows(Vec<Flow>),
    Banners(Vec<Banner>),
    Embeds(Vec<Embed>),
    Spotlights(Vec<Spotlight>),
    Surveys(Vec<Survey>),
    ResourceCenterModules(Vec<ResourceCenterModule>),
    Checklists(Vec<Checklist>),
}

impl Client {
    /// Fetches every lookup (12 lists), at most
    /// [`DEFAULT_CATALOGUE_CONCURRENCY`] requests at a time, walking the
    /// paginated ones to their end.
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
        macro_rules! plain {
            ($method:ident, $part:ident) => {{
                let client = self.clone();
                Box::pin(async move { client.$method().await.map(Part::$part) })
                    as BoxFuture<'static, Result<Part>>
            }};
        }
        macro_rules! paged {
            ($paginator:ident, $part:ident) => {{
                let client = self.clone();
                Box::pin(async move {
                    client
                        .$paginator()
                        .items()
                        .try_collect()
                        .await
                        .map(Part::$part)
                }) as BoxFuture<'static, Result<Part>>
            }};
        }
        let jobs = vec![
            plain!(user_properties, UserProperties),
            plain!(company_properties, CompanyProperties),
            paged!(segments_paginator, Segments),
            plain!(features_events, FeaturesEvents),
            paged!(events_properties_paginator, EventsProperties),
            plain!(flows, Flows),
            plain!(banners, Banners),
            plain!(embeds, Embeds),
            plain!(spotlights, Spotlights),
            plain!(surveys, Surveys),
            plain!(resource_center_modules, ResourceCenterModules),
            plain!(checklists, Checklists),
        ];
        let parts: Vec<Part> = stream::iter(jobs)
            .buffer_unordered(concurrency.max(1))
            .try_collect()
            .await?;
        let mut catalogue = Catalogue::default();
        for part in parts {
            match part {
                Part::UserProperties(v) => catalogue.user_properties = v,
                Part::CompanyProperties(v) => catalogue.company_properties = v,
                Part::Segments(v) => catalogue.segments = v,
                Part::FeaturesEvents(v) => catalogue.features_events = v,
                Part::EventsProperties(v) => catalogue.events_properties = v,
                Part::Flows(v) => catalogue.flows = v,
                Part::Banners(v) => catalogue.banners = v,
                Part::Embeds(v) => catalogue.embeds = v,
                Part::Spotlights(v) => catalogue.spotlights = v,
                Part::Surveys(v) => catalogue.surveys = v,
                Part::ResourceCenterModules(v) => catalogue.resource_center_modules = v,
                Part::Checklists(v) => catalogue.checklists = v,
            }
        }
        Ok(catalogue)
    }
}
