//! `scimshift demo`: the migration story on the built-in twin.

use crate::cli::DemoArgs;
use crate::context::Context;
use crate::error::{Error, Result};

pub async fn run(_ctx: &Context, _args: &DemoArgs) -> Result<i32> {
    Err(Error::internal("demo is not built yet"))
}
