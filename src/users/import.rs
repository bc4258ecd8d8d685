//! `users import`: validate, plan, confirm, apply, report.

use crate::cli::UsersImportArgs;
use crate::context::Context;
use crate::error::{Error, Result};

pub async fn run(_ctx: &Context, _args: &UsersImportArgs) -> Result<i32> {
    Err(Error::internal("users import is not built yet"))
}
