//! The provisioning engine: runs a job's cycle the way Entra documents it and
//! talks to the target over real HTTP SCIM, sending the requests Entra sends
//! (see ENTRA-OUTBOUND-SCIM.md). Also answers validateCredentials and
//! provisionOnDemand for the Graph handlers.

use super::Twin;
use serde_json::Value;
use std::sync::Arc;

/// Engine bookkeeping kept on the [`Twin`].
#[derive(Debug, Default)]
pub struct EngineState {}

/// Why an engine call failed, as the Graph handler should answer it.
#[derive(Debug, Clone)]
pub struct EngineError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

/// Start (or resume) a job's schedule: run a cycle in the background, then keep
/// cycling while the job is Active. Called by the `start` and `restart` handlers.
pub fn start_job(_twin: &Arc<Twin>, _sp_id: &str, _job_id: &str) {}

/// Run one full cycle now and wait for it (tests, seeding).
pub async fn run_cycle(_twin: &Arc<Twin>, _sp_id: &str, _job_id: &str) -> Result<(), EngineError> {
    Ok(())
}

/// Test a SCIM target with the given URL and token, as Test Connection does.
pub async fn validate_credentials(
    _twin: &Arc<Twin>,
    _base_url: &str,
    _token: &str,
) -> Result<(), EngineError> {
    Ok(())
}

/// Provision the given subjects now. `body` is the provisionOnDemand request
/// body; the result is the response object (`key`/`value` JSON strings).
pub async fn provision_on_demand(
    _twin: &Arc<Twin>,
    _sp_id: &str,
    _job_id: &str,
    _body: &Value,
) -> Result<Value, EngineError> {
    Ok(Value::Null)
}
