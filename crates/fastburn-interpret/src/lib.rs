//! fastburn-interpret
