//! `scimshift twin serve`: run the twin until SIGINT/SIGTERM.

use crate::cli::TwinServeArgs;
use crate::context::Context;
use crate::error::{Error, Result};

pub async fn run(_ctx: &Context, _args: &TwinServeArgs) -> Result<i32> {
    Err(Error::internal("twin serve is not built yet"))
}
