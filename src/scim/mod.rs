//! SCIM 2.0 client: discovery, list/filter/page, create/patch/delete.
