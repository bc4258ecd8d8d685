//! `users export`: stream users to CSV.

use crate::cli::UsersExportArgs;
use crate::context::Context;
use crate::error::{Error, Result};

pub async fn run(_ctx: &Context, _args: &UsersExportArgs) -> Result<i32> {
    Err(Error::internal("users export is not built yet"))
}
