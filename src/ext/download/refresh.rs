//! Fresh presigned URLs when the old ones are refused: the job is fetched
//! again once for all the files refused with URLs of the same generation.

use std::sync::Arc;

use crate::{Client, error::Result, models::PresignedUrl};

/// One set of presigned URLs for the job's files, and how many times the
/// job was fetched again to get it (0 for the URLs the download started
/// with).
#[derive(Clone, Debug)]
pub(crate) struct UrlGeneration {
    pub number: u64,
    pub urls: Arc<Vec<PresignedUrl>>,
}

/// Hands out newer [`UrlGeneration`]s.
pub(crate) struct UrlRefresher {
    client: Client,
    job_id: Option<String>,
    current: tokio::sync::Mutex<UrlGeneration>,
}

impl UrlRefresher {
    pub fn new(client: Client, job_id: &str, urls: Vec<PresignedUrl>) -> Self {
        UrlRefresher {
            client,
            job_id: (!job_id.trim().is_empty()).then(|| job_id.to_string()),
            current: tokio::sync::Mutex::new(UrlGeneration {
                number: 0,
                urls: Arc::new(urls),
            }),
        }
    }

    /// URLs newer than generation `seen`: fetched now unless another file
    /// already did. `None` if the job has no id to fetch it by.
    pub async fn newer_than(&self, seen: u64) -> Result<Option<UrlGeneration>> {
        let Some(job_id) = &self.job_id else {
            return Ok(None);
        };
        let mut current = self.current.lock().await;
        if current.number == seen {
            tracing::info!(job_id = %job_id, "presigned URL refused; fetching the job for fresh URLs");
            let job = self.client.get_job(job_id).await?;
            *current = UrlGeneration {
                number: seen + 1,
                urls: Arc::new(job.presigned_urls),
            };
        }
        Ok(Some(current.clone()))
    }
}
