//! The error body Userpilot sends with 4xx answers.

use super::lenient::lenient_model;

lenient_model! {
    /// The body of an error answer: `{"errors": [...]}`.
    ///
    /// Decoded leniently (see [`crate::models`]): `null` errors read as empty and
    /// unknown fields are kept in [`extra`](Self::extra).
    pub struct ErrorResponse {
        /// The individual errors the server reported.
        errors: Vec<ErrorDetail> as list,
    }
}

lenient_model! {
    /// One error reported by the server.
    pub struct ErrorDetail {
        /// Detailed error information.
        details: Option<String>,
        /// Short error code or label.
        error: Option<String>,
        /// Error code for programmatic handling.
        error_code: Option<String>,
        /// Human-readable error message.
        message: Option<String>,
    }
}

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
