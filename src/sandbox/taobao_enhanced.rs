//! Sandbox module for taobao-enhanced. STUB: being implemented (issue 3).

use super::Sandbox;
use axum::Router;
use std::sync::Arc;

/// The platform's sandbox state.
pub struct State {}

impl State {
    pub fn new(_o: &super::SandboxOptions) -> State {
        State {}
    }
}

/// The shop section of the sandbox config.
pub fn config_section(_base_url: &str) -> String {
    String::new()
}

pub fn routes(_sb: Arc<Sandbox>) -> Router {
    Router::new()
}
