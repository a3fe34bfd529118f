//! One typed method per API operation: the generated call, with errors
//! mapped to [`Error`](crate::Error) and values to the models.

use super::{Client, call};
use crate::{
    error::{Error, Result},
    generated::types,
    models::{self, ExportCreated, ExportJob, ExportJobSummary},
};

impl Client {
    /// `POST /api/v1/analytics/exports`: starts an export job.
    ///
    /// Sent once: never retried after it may have reached the server. A
    /// running export answers [`Error::Conflict`]. See
    /// [`Client::export`](crate::Client::export) for a validated builder and
    /// conflict policies.
    pub async fn trigger_export(&self, request: &types::ExportRequest) -> Result<ExportCreated> {
        call(
            "trigger_export",
            self.raw().trigger_export().body(request.clone()).send(),
        )
        .await
    }

    /// `GET /api/v1/analytics/exports/jobs/`: every job the environment still keeps (3 days).
    pub async fn list_jobs(&self) -> Result<Vec<ExportJobSummary>> {
        call("list_jobs", self.raw().list_jobs().send()).await
    }

    /// `GET /api/v1/analytics/exports/jobs/{job_id}`: one job's state and files.
    pub async fn get_job(&self, job_id: &str) -> Result<ExportJob> {
        if job_id.trim().is_empty() {
            return Err(Error::InvalidInput("job id is empty".into()));
        }
        call("get_job", self.raw().get_job().job_id(job_id).send()).await
    }
}

macro_rules! lookup {
    ($(#[$doc:meta])* $name:ident, $path:literal, $ty:ty) => {
        impl Client {
            $(#[$doc])*
            #[doc = concat!("\n\n`GET /api/v1/analytics/exports/lookups/", $path, "`.")]
            pub async fn $name(&self) -> Result<Vec<$ty>> {
                call(stringify!($name), self.raw().$name().send()).await
            }
        }
    };
}

lookup!(
    /// User properties available for export.
    user_properties, "user_properties", models::UserProperty);
lookup!(
    /// Company properties available for export.
    company_properties, "company_properties", models::CompanyProperty);
lookup!(
    /// Features and events available for export.
    features_events, "features_events", models::FeatureEvent);
lookup!(
    /// Flows (experiences).
    flows, "flows", models::Flow);
lookup!(
    /// Banners.
    banners, "banners", models::Banner);
lookup!(
    /// Embeds (banners and cards).
    embeds, "embeds", models::Embed);
lookup!(
    /// Spotlights.
    spotlights, "spotlights", models::Spotlight);
lookup!(
    /// Surveys with their modules.
    surveys, "surveys", models::Survey);
lookup!(
    /// Resource center modules.
    resource_center_modules, "resource_center_modules", models::ResourceCenterModule);
lookup!(
    /// Checklists with their tasks.
    checklists, "checklists", models::Checklist);

impl Client {
    /// One page of segments, starting after `after_cursor` (first page if `None`).
    ///
    /// `GET /api/v1/analytics/exports/lookups/segments`.
    pub async fn segments_page(&self, after_cursor: Option<&str>) -> Result<models::SegmentPage> {
        let mut request = self.raw().segments();
        if let Some(cursor) = after_cursor {
            request = request.after_cursor(cursor);
        }
        call("segments", request.send()).await
    }

    /// One page of event properties, starting after `after_cursor` (first page if `None`).
    ///
    /// `GET /api/v1/analytics/exports/lookups/events_properties`.
    pub async fn events_properties_page(
        &self,
        after_cursor: Option<&str>,
    ) -> Result<models::EventPropertyPage> {
        let mut request = self.raw().events_properties();
        if let Some(cursor) = after_cursor {
            request = request.after_cursor(cursor);
        }
        call("events_properties", request.send()).await
    }
}
