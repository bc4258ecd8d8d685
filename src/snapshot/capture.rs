//! Reads the gallery app and the target and writes a snapshot file.

use crate::cli::SnapshotArgs;
use crate::context::Context;
use crate::error::{Error, Result};

pub async fn run(_ctx: &Context, _args: &SnapshotArgs) -> Result<i32> {
    Err(Error::internal("snapshot is not built yet"))
}
