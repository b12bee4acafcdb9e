//! Console: clients (being built).

use axum::Router;

use crate::state::AppState;

/// Routes of this section.
pub fn router() -> Router<AppState> {
    Router::new()
}
