//! fastburn
