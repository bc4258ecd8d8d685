//! `snapshot diff A B`: what changed between two snapshots.

use crate::context::Context;
use crate::error::{Error, Result};
use std::path::Path;

pub fn run(_ctx: &Context, _a: &Path, _b: &Path) -> Result<i32> {
    Err(Error::internal("snapshot diff is not built yet"))
}
