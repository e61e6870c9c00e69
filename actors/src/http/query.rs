//! What several handlers read from a query string the same way.

use switchboard_engine::numbering::Aor;

use super::error::ApiError;
use crate::shared::Shared;

/// An optional `number=` filter, canonical; 400 `bad_number` when it is no number.
pub fn number_filter(s: &Shared, number: Option<&str>) -> Result<Option<Aor>, ApiError> {
    number
        .map(|n| {
            s.plan
                .canonical(n)
                .map_err(|_| ApiError::bad_request("bad_number", "not a phone number or name"))
        })
        .transpose()
}
