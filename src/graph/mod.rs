//! Microsoft Graph client: auth, paging, `$batch`, throttling, typed errors.

pub mod cloud;
