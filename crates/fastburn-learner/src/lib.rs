//! fastburn-learner
