//! One typed method per API operation: the generated call, with errors
//! mapped to [`Error`](crate::Error) and values to the models.

use super::{Client, operation_gate};
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
        operation_gate(
            "trigger_export",
            self.raw().trigger_export().body(request.clone()).send(),
        )
        .await
    }

    /// `GET /api/v1/analytics/exports/jobs/`: every job the environment still keeps (3 days).
    pub async fn list_jobs(&self) -> Result<Vec<ExportJobSummary>> {
        operation_gate("list_jobs", self.raw().list_jobs().send()).await
    }

    /// `GET /api/v1/analytics/exports/jobs/{job_id}`: one job's state and files.
    pub async fn get_job(&self, job_id: &str) -> Result<ExportJob> {
        if job_id.trim().is_empty() {
            return Err(Error::InvalidInput("job id is empty".into()));
        }
        operation_gate("get_job", self.raw().get_job().job_id(job_id).send()).await
    }
}

/// The operations typed above, by operation name; the lookups' typed
/// methods come from the lookup table ([`LookupKind`](crate::models::LookupKind)).
/// The drift guard checks the spec's operations against both.
#[doc(hidden)]
pub const JOB_OPERATIONS: [&str; 3] = ["trigger_export", "list_jobs", "get_job"];

/// One typed method per lookup row: `Vec<Model>` for a plain lookup, one
/// [`Page`](models::Page) for a paginated one.
macro_rules! typed_lookups {
    ($(
        $(#[$doc:meta])*
        $variant:ident $op:ident : $model:ident [$($paging:tt)*] [$($names:tt)*];
    )*) => {
        $( typed_lookup!($(#[$doc])* $op $model [$($paging)*]); )*
    };
}

macro_rules! typed_lookup {
    ($(#[$doc:meta])* $op:ident $model:ident [plain]) => {
        impl Client {
            $(#[$doc])*
            #[doc = concat!("\n\n`GET /api/v1/analytics/exports/lookups/", stringify!($op), "`.")]
            pub async fn $op(&self) -> Result<Vec<models::$model>> {
                operation_gate(stringify!($op), self.raw().$op().send()).await
            }
        }
    };
    ($(#[$doc:meta])* $op:ident $model:ident [paged $page_model:ident $page:ident $paginator:ident $stream:ident]) => {
        impl Client {
            $(#[$doc])*
            #[doc = concat!(
                "\n\nOne page, starting after `after_cursor` (the first page if `None`): `GET /api/v1/analytics/exports/lookups/",
                stringify!($op),
                "`. To walk every page, see [`Client::", stringify!($paginator), "`]."
            )]
            pub async fn $page(&self, after_cursor: Option<&str>) -> Result<models::Page<models::$model>> {
                let mut request = self.raw().$op();
                if let Some(cursor) = after_cursor {
                    request = request.after_cursor(cursor);
                }
                operation_gate(stringify!($op), request.send()).await
            }
        }
    };
}

models::lookup_table!(typed_lookups);
