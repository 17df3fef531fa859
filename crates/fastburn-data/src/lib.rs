//! fastburn-data
