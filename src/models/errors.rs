//! The error body Userpilot sends with 4xx answers.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use super::lenient::lenient_model;

/// The body of an error answer: `{"errors": [...]}`.
///
/// Decoded leniently (see [`crate::models`]): `null` errors read as empty and
/// unknown fields are kept in [`extra`](Self::extra).
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct ErrorResponse {
    /// The individual errors the server reported.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorDetail>,
    /// Fields this crate does not know yet, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One error reported by the server.
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct ErrorDetail {
    /// Detailed error information.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Short error code or label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Error code for programmatic handling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Human-readable error message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Fields this crate does not know yet, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

lenient_model!(ErrorResponse {
    errors: "errors" as list,
});

lenient_model!(ErrorDetail {
    details: "details",
    error: "error",
    error_code: "error_code",
    message: "message",
});

impl std::fmt::Display for ErrorDetail {
    /// `error_code: message (details)`, with whatever parts are present.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = self.error_code.as_deref().or(self.error.as_deref());
        let text = self.message.as_deref().or(self.details.as_deref());
        match (code, text) {
            (Some(c), Some(t)) => write!(f, "{c}: {t}")?,
            (Some(c), None) => f.write_str(c)?,
            (None, Some(t)) => f.write_str(t)?,
            (None, None) => f.write_str("(no message)")?,
        }
        if let (Some(d), Some(m)) = (&self.details, &self.message)
            && d != m
        {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}
