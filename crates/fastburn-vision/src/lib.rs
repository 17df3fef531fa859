//! fastburn-vision
